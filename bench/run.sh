#!/usr/bin/env bash
# Load-tests a release build of Haki on scratch databases of several sizes and measures, in the
# same run, what PostgreSQL itself does with the statements each request sends (pgbench), so the
# figures read as ratios. Usage: bench/run.sh [seconds]   (see bench/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${1:-${BENCH_SECONDS:-10}}
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
HTTP_PORT=${BENCH_HTTP_PORT:-18080}
SIZES=${BENCH_SIZES:-10000 100000 1000000}
PASSWORD="bench passphrase, not for use"

for tool in wrk pgbench; do
  if ! command -v $tool >/dev/null; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postgresql-contrib >/dev/null
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/haki-bench.XXXXXX")
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
cleanup() {
  stop_server
  scripts/pg.sh stop "$tmp" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

scripts/pg.sh start "$tmp" "$pg_port"
su_sql() { scripts/pg.sh psql "$tmp" "$pg_port" -d postgres -qtA "$@"; }
su_sql -c "CREATE ROLE haki_bench LOGIN PASSWORD 'haki_bench'" >/dev/null
export PGPASSWORD=haki_bench
db_sql() { psql -h 127.0.0.1 -p "$pg_port" -U haki_bench -d haki_bench -qtA "$@"; }
export HAKI_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export HAKI_DATA_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export HAKI_BIND="127.0.0.1:$HTTP_PORT" HAKI_TOKEN_TTL_SECONDS=3600 HAKI_MFA_REQUIRED_ROLES= \
  HAKI_DOCUMENT_STORE="$tmp/documents" HAKI_LOGIN_RATE_PER_MINUTE=100000000 RUST_LOG=warn \
  HAKI_BENCH_PASSWORD="$PASSWORD"
# The service's session settings (src/db/mod.rs), for pgbench too.
export PGOPTIONS="-c jit=off"
base="http://$HAKI_BIND"

cargo build --release --locked --quiet
bin=target/release/haki

cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$server_pid/stat"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login() { curl -fs "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$1\",\"password\":\"$PASSWORD\"}"; }

results="$tmp/results" # size|scenario|rps|p50|p99|cpu|pg tps|pg p50|pg p99
: >"$results"
rss="$tmp/rss"
: >"$rss"

# Runs wrk; prints "rps|p50|p99|cpu ms per request". Arguments after the name go to wrk.
load() {
  local name=$1 out before after n; shift
  before=$(cpu_ms)
  out=$(wrk --latency --timeout 60s -d"${DURATION}s" "$@")
  after=$(cpu_ms)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "warning: $name: $(grep Non-2xx <<<"$out")" >&2; fi
  printf '%s|%s|%s|%s' "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '/^ +50%/ {print $2}' <<<"$out")" "$(awk '/^ +99%/ {print $2}' <<<"$out")" \
    "$(python3 -c "print(f'{($after - $before) / max($n, 1):.3f}')")"
}

# Runs pgbench on a script at the service's concurrency; prints "tps|p50|p99" (p50 and p99 from
# the per-transaction log).
pgb() {
  local script=$1 dir out
  dir=$(mktemp -d "$tmp/pgbench.XXXX")
  out=$(cd "$dir" && pgbench -h 127.0.0.1 -p "$pg_port" -U haki_bench -n -M prepared -c "$CONNS" \
    -j "$THREADS" -T "$DURATION" -l -f "$script" haki_bench 2>&1) || { echo "pgbench failed: $out" >&2; return 1; }
  if grep -q "aborted\|error" <<<"$out"; then echo "warning: pgbench $script: $(grep -m1 'error' <<<"$out")" >&2; fi
  printf '%s|%s' "$(awk '/^tps/ {printf "%.1f", $3}' <<<"$out")" "$(cat "$dir"/pgbench_log.* | python3 -c '
import sys
us = sorted(int(l.split()[2]) for l in sys.stdin)
q = lambda p: us[min(len(us) - 1, int(len(us) * p))] / 1000
print(f"{q(0.5):.2f}ms|{q(0.99):.2f}ms")')"
  rm -rf "$dir"
}

