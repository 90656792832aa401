#!/usr/bin/env bash
# Runs the whole test suite against a throwaway PostgreSQL cluster (unless DATABASE_URL names a
# server whose user may create databases). Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/haki-test-pg.XXXXXX")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  cleanup() { scripts/pg.sh stop "$tmp" || true; rm -rf "$tmp"; }
  trap cleanup EXIT
  PG_FSYNC=off scripts/pg.sh start "$tmp" "$port"
  scripts/pg.sh psql "$tmp" "$port" -d postgres -c "CREATE ROLE haki_test LOGIN SUPERUSER PASSWORD 'haki_test'"
  export DATABASE_URL="postgres://haki_test:haki_test@127.0.0.1:$port/postgres"
fi

# The S3 storage test runs against a local S3-compatible server (moto, with the contract's
# Python tools in .tools/venv).
if [ -z "${HAKI_TEST_S3_SERVER:-}" ]; then
  scripts/contract.sh python-tools
  export HAKI_TEST_S3_SERVER=$PWD/.tools/venv/bin/moto_server
fi

cargo test --locked "$@"

# The contract, on a full run (no arguments): the committed spec is checked with the tools
# frontend teams use, then a served instance on a scratch database is driven through the README
# walkthrough and by Schemathesis as each of the six roles (HAKI_FUZZ_EXAMPLES per operation).
if [ $# -eq 0 ]; then
  scripts/contract.sh spec
  HAKI_FUZZ_EXAMPLES=${HAKI_FUZZ_EXAMPLES:-5} scripts/contract.sh served
fi
