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
# CPU time (ms) the server has used so far: utime + stime of /proc/PID/stat.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$server_pid/stat"; }
http() { # name path [auth]
  local name=$1 path=$2 out rps p50 p99 n before after
  local args=(-t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency)
  [ "${3:-}" = auth ] && args+=(-H "Authorization: Bearer $token")
  before=$(cpu_ms)
  out=$(wrk "${args[@]}" "http://$HAKI_BIND$path")
  after=$(cpu_ms)
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '/^ +50%/ {print $2}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: $name had non-2xx answers" >&2; fi
  results+=("$name|$rps|$p50|$p99|$(python3 -c "print(f'{($after - $before) / max($n, 1):.3f}')")")
}
pgb() { # name script
  local out tps lat
  out=$(scripts/pg.sh psql "$tmp" "$pg_port" -d postgres -c "SELECT 1" >/dev/null; \
    PGPASSWORD=haki_bench pgbench -h 127.0.0.1 -p "$pg_port" -U haki_bench -n -M prepared -c "$CONNS" -j "$THREADS" \
      -T "$DURATION" -f "$2" haki_bench 2>/dev/null)
  tps=$(awk '/^tps/ {print $3}' <<<"$out")
  lat=$(awk '/^latency average/ {print $4 " ms (avg)"}' <<<"$out")
  results+=("$1|$tps|$lat|$lat|")
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

peak_rss_mb=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status")
val() { for r in "${results[@]}"; do IFS='|' read -r n v _ <<<"$r"; [ "$n" = "$1" ] && echo "$v"; done; }
ratio() { python3 -c "a,b=float('$2'),float('$3'); print(f'| {\"$1\"} | ratio {a/b:.2f} |')"; }

report=bench/REPORT.md
{
  echo "# Benchmark report"
  echo
  echo "Written by \`make bench\` (\`bench/run.sh\`); commit it with the code it measured."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load generator, server and database share it"
  echo "- PostgreSQL: $(pgbench --version | awk '{print $3}'), scratch cluster; dataset: \`haki seed-bench --cases $CASES\`"
  echo "- load: ${DURATION} s per scenario, $CONNS connections, $THREADS wrk threads; pgbench with the same concurrency, prepared statements"
  echo "- server: release build, peak RSS ${peak_rss_mb} MB over the run"
  echo
  echo "| scenario | req or tx /s | p50 | p99 | server CPU ms / request |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for r in "${results[@]}"; do IFS='|' read -r n v a b c <<<"$r"; echo "| $n | $v | $a | $b | $c |"; done
  echo
  echo "Service against the database's own limit, same run (throughput over throughput):"
  echo
  echo "| comparison | |"
  echo "| --- | --- |"
  ratio "GET /readyz / pgbench SELECT 1" "$(val 'GET /readyz (SELECT 1 via pool)')" "$(val 'pgbench SELECT 1')"
  ratio "GET /api/v1/partners?limit=50 / pgbench, the same statements" "$(val 'GET /api/v1/partners?limit=50')" "$(val 'pgbench partners page (same SQL)')"
  ratio "a page of 50 cases / a page of 50 partners" "$(val "GET /api/v1/cases?limit=50 ($CASES cases, facts)")" "$(val 'GET /api/v1/partners?limit=50')"
  ratio "a page of partners / GET /healthz" "$(val 'GET /api/v1/partners?limit=50')" "$(val 'GET /healthz (no database)')"
} > "$report"
cat "$report"
