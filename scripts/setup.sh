#!/usr/bin/env bash
# Installs what verilens needs to build (and, with --for-tests, to test) on a
# Debian machine with Rust (rustup) and node + npm. Idempotent and quick when
# everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen pin in Cargo.toml

step() { printf '==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v cargo >/dev/null || { echo "verilens needs Rust: https://rustup.rs" >&2; exit 1; }
command -v npm >/dev/null || { echo "verilens needs node and npm" >&2; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 10 minutes, once)"
  # Not --locked: the locked webpki-roots of this release is no longer in the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# npm ci only when package-lock.json changed since the last install.
npm_install() {
  local dir=$1 stamp=$1/node_modules/.verilens-lock
  if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
    step "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$stamp"
  fi
}
npm_install .

if [ "${1:-}" = "--for-tests" ]; then
  # Debian's packages the tests use for real: Chromium for Playwright, nginx in front of the
  # dashboard, PostgreSQL, promtool (from prometheus) to check /metrics, and what the package
  # test needs.
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  fc-list 2>/dev/null | grep -qi liberation || missing+=(fonts-liberation)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v curl >/dev/null || missing+=(curl)
  command -v ps >/dev/null || missing+=(procps)
  command -v adduser >/dev/null || [ -x /usr/sbin/adduser ] || missing+=(adduser)
  # The PostgreSQL store's tests run on a server of their own (scripts/postgres.sh).
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    # No service starts: the tests run their own nginx on loopback ports.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v promtool >/dev/null; then
    step "apt-get install prometheus (for promtool)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  npm_install end2end
fi
