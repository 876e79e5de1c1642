#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database with cargo-audit.
# The database is a git repository on GitHub; where GitHub cannot be reached
# (machines limited to package registries), the check says so and is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
advisories=https://github.com/rustsec/advisory-db
if ! timeout 20 git ls-remote --exit-code "$advisories" HEAD >/dev/null 2>&1; then
  echo "dependency audit skipped: the RustSec advisory database ($advisories) cannot be reached from here"
  exit 0
fi
command -v cargo-audit >/dev/null || cargo install --locked cargo-audit
# Fails on any crate with a known vulnerability; unmaintained or yanked crates are listed.
cargo audit
