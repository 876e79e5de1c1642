#!/usr/bin/env bash
# Installs what is missing, builds, and runs the dashboard. Without Twilio
# credentials in the environment it runs on the built-in emulator (demo data).
# Extra arguments go to `verilens serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec target/release/verilens serve "$@"
