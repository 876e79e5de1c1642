#!/usr/bin/env bash
# Tests the Debian package end to end, as root (through sudo when run as another user):
# builds it (scripts/package-deb.sh, from the existing release binary), installs it, checks
# its files, user and unit, starts the dashboard exactly as the installed unit would (its
# ExecStart, User, WorkingDirectory and EnvironmentFile, read from the unit) on demo data,
# waits for its first sync, fetches the page and its assets, stops it with SIGTERM, and
# purges the package, which must keep the snapshot in /var/lib/verilens.
#
# systemd does not run as PID 1 here, so the server is started by hand, not by systemctl.
# A verilens package already installed on this machine is purged first.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-deb: FAILED: $*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

# Built as the calling user, so that target/ keeps its owner; then everything else as root.
if [ "${1:-}" = --deb ]; then
  deb=$2
else
  step "package (scripts/package-deb.sh)"
  if ! built=$(scripts/package-deb.sh); then
    [ -z "$built" ] || printf '%s\n' "$built"
    fail "scripts/package-deb.sh could not build the package"
  fi
  deb=$(tail -n 1 <<<"$built")
fi
[ -f "$deb" ] || fail "no package at '$deb'"
deb=$(realpath "$deb")
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
    fail "installing the package needs root: run this as root, or as a user with password-less sudo"
  fi
  exec sudo -n -- "$PWD/scripts/test-deb.sh" --deb "$deb"
fi

# What the test needs beyond Debian's essential packages (setpriv, zcat, stat are there).
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v ps >/dev/null || missing+=(procps)
command -v adduser >/dev/null || missing+=(adduser) # the package's dependency, for dpkg -i
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

installed() { dpkg-query -W -f='${Status}' verilens 2>/dev/null | grep -qv 'not-installed'; }

state_dir=/var/lib/verilens
state_dir_existed=false
[ -e "$state_dir" ] && state_dir_existed=true
server_pid=
server_log=$(mktemp /tmp/verilens-test-deb.XXXXXX.log)
chmod 0644 "$server_log"
page=$(mktemp /tmp/verilens-test-deb.XXXXXX.html)

cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if installed; then dpkg --purge verilens >/dev/null 2>&1 || true; fi
  if ! $state_dir_existed; then rm -rf "$state_dir"; fi
  if [ "$status" != 0 ] && [ -s "$server_log" ]; then
    echo "--- the server's last output ($server_log):" >&2
    tail -n 30 "$server_log" >&2
  else
    rm -f "$server_log"
  fi
  rm -f "$page"
}
trap cleanup EXIT

if installed; then
  step "purge the verilens package already installed"
  dpkg --purge verilens
fi

step "dpkg -i $deb"
dpkg -i "$deb"

step "installed files, user and permissions"
unit=/lib/systemd/system/verilens.service
[ -x /usr/bin/verilens ] || fail "/usr/bin/verilens is not executable"
[ -f "$unit" ] || fail "no unit at $unit"
[ -f /etc/verilens/verilens.toml ] || fail "no /etc/verilens/verilens.toml"
getent passwd verilens >/dev/null || fail "no user verilens"
env_mode=$(stat -c '%a %U %G' /etc/verilens/verilens.env)
[ "$env_mode" = "640 root verilens" ] || fail "/etc/verilens/verilens.env is '$env_mode', not '640 root verilens'"
state_owner=$(stat -c '%U:%G %a' "$state_dir")
[ "$state_owner" = "verilens:verilens 750" ] || fail "$state_dir is '$state_owner', not 'verilens:verilens 750'"
man_page=/usr/share/man/man1/verilens.1.gz
[ -f "$man_page" ] || fail "no man page $man_page"
zcat "$man_page" | grep -qi verilens || fail "$man_page does not mention verilens"
listed=$(dpkg -L verilens)
for path in /usr/bin/verilens "$unit" /etc/verilens/verilens.toml /etc/verilens/verilens.env "$man_page" \
  /usr/share/doc/verilens/copyright; do
  grep -qxF "$path" <<<"$listed" || fail "dpkg -L verilens does not list $path"
done

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify $unit"
  # verify parses the unit as systemd would and reports unknown sections and keys, values
  # it cannot parse, an ExecStart= binary that is not there, and (through man) a
  # Documentation= page that is not installed; most of these are warnings after which it
  # still exits 0, so its output is read line by line. Without systemd as PID 1 it cannot
  # load every unit the unit pulls in (multi-user.target, network-online.target): it may
  # then report problems of those other units, such as a mount or device unit that
  # systemd would have generated at boot. Only such lines, naming another unit and not
  # verilens.service, are tolerated; anything else, and any line naming verilens.service
  # (its problems come prefixed with its path or name), fails the test.
  verify_options=()
  command -v man >/dev/null || verify_options=(--man=no) # no man to look the page up with
  verify_status=0
  verify_out=$(systemd-analyze verify "${verify_options[@]}" "$unit" 2>&1) || verify_status=$?
  other_unit='[A-Za-z0-9@_.:\\-]+\.(service|socket|target|device|mount|automount|swap|path|timer|slice|scope)'
  unexpected=$(grep -v -E "$other_unit" <<<"$verify_out" || true)
  if [ -n "$unexpected" ] || grep -q 'verilens\.service' <<<"$verify_out"; then
    printf '%s\n' "$verify_out" >&2
    fail "systemd-analyze verify finds a problem in $unit (exit status $verify_status)"
  fi
  if [ -n "$verify_out" ]; then
    printf 'tolerated, about other units (no system manager runs here):\n%s\n' "$verify_out"
  fi
