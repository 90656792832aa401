#!/usr/bin/env bash
# Load-tests a release build of Haki on a scratch PostgreSQL and measures the raw database with
# pgbench in the same run, so the figures can be read as ratios. Usage: bench/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-${BENCH_SECONDS:-10}}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
HTTP_PORT=${BENCH_HTTP_PORT:-18080}
CASES=${BENCH_CASES:-20000}

if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/haki-bench.XXXXXX")
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  scripts/pg.sh stop "$tmp" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

scripts/pg.sh start "$tmp" "$pg_port"
scripts/pg.sh psql "$tmp" "$pg_port" -d postgres -c "CREATE ROLE haki_bench LOGIN PASSWORD 'haki_bench'" \
  -c "CREATE DATABASE haki_bench OWNER haki_bench"
export DATABASE_URL="postgres://haki_bench:haki_bench@127.0.0.1:$pg_port/haki_bench"
export HAKI_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export HAKI_DATA_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export HAKI_BIND="127.0.0.1:$HTTP_PORT" HAKI_TOKEN_TTL_SECONDS=3600 HAKI_MFA_REQUIRED_ROLES= HAKI_DOCUMENT_STORE="$tmp/documents" RUST_LOG=warn

cargo build --release --locked --quiet
bin=target/release/haki
$bin migrate
$bin seed-bench --cases "$CASES" >/dev/null
echo 'bench admin passphrase' | $bin user create --email admin@bench.test --role admin >/dev/null

$bin serve & server_pid=$!
for _ in $(seq 1 100); do curl -fs "http://$HAKI_BIND/healthz" >/dev/null && break; sleep 0.1; done
token=$(curl -fs "http://$HAKI_BIND/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"admin@bench.test","password":"bench admin passphrase"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

results=()
http() { # name path [auth]
  local name=$1 path=$2 out rps lat
  local args=(-t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency)
  [ "${3:-}" = auth ] && args+=(-H "Authorization: Bearer $token")
  out=$(wrk "${args[@]}" "http://$HAKI_BIND$path")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  lat=$(awk '/^ +99%/ {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: $name had non-2xx answers" >&2; fi
  results+=("$name|$rps|$lat")
}
pgb() { # name script
  local out tps lat
  out=$(scripts/pg.sh psql "$tmp" "$pg_port" -d postgres -c "SELECT 1" >/dev/null; \
    PGPASSWORD=haki_bench pgbench -h 127.0.0.1 -p "$pg_port" -U haki_bench -n -c "$CONNS" -j "$THREADS" \
      -T "$DURATION" -f "$2" haki_bench 2>/dev/null)
  tps=$(awk '/^tps/ {print $3}' <<<"$out")
  lat=$(awk '/^latency average/ {print $4 "ms(avg)"}' <<<"$out")
  results+=("$1|$tps|$lat")
}

http "GET /healthz (no database)" /healthz
http "GET /readyz (SELECT 1 via pool)" /readyz
pgb "pgbench SELECT 1" bench/pgbench/select1.sql
http "GET /api/v1/me (JWT + 2 queries)" /api/v1/me auth
http "GET /api/v1/partners?limit=50" "/api/v1/partners?limit=50" auth
pgb "pgbench partners page (same SQL)" bench/pgbench/partners_page.sql
http "GET /api/v1/audit-log?limit=50 ($((CASES * 5)) rows)" "/api/v1/audit-log?limit=50" auth
http "GET /api/v1/cases?limit=50 ($CASES cases, facts)" "/api/v1/cases?limit=50" auth
http "GET /api/v1/cases?county=kwale&stalled=true" "/api/v1/cases?county=kwale&stalled=true&limit=50" auth

echo
echo "Haki benchmark: ${DURATION}s per scenario, $CONNS connections, $THREADS load threads, $(nproc) cores"
printf '%-45s %12s %14s\n' scenario "req|tx /s" "p99 latency"
for r in "${results[@]}"; do IFS='|' read -r n v l <<<"$r"; printf '%-45s %12s %14s\n' "$n" "$v" "$l"; done
val() { for r in "${results[@]}"; do IFS='|' read -r n v _ <<<"$r"; [ "$n" = "$1" ] && echo "$v"; done; }
ratio() { python3 -c "a,b=float('$2'),float('$3'); print(f'{\"$1\":<60} {a/b:6.2f}')"; }
echo
ratio "readyz / pgbench SELECT 1" "$(val 'GET /readyz (SELECT 1 via pool)')" "$(val 'pgbench SELECT 1')"
ratio "partners page via API / same SQL in pgbench" "$(val 'GET /api/v1/partners?limit=50')" "$(val 'pgbench partners page (same SQL)')"
ratio "cases page (facts + audit of 50 reads) / partners page" "$(val "GET /api/v1/cases?limit=50 ($CASES cases, facts)")" "$(val 'GET /api/v1/partners?limit=50')"
ratio "partners page / healthz" "$(val 'GET /api/v1/partners?limit=50')" "$(val 'GET /healthz (no database)')"
