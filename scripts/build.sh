#!/usr/bin/env bash
# Builds the release site (wasm + JS + CSS + assets into target/site) and the
# release server binary (target/release/verilens): the steps cargo-leptos runs,
# with the pinned wasm-bindgen and npm's binaryen.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

site=target/site
# Built aside, then copied over the site file by file where the bytes differ: the server
# embeds the site, and cargo rebuilds it whenever one of its files is written.
stage=target/site-build
echo "==> wasm (hydrate)"
cargo build --lib --target wasm32-unknown-unknown --no-default-features --features hydrate --profile wasm-release
rm -rf "$stage"
mkdir -p "$stage/pkg" "$site"
wasm-bindgen --target web --no-typescript --out-dir "$stage/pkg" --out-name verilens \
  target/wasm32-unknown-unknown/wasm-release/verilens.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$stage/pkg/verilens_bg.wasm" -o "$stage/pkg/verilens_bg.wasm"
cp style/main.css "$stage/pkg/verilens.css"
cp -r public/. "$stage/"
# Only the charts and components the dashboard draws: about half of the full build.
esbuild scripts/echarts-entry.js --bundle --minify --format=iife --target=es2020 --log-level=warning \
  --outfile="$stage/echarts.min.js"
# The world map's own ECharts and outlines: fetched only when a user opens the map.
esbuild scripts/echarts-map-entry.js --bundle --minify --format=iife --target=es2020 --log-level=warning \
  --outfile="$stage/echarts-map.min.js"
node scripts/world-map.js "$stage/world.json"
node scripts/precompress.js "$stage/pkg/verilens_bg.wasm" "$stage/pkg/verilens.js" "$stage/pkg/verilens.css" \
  "$stage/echarts.min.js" "$stage/echarts-map.min.js" "$stage/world.json"
(cd "$stage" && find . -type f) | while read -r file; do
  if ! cmp -s "$stage/$file" "$site/$file"; then
    mkdir -p "$(dirname "$site/$file")"
    cp "$stage/$file" "$site/$file"
  fi
done
(cd "$site" && find . -type f) | while read -r file; do
  [ -e "$stage/$file" ] || rm "$site/$file"
done

echo "==> server (ssr)"
cargo build --release --features ssr --bin verilens