fi

step "start the dashboard the way $unit does"
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
exec_start=$(unit_value ExecStart)
run_user=$(unit_value User)
run_group=$(unit_value Group)
work_dir=$(unit_value WorkingDirectory)
env_file=$(unit_value EnvironmentFile)
umask_value=$(unit_value UMask)
# Prefixes that change how systemd runs a command or reads a file ("-" = optional).
exec_start=${exec_start#[-@:+!]}
env_file=${env_file#-}
if [ -z "$exec_start" ] || [ -z "$run_user" ] || [ -z "$work_dir" ] || [ -z "$env_file" ]; then
  fail "$unit lacks one of ExecStart=, User=, WorkingDirectory=, EnvironmentFile="
fi
run_group=${run_group:-$(id -gn "$run_user")}
# Split on spaces, as the unit's ExecStart= is written (no quoted arguments in it).
read -r -a command_line <<<"$exec_start"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null) ||
  port=$(comm -23 <(seq 20000 40000) <(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u) | shuf -n 1)
[ -n "$port" ] || fail "no free port found"
echo "VERILENS_ADDR=127.0.0.1:$port" >>"$env_file"

# The environment file as systemd reads it: KEY=VALUE lines, # and ; comments, quotes around
# a whole value dropped.
environment=()
while IFS= read -r line || [ -n "$line" ]; do
  line=${line#"${line%%[![:space:]]*}"}
  case "$line" in '' | '#'* | ';'*) continue ;; esac
  [[ "$line" == *=* ]] || fail "$env_file: '$line' is not KEY=VALUE"
  key=${line%%=*} value=${line#*=}
  if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
  environment+=("$key=$value")
done <"$env_file"

base=http://127.0.0.1:$port
echo "$run_user:$run_group in $work_dir: ${command_line[*]}  (${#environment[@]} variables from $env_file; $base)"
(
  cd "$work_dir"
  umask "${umask_value:-0022}"
  exec setpriv --reuid="$run_user" --regid="$run_group" --init-groups --reset-env \
    env "${environment[@]}" "${command_line[@]}"
) >"$server_log" 2>&1 </dev/null &
server_pid=$!

step "wait for the first sync (GET /healthz until \"synced\":true, 180 s at most)"
deadline=$((SECONDS + 180))
until health=$(curl -fsS --max-time 5 "$base/healthz" 2>/dev/null) && grep -Eq '"synced": ?true' <<<"$health"; do
  kill -0 "$server_pid" 2>/dev/null || { wait "$server_pid" || true; fail "the server exited before its first sync"; }
  [ "$SECONDS" -lt "$deadline" ] || fail "no completed sync within 180 s (last /healthz: ${health:-none})"
  sleep 1
done
echo "healthz: $health"

step "the page and its assets, served by the installed binary"
answer=$(curl -sS -o "$page" -w '%{http_code} %{content_type}' "$base/")
[[ "$answer" == "200 text/html"* ]] || fail "GET / answered '$answer', not 200 text/html"
grep -qi verilens "$page" || fail "GET / does not mention verilens"
for asset in /pkg/verilens.js /pkg/verilens_bg.wasm /pkg/verilens.css /echarts.min.js; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$base$asset")
  [ "$code" = 200 ] || fail "GET $asset answered $code, not 200"
done
encoding=$(curl -sS -o /dev/null -D - -H 'Accept-Encoding: br' "$base/pkg/verilens_bg.wasm" |
  tr -d '\r' | sed -n 's/^[Cc]ontent-[Ee]ncoding: *//p')
[ "$encoding" = br ] || fail "GET /pkg/verilens_bg.wasm with Accept-Encoding: br came with content-encoding '${encoding:-none}'"

process_user=$(ps -o user= -p "$server_pid" | tr -d ' ')
[ "$process_user" = "$run_user" ] || fail "the server runs as '$process_user', not '$run_user'"
snapshot=$state_dir/verilens.db
[ -f "$snapshot" ] || fail "no snapshot at $snapshot"
snapshot_owner=$(stat -c '%U' "$snapshot")
[ "$snapshot_owner" = "$run_user" ] || fail "$snapshot belongs to '$snapshot_owner', not '$run_user'"

step "SIGTERM, and the server exits (60 s at most)"
kill -TERM "$server_pid"
deadline=$((SECONDS + 60))
# The exited server stays a zombie until `wait` reaps it: kill -0 alone would not notice.
while kill -0 "$server_pid" 2>/dev/null && [[ "$(ps -o stat= -p "$server_pid")" != Z* ]]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the server was still running 60 s after SIGTERM"
  sleep 0.5
done
exit_status=0
wait "$server_pid" || exit_status=$?
server_pid=
[ "$exit_status" = 0 ] || fail "the server exited with status $exit_status after SIGTERM, not 0"

step "dpkg --purge verilens"
dpkg --purge verilens
for path in /usr/bin/verilens "$unit" /etc/verilens/verilens.toml; do
  [ ! -e "$path" ] || fail "$path is still there after the purge"
done
[ -f "$snapshot" ] || fail "the purge removed $snapshot: it must keep $state_dir"

echo "deb package: installed, started as verilens, removed"