# Sends one request as `curl "$@"` with statement logging on and writes the statements it ran
# as a pgbench script to $1 (the rest of the generator's arguments in $PGB_ARGS).
capture() {
  local script=$1 log="$tmp/server.log" offset since; shift
  su_sql -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.2
  offset=$(stat -c %s "$log")
  since=$(date +%s%3N)
  curl -fs -o /dev/null "$@"
  sleep 0.3
  su_sql -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
  bench/pgbench_script.py "$log" "$offset" "$since" "${PGB_ARGS[@]}" >"$script"
}

record() { # size name "wrk figures" ["pgbench figures"]
  echo "$1|$2|$3|${4:-||}" >>"$results"
}

for size in $SIZES; do
  echo "== $size cases" >&2
  su_sql -c "DROP DATABASE IF EXISTS haki_bench" -c "CREATE DATABASE haki_bench OWNER haki_bench" >/dev/null
  export DATABASE_URL="postgres://haki_bench:haki_bench@127.0.0.1:$pg_port/haki_bench"
  $bin migrate >/dev/null 2>&1
  $bin seed-bench --cases "$size" >/dev/null
  $bin serve & server_pid=$!
  for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

  # Who is asking: case worker 0 holds the cases numbered by multiples of the number of case
  # workers (seed-bench), aftercare officer 0 their survivors; the program manager sees all.
  workers=$(db_sql -c "SELECT count(*) FROM users WHERE role = 'case_worker'")
  per=$((size / workers))
  cw=$(login case_worker0@bench.haki.test | json '["access_token"]')
  ao=$(login aftercare_officer0@bench.haki.test | json '["access_token"]')
  pm=$(login program_manager0@bench.haki.test | json '["access_token"]')
  partner=$(login partner0@bench.haki.test | json '["access_token"]')
  db_sql -c "SELECT md5('case' || g * $workers)::uuid FROM generate_series(1, $per) g" >"$tmp/cases"
  db_sql -c "SELECT md5('survivor' || g * $workers)::uuid FROM generate_series(1, $per) g" >"$tmp/survivors"
  db_sql -c "SELECT md5('case' || g)::uuid FROM generate_series(1, $CONNS) g" >"$tmp/edits"
  for _ in $(seq 1 "$CONNS"); do login case_worker1@bench.haki.test | json '["refresh_token"]'; done >"$tmp/refresh"
  pick="\\set g random(1, $per) * $workers"
  from=$(date -d '1 year ago' +%F) to=$(date +%F)
  pgbench_select1="$PWD/bench/pgbench/select1.sql"

  record "$size" "GET /healthz (no database)" "$(load healthz -t"$THREADS" -c"$CONNS" "$base/healthz")"
  record "$size" "GET /readyz (one statement)" "$(load readyz -t"$THREADS" -c"$CONNS" "$base/readyz")" \
    "$(pgb $pgbench_select1)"

  # name | token | URL (with {id} drawn from a file) | ids file | literal the pgbench script draws too
  while IFS='|' read -r name token url ids literal; do
    auth=(-H "Authorization: Bearer ${!token}")
    first=$(head -1 "$ids" 2>/dev/null || true)
    target="$base${url//\{id\}/$first}"
    PGB_ARGS=()
    [ -n "$literal" ] && PGB_ARGS=("$pick" "$first=md5('$literal'||:g)::uuid")
    capture "$tmp/script.sql" "${auth[@]}" "$target"
    if [ -n "$ids" ]; then
      figures=$(BENCH_IDS=$ids BENCH_PATH=$url load "$name" -t"$THREADS" -c"$CONNS" -s bench/lua/ids.lua "${auth[@]}" "$base")
    else
      figures=$(load "$name" -t"$THREADS" -c"$CONNS" "${auth[@]}" "$target")
    fi
    record "$size" "$name" "$figures" "$(pgb "$tmp/script.sql")"
  done <<EOF
