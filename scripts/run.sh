#!/usr/bin/env bash
# Starts Haki. Without DATABASE_URL it runs a PostgreSQL cluster kept in .data/ (created on first
# use, reused afterwards) and a JWT secret and identity-vault key generated once and kept beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -f .env ] && { set -a; . ./.env; set +a; }

if [ -z "${DATABASE_URL:-}" ]; then
  port=${HAKI_PG_PORT:-54329}
  mkdir -p .data
  scripts/pg.sh start .data/pg "$port"
  if [ ! -f .data/db_password ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > .data/db_password)
  fi
  pw=$(cat .data/db_password)
  scripts/pg.sh psql .data/pg "$port" -d postgres <<SQL
SELECT 'CREATE ROLE haki LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haki') \gexec
ALTER ROLE haki PASSWORD '$pw';
SELECT 'CREATE DATABASE haki OWNER haki' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'haki') \gexec
SQL
  export DATABASE_URL="postgres://haki:$pw@127.0.0.1:$port/haki"
fi

if [ -z "${HAKI_JWT_SECRET:-}" ]; then
  mkdir -p .data
  [ -f .data/jwt_secret ] || (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n' > .data/jwt_secret)
  HAKI_JWT_SECRET=$(cat .data/jwt_secret)
  export HAKI_JWT_SECRET
fi

if [ -z "${HAKI_DATA_KEY:-}" ]; then
  mkdir -p .data
  [ -f .data/data_key ] || (umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n' > .data/data_key)
  HAKI_DATA_KEY=$(cat .data/data_key)
  export HAKI_DATA_KEY
fi

# Cargo shows its progress; the first release build compiles every dependency (a few minutes).
[ -x target/release/haki ] || echo "Building Haki (release). The first build takes a few minutes; later ones are quick."
cargo build --release --locked
if [ "${1:-serve}" = serve ]; then
  echo "Tip: \`make demo\` loads a small fictional demo dataset (users, partners, cases) before serving."
fi
exec target/release/haki "${@:-serve}"
