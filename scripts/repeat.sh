#!/usr/bin/env bash
# Runs one test target again and again, stopping at the first failure, to show that its
# tests do not depend on the machine's speed. With --load, two busy loops keep both cores
# occupied meanwhile. The target is built once, then its binary runs N times.
#
#   scripts/repeat.sh [--runs N] [--load] TARGET [TEST_FILTER...]
#
# TARGET is a module of the integration tests (sync_faults, load, ...), a test binary of its
# own (time_zone, base_path, panic_log), or `lib` for the unit tests. A module runs whole
# unless filters are given (tests whose names hold any of them: sync_faults::killed):
#   scripts/repeat.sh --runs 20 --load sync_faults
#   scripts/repeat.sh --runs 20 --load lib rate_limit
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20
load=false
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --load) load=true; shift ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
target=$1; shift
filters=("$@")
case "$target" in
  lib) selector=(--lib) ;;
  time_zone | base_path | panic_log) selector=(--test "$target") ;;
  *)
    [ -f "tests/$target.rs" ] || { echo "no test module tests/$target.rs" >&2; exit 2; }
    selector=(--test integration)
    [ ${#filters[@]} -gt 0 ] || filters=("$target::")
    ;;
esac

binary=$(cargo test --release --features ssr "${selector[@]}" --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])' | tail -n 1) || true
[ -x "$binary" ] || { echo "could not build the $target tests: cargo test --release --features ssr ${selector[*]} says why" >&2; exit 1; }

busy=()
stop_busy() { for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_busy EXIT
if $load; then
  for _ in 1 2; do
    (while :; do :; done) &
    busy+=("$!")
  done
fi

start=$(date +%s)
for i in $(seq 1 "$runs"); do
  run_start=$(date +%s)
  if ! "$binary" "${filters[@]}" >"/tmp/verilens-repeat-$target.log" 2>&1; then
    echo "run $i of $runs FAILED (log: /tmp/verilens-repeat-$target.log)"
    tail -n 40 "/tmp/verilens-repeat-$target.log"
    exit 1
  fi
  echo "run $i of $runs passed in $(( $(date +%s) - run_start )) s"
done
echo "$runs passed, 0 failed: $target${*:+ $*}, $($load && echo "both cores loaded" || echo "unloaded"), $(( $(date +%s) - start )) s in all"