read a case by id (case worker)|cw|/api/v1/cases/{id}|$tmp/cases|case
a survivor by id (aftercare officer)|ao|/api/v1/survivors/{id}|$tmp/survivors|survivor
a survivor's services|ao|/api/v1/survivors/{id}/services|$tmp/survivors|survivor
a page of 50 cases, filtered (program manager)|pm|/api/v1/cases?county=kilifi&limit=50||
EOF
  next=$(curl -fs "$base/api/v1/cases?county=kilifi&limit=50" -H "Authorization: Bearer $pm" | json '["next_cursor"]')
  while IFS='|' read -r name token url; do
    auth=(-H "Authorization: Bearer ${!token}")
    PGB_ARGS=()
    capture "$tmp/script.sql" "${auth[@]}" "$base$url"
    record "$size" "$name" "$(load "$name" -t"$THREADS" -c"$CONNS" "${auth[@]}" "$base$url")" "$(pgb "$tmp/script.sql")"
  done <<EOF
the next page by cursor|pm|/api/v1/cases?county=kilifi&limit=50&cursor=$next
dashboard overview, one year|pm|/api/v1/stats/overview?from=$from&to=$to
indicator report, one year|pm|/api/v1/reports/indicators?from=$from&to=$to
alerts for a case worker|cw|/api/v1/alerts
the change feed, a page of 100|pm|/api/v1/changes?limit=100
EOF

  # Writes. A referral as a partner system sends it, each with its own Idempotency-Key.
  sed 's/"EXTERNAL_ID"/"capture-1"/' bench/referral.json >"$tmp/referral.json"
  PGB_ARGS=("capture-1=('r-'||:r)")
  capture "$tmp/script.sql" -H "Authorization: Bearer $partner" -H 'Content-Type: application/json' \
    -H 'Idempotency-Key: capture-1' -d @"$tmp/referral.json" "$base/api/v1/referrals"
  record "$size" "submit a referral (Idempotency-Key)" \
    "$(BENCH_BODY=bench/referral.json BENCH_PREFIX="size$size" load referral -t"$THREADS" -c"$CONNS" \
      -s bench/lua/referral.lua -H "Authorization: Bearer $partner" "$base")" "$(pgb "$tmp/script.sql")"

  # If-Match edits: one connection per thread, each on its own case (pgbench: case = client).
  edit=$(sed -n "${CONNS}p" "$tmp/edits")
  etag=$(curl -fs -D - -o /dev/null "$base/api/v1/cases/$edit" -H "Authorization: Bearer $pm" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
  PGB_ARGS=("$edit=md5('case'||(:client_id+1))::uuid")
  capture "$tmp/script.sql" -X PATCH -H "Authorization: Bearer $pm" -H 'Content-Type: application/json' \
    -H "If-Match: $etag" -d '{"risk_level":"high"}' "$base/api/v1/cases/$edit"
  record "$size" "update a case with If-Match" \
    "$(BENCH_IDS="$tmp/edits" load update -t"$CONNS" -c"$CONNS" -s bench/lua/update.lua \
      -H "Authorization: Bearer $pm" "$base")" "$(pgb "$tmp/script.sql")"

  # Sessions: a sign-in hashes the password (deliberately slow); a refresh rotates the token.
  record "$size" "sign in (password hash)" \
    "$(BENCH_PASSWORD="$PASSWORD" load login -t"$CONNS" -c"$CONNS" -s bench/lua/login.lua "$base")"
  record "$size" "refresh a session" \
    "$(BENCH_TOKENS="$tmp/refresh" load refresh -t"$CONNS" -c"$CONNS" -s bench/lua/refresh.lua "$base")"

  echo "$size|$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status")" >>"$rss"
  stop_server
done

# The raw figures outlive the scratch directory, whatever happens to the report.
cp "$results" "${TMPDIR:-/tmp}/haki-bench-results.txt"
cp "$rss" "${TMPDIR:-/tmp}/haki-bench-rss.txt"
bench/report.py "$results" "$rss" \
  "date: $(date -u +%Y-%m-%dT%H:%MZ)" \
  "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)')" \
  "machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load generator, server and database share it" \
  "PostgreSQL: $(pgbench --version | awk '{print $3}'), scratch cluster, default settings; datasets: \`haki seed-bench --cases N\` for N in $SIZES" \
  "load: ${DURATION} s per scenario, $CONNS connections (wrk, $THREADS threads; one thread per connection where each connection keeps its own state); pgbench: the same concurrency, prepared statements" \
  >bench/REPORT.md
cat bench/REPORT.md
