#!/usr/bin/env bash
# Measures the overview page with Lighthouse (performance and accessibility), on the
# mobile profile and the desktop preset, in headless Debian Chromium, against the
# release binary (scripts/build.sh) serving its built-in demo data. Each profile runs
# N times (scores vary between runs); the table shows the median of each figure.
#
#   scripts/lighthouse.sh [--runs N] [OUT_DIR]
#
# The reports go to OUT_DIR (default target/lighthouse/) as mobile-1.json, desktop-1.json, ...
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "lighthouse: $*" >&2; exit 1; }

runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive number"; runs=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
out=${1:-target/lighthouse}

binary=target/release/verilens
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
[ -x "$binary" ] || die "$binary is missing: build it first with scripts/build.sh"
[ -x "$CHROME_PATH" ] || die "no Chromium at $CHROME_PATH (apt-get install chromium, or scripts/setup.sh --for-tests)"
command -v node >/dev/null || die "node is missing"

# Lighthouse has its own packages (tools/lighthouse): the build and the tests do not need them.
lighthouse=tools/lighthouse/node_modules/.bin/lighthouse
if [ ! -x "$lighthouse" ]; then
  echo "==> npm ci in tools/lighthouse"
  (cd tools/lighthouse && npm ci --no-audit --no-fund)
fi

tmp=$(mktemp -d)
server=
stop() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; } || true
  rm -rf "$tmp"
}
trap stop EXIT

# The demo: no Twilio credentials and no settings from the environment. Port 0 lets
# the system pick a free port, which the server prints in its URL line.
echo "==> $binary serve (demo data)"
(
  for name in $(compgen -e | grep -E '^(TWILIO_|VERILENS_|LEPTOS_)' || true); do unset "$name"; done
  exec "$binary" serve --addr 127.0.0.1:0 --db "$tmp/verilens.db"
) >"$tmp/server.log" 2>&1 &
server=$!

url=
deadline=$((SECONDS + 180))
while [ -z "$url" ]; do
  kill -0 "$server" 2>/dev/null || { cat "$tmp/server.log" >&2; die "the server stopped before it was up"; }
  [ "$SECONDS" -lt "$deadline" ] || { cat "$tmp/server.log" >&2; die "the server was not up within 180 s"; }
  sleep 0.2
  url=$(sed -n 's/^verilens dashboard: \(http[^ ]*\).*/\1/p' "$tmp/server.log" | head -n 1)
done
echo "    $url"

mkdir -p "$out"
for profile in mobile desktop; do
  preset=()
  [ "$profile" = desktop ] && preset=(--preset=desktop)
  for run in $(seq 1 "$runs"); do
    echo "==> lighthouse $profile, run $run of $runs"
    "$lighthouse" "$url" "${preset[@]}" --quiet \
      --only-categories=performance,accessibility \
      --chrome-flags="--headless=new --no-sandbox" \
      --output=json --output-path="$out/$profile-$run.json"
  done
done

echo
node - "$out" "$runs" <<'EOF'
const fs = require("fs");
const [dir, runs] = process.argv.slice(2);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rows = [["profile", "perf", "a11y", "LCP ms", "FCP ms", "TBT ms", "CLS", "bytes KiB"]];
for (const profile of ["mobile", "desktop"]) {
  const reports = [];
  for (let run = 1; run <= runs; run++) {
    reports.push(JSON.parse(fs.readFileSync(`${dir}/${profile}-${run}.json`, "utf8")));
  }
  const m = (f) => median(reports.map(f));
  const audit = (id) => m((r) => r.audits[id].numericValue);
  rows.push([
    profile,
    Math.round(m((r) => r.categories.performance.score) * 100),
    Math.round(m((r) => r.categories.accessibility.score) * 100),
    Math.round(audit("largest-contentful-paint")),
    Math.round(audit("first-contentful-paint")),
    Math.round(audit("total-blocking-time")),
    audit("cumulative-layout-shift").toFixed(3),
    Math.round(audit("total-byte-weight") / 1024),
  ]);
}
console.log(`median of ${runs} run(s), reports in ${dir}/`);
for (const row of rows) console.log(row.map((c, i) => String(c)[i ? "padStart" : "padEnd"](i ? 9 : 8)).join(" "));
EOF
