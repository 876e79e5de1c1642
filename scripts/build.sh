#!/usr/bin/env bash
# Builds the release site (wasm + JS + CSS + assets into target/site) and the
# release server binary (target/release/verilens): the steps cargo-leptos runs,
# with the pinned wasm-bindgen and npm's binaryen.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

site=target/site
echo "==> wasm (hydrate)"
cargo build --lib --target wasm32-unknown-unknown --no-default-features --features hydrate --profile wasm-release
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name verilens \
  target/wasm32-unknown-unknown/wasm-release/verilens.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  "$site/pkg/verilens_bg.wasm" -o "$site/pkg/verilens_bg.wasm"
cp style/main.css "$site/pkg/verilens.css"
cp -r public/. "$site/"
# Only the charts and components the dashboard draws: about half of the full build.
esbuild scripts/echarts-entry.js --bundle --minify --format=iife --target=es2020 --log-level=warning \
  --outfile="$site/echarts.min.js"
node scripts/precompress.js "$site/pkg/verilens_bg.wasm" "$site/pkg/verilens.js" "$site/pkg/verilens.css" \
  "$site/echarts.min.js"

echo "==> server (ssr)"
cargo build --release --features ssr --bin verilens
