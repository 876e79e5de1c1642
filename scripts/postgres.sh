#!/usr/bin/env bash
# A throwaway PostgreSQL server from Debian's packages, for the tests:
#   scripts/postgres.sh start DIR   creates a cluster in DIR (empty or missing), starts it on a
#                                   free loopback port and prints its URL
#   scripts/postgres.sh replica DIR PRIMARY_URL
#                                   creates a streaming read replica of that server in DIR,
#                                   starts it and prints its URL
#   scripts/postgres.sh stop DIR    stops it and removes DIR
# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed: scripts/setup.sh --for-tests installs it" >&2; exit 1; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A port nothing listens on; the server's own bind is the final check.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  echo "$port"
}

# Starts the cluster in $1/data on port $2. fsync off: a test cluster is thrown away, and its
# speed should not hang on the disk.
start_cluster() {
  as_owner "$bin/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $2 -k $1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$1/server.log" >&2; exit 1; }
}

command=${1:?start DIR, replica DIR PRIMARY_URL, or stop DIR}
dir=${2:?the directory of the cluster}
case "$command" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    start_cluster "$dir" "$port"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  replica)
    # A hot standby of the server at PRIMARY_URL (one this script started), streaming its
    # WAL: a read replica, as --read-db reads.
    primary=${3:?the URL of the primary}
    primary_port=${primary##*:}
    primary_port=${primary_port%%/*}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/data" -R -X stream -c fast \
      >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
    port=$(free_port)
    start_cluster "$dir" "$port"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: scripts/postgres.sh start DIR | replica DIR PRIMARY_URL | stop DIR" >&2; exit 2 ;;
esac
