#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: cargo test (with a PostgreSQL server
# and a read replica of its own for the PostgreSQL store), the Debian package,
# the official clients, then the Playwright suite in headless Debian Chromium (with nginx
# in front for the reverse-proxy walk) against the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh --for-tests
scripts/build.sh

echo "==> dependency audit (cargo audit)"
scripts/audit.sh

echo "==> a PostgreSQL server and a streaming read replica of it for the store's tests, stopped when this script ends"
pg_dir=$(mktemp -d)
replica_dir=$(mktemp -d)
trap 'scripts/postgres.sh stop "$replica_dir"; scripts/postgres.sh stop "$pg_dir"' EXIT
VERILENS_TEST_POSTGRES=$(scripts/postgres.sh start "$pg_dir")
VERILENS_TEST_POSTGRES_REPLICA=$(scripts/postgres.sh replica "$replica_dir" "$VERILENS_TEST_POSTGRES")
export VERILENS_TEST_POSTGRES VERILENS_TEST_POSTGRES_REPLICA

echo "==> cargo test"
# Release profile with the server's features: shares the build above.
cargo test --release --features ssr

echo "==> the Debian package: built, installed, started as its service would, removed"
scripts/test-deb.sh

echo "==> official Twilio helper libraries against the emulator"
scripts/test-clients.sh

echo "==> playwright"
(cd end2end && npx playwright test)
echo "==> all tests passed in $(( $(date +%s) - start )) s"
