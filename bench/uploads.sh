#!/usr/bin/env bash
# Memory while documents stream: a release build on a scratch PostgreSQL takes ten uploads of a
# 25 MB file at once, then serves ten downloads of it at once, while its resident memory (RSS) is
# sampled. Streaming keeps the peak near the idle figure, whatever the file size.
# Usage: bench/uploads.sh [megabytes] [parallel]
set -euo pipefail
cd "$(dirname "$0")/.."

MB=${1:-25}
PARALLEL=${2:-10}
HTTP_PORT=${BENCH_HTTP_PORT:-18081}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/haki-uploads.XXXXXX")
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server_pid=""
sampler_pid=""
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  scripts/pg.sh stop "$tmp/pg" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

scripts/pg.sh start "$tmp/pg" "$pg_port"
scripts/pg.sh psql "$tmp/pg" "$pg_port" -d postgres -c "CREATE ROLE haki_bench LOGIN PASSWORD 'haki_bench'" \
  -c "CREATE DATABASE haki_bench OWNER haki_bench" >/dev/null
export DATABASE_URL="postgres://haki_bench:haki_bench@127.0.0.1:$pg_port/haki_bench"
export HAKI_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export HAKI_DATA_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export HAKI_BIND="127.0.0.1:$HTTP_PORT" HAKI_MFA_REQUIRED_ROLES= HAKI_DOCUMENT_STORE="$tmp/documents" RUST_LOG=warn
export HAKI_DOCUMENT_MAX_BYTES=$(( (MB + 1) * 1024 * 1024 ))

cargo build --release --locked --quiet
bin=target/release/haki
$bin migrate >/dev/null
echo 'bench manager passphrase' | $bin user create --email pm@bench.test --role program_manager >/dev/null
$bin serve & server_pid=$!
for _ in $(seq 1 100); do curl -fs "http://$HAKI_BIND/healthz" >/dev/null && break; sleep 0.1; done
api="http://$HAKI_BIND/api/v1"
token=$(curl -fs "$api/auth/login" -H 'Content-Type: application/json' \
  -d '{"email":"pm@bench.test","password":"bench manager passphrase"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
case_id=$(curl -fs "$api/cases" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"county\":\"kilifi\",\"location_type\":\"villa_short_term_rental\",\"reported_on\":\"$(date -u +%F)\",\"incident_on\":\"$(date -u +%F)\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# A PDF-looking file of MB megabytes.
{ printf '%%PDF-1.7\n'; head -c $(( MB * 1024 * 1024 - 9 )) /dev/urandom; } > "$tmp/file.pdf"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
sample() { # keeps the highest RSS seen in $1 until killed
  local peak=0 now
  while true; do now=$(rss); [ "$now" -gt "$peak" ] && peak=$now && echo "$peak" > "$1"; sleep 0.02; done
}
upload() {
  curl -fs -o /dev/null "$api/cases/$case_id/documents" -H "Authorization: Bearer $token" \
    -F kind=other -F title="bench file" -F document_date="$(date -u +%F)" -F identifying=false \
    -F "file=@$tmp/file.pdf;type=application/pdf"
}

# Warm up (one upload and download), then measure the idle figure.
upload
first=$(curl -fs "$api/cases/$case_id/documents" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
curl -fs -o /dev/null "$api/documents/$first/content" -H "Authorization: Bearer $token"
idle=$(rss)

sample "$tmp/peak-up" & sampler_pid=$!
started=$(date +%s.%N)
for _ in $(seq 1 "$PARALLEL"); do upload & done
wait $(jobs -p | grep -v "^$sampler_pid$" | grep -v "^$server_pid$") 2>/dev/null || true
up_secs=$(python3 -c "import time; print(round(time.time() - $started, 1))")
kill "$sampler_pid"; sampler_pid=""

sample "$tmp/peak-down" & sampler_pid=$!
started=$(date +%s.%N)
pids=()
for i in $(seq 1 "$PARALLEL"); do
  curl -fs -o "$tmp/out-$i" "$api/documents/$first/content" -H "Authorization: Bearer $token" & pids+=($!)
done
wait "${pids[@]}"
down_secs=$(python3 -c "import time; print(round(time.time() - $started, 1))")
kill "$sampler_pid"; sampler_pid=""
cmp -s "$tmp/out-1" "$tmp/file.pdf" || { echo "a download differs from the upload" >&2; exit 1; }

count=$(curl -fs "$api/cases/$case_id/documents?limit=200" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
[ "$count" -eq $(( PARALLEL + 1 )) ] || { echo "expected $(( PARALLEL + 1 )) documents, found $count" >&2; exit 1; }
echo "file: ${MB} MB; ${PARALLEL} at once"
echo "RSS idle after warm-up:      $(( idle / 1024 )) MB"
echo "RSS peak, ${PARALLEL} uploads:         $(( $(cat "$tmp/peak-up") / 1024 )) MB  (${up_secs} s)"
echo "RSS peak, ${PARALLEL} downloads:       $(( $(cat "$tmp/peak-down") / 1024 )) MB  (${down_secs} s)"
echo "(all of the ${PARALLEL} files held in memory would be $(( MB * PARALLEL )) MB)"
