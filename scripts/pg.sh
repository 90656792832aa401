#!/usr/bin/env bash
# Local PostgreSQL for development and tests, with no system service involved.
#   pg.sh start DIR PORT   initialise DIR on first use, start the server on 127.0.0.1:PORT
#   pg.sh stop DIR         stop it
# Installs the Debian postgresql package when no server binaries are found. As root, the server
# runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
  [ -x "$d/initdb" ] && echo "$d"
}

ensure_binaries() {
  BIN=$(find_bindir || true)
  if [ -z "$BIN" ]; then
    echo "pg.sh: PostgreSQL server binaries not found; installing the postgresql package" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    BIN=$(find_bindir || true)
    [ -n "$BIN" ] || die "could not find initdb after installing postgresql"
  fi
}

# Runs a server binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pg.sh start DIR PORT | stop DIR"
ensure_binaries
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"

case "$cmd" in
  start)
    port=${3:?port required}
    if [ "$(id -u)" -eq 0 ]; then
      as_owner true
      chown postgres:postgres "$dir"
      # The server must be able to reach its directory through every parent.
      p="$dir"; while [ "$p" != "/" ]; do p=$(dirname "$p"); chmod o+x "$p" 2>/dev/null || true; done
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
      as_owner "$BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null 2>&1 \
        || as_owner "$BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >/dev/null
    fi
    if ! as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_owner "$BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=${PG_FSYNC:-on}" start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; die "server did not start"; }
    fi
    ;;
  stop)
    if [ -f "$data/PG_VERSION" ]; then
      as_owner "$BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  psql)
    port=${3:?port required}; shift 3
    as_owner "$BIN/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -q "$@"
    ;;
  *) die "unknown command $cmd" ;;
esac
