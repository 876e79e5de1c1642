#!/usr/bin/env bash
# Runs Twilio's official helper libraries (PyPI `twilio`, npm `twilio`) against
# `verilens emulate`: tests/clients/python with pytest, tests/clients/node with
# node's test runner. Needs the release binary (scripts/build.sh). Idempotent:
# installs into .venv and tests/clients/node/node_modules only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

TWILIO_PY_VERSION=9.13.0
PYTEST_VERSION=9.0.3
BIN=${VERILENS_BIN:-target/release/verilens}
NODE_DIR=tests/clients/node

# The emulator's pinned dataset and credentials.
NOW=2026-11-20T15:00:00Z
SEED=20261120
ATTEMPTS=5000
ACCOUNT_SID=AC5e1f0c1a2b3c4d5e6f708192a3b4c5d6
AUTH_TOKEN=0c1e2a3b4c5d6e7f8091a2b3c4d5e6f7

step() { printf '==> %s\n' "$*"; }

[ -x "$BIN" ] || { echo "no $BIN: build it first (scripts/build.sh)" >&2; exit 1; }

# Python: a virtualenv with the pinned library and pytest.
[ -x .venv/bin/python ] || { step "python3 -m venv .venv"; python3 -m venv .venv; }
if ! .venv/bin/python - "$TWILIO_PY_VERSION" "$PYTEST_VERSION" <<'EOF'; then
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    sys.exit(0 if (version("twilio"), version("pytest")) == tuple(sys.argv[1:]) else 1)
except PackageNotFoundError:
    sys.exit(1)
EOF
  step "pip install twilio==$TWILIO_PY_VERSION pytest==$PYTEST_VERSION"
  .venv/bin/pip install -q --disable-pip-version-check "twilio==$TWILIO_PY_VERSION" "pytest==$PYTEST_VERSION"
fi

# Node: npm ci only when node_modules is missing or the lock changed since.
stamp=$NODE_DIR/node_modules/.verilens-lock
if ! cmp -s "$NODE_DIR/package-lock.json" "$stamp" 2>/dev/null; then
  step "npm ci in $NODE_DIR"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund)
  cp "$NODE_DIR/package-lock.json" "$stamp"
fi

# The emulator, on the first free loopback port from 4210; always stopped on exit.
port=4210
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
logs=$(mktemp -d)
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$logs"
}
trap cleanup EXIT

step "verilens emulate on 127.0.0.1:$port (seed $SEED, $ATTEMPTS attempts, now $NOW)"
"$BIN" emulate --addr "127.0.0.1:$port" --seed "$SEED" --attempts "$ATTEMPTS" --rate-limit 0 --now "$NOW" \
  --account-sid "$ACCOUNT_SID" --auth-token "$AUTH_TOKEN" >"$logs/stdout" 2>"$logs/stderr" &
emulator_pid=$!

export EMULATOR_URL="http://127.0.0.1:$port"
export TWILIO_ACCOUNT_SID=$ACCOUNT_SID TWILIO_AUTH_TOKEN=$AUTH_TOKEN
for _ in $(seq 100); do
  kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator exited:" >&2; cat "$logs/stderr" >&2; exit 1; }
  if .venv/bin/python - <<'EOF' 2>/dev/null; then break; fi
import base64, os, urllib.request
auth = base64.b64encode(f"{os.environ['TWILIO_ACCOUNT_SID']}:{os.environ['TWILIO_AUTH_TOKEN']}".encode()).decode()
request = urllib.request.Request(os.environ["EMULATOR_URL"] + "/v2/Attempts/Summary", headers={"Authorization": "Basic " + auth})
urllib.request.urlopen(request, timeout=2).read()
EOF
  sleep 0.2
done
# "  or API key SK... with secret ..." is printed at start.
key_line=$(grep -m1 -o 'API key SK[0-9a-f]\{32\} with secret [0-9a-f]\{32\}' "$logs/stdout") ||
  { echo "the emulator did not answer or print its API key:" >&2; cat "$logs/stdout" "$logs/stderr" >&2; exit 1; }
read -r _ _ TWILIO_API_KEY_SID _ _ TWILIO_API_KEY_SECRET <<<"$key_line"
export TWILIO_API_KEY_SID TWILIO_API_KEY_SECRET

step "pytest tests/clients/python (twilio $TWILIO_PY_VERSION)"
py_status=0
PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/clients/python 2>&1 |
  tee "$logs/pytest" || py_status=$?

step "node --test tests/clients/node (twilio $(cd "$NODE_DIR" && node -p 'require("twilio/package.json").version'))"
node_status=0
(cd "$NODE_DIR" && node --test official_client.test.mjs) 2>&1 | tee "$logs/node" || node_status=$?

# One closing line for both suites, from pytest's last line and node's "# pass N" / "# fail N".
sum() { local terms; terms=$(grep -Eo "$1" | grep -Eo '[0-9]+' | paste -sd+) || true; echo "(${terms:-0})"; }
pytest_line=$(tail -n1 "$logs/pytest")
passed=$(( $(sum '[0-9]+ passed' <<<"$pytest_line") + $(sum '^# pass [0-9]+' <"$logs/node") ))
failed=$(( $(sum '[0-9]+ (failed|errors?)' <<<"$pytest_line") + $(sum '^# fail [0-9]+' <"$logs/node") ))
echo "==> official clients took $(( $(date +%s) - start )) s (pytest exit $py_status, node exit $node_status)"
echo "clients: $passed passed, $failed failed"
[ "$py_status" = 0 ] && [ "$node_status" = 0 ]
