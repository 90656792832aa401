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
  for f in db_password db_owner_password; do
    [ -f ".data/$f" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > ".data/$f")
  done
  pw=$(cat .data/db_password)
  owner_pw=$(cat .data/db_owner_password)
  # Two roles: haki_owner owns the schema and runs the migrations; haki, the service's role, only
  # reads and writes records, so it can neither disable the audit log's triggers nor rewrite it.
  scripts/pg.sh psql .data/pg "$port" -d postgres <<SQL
SELECT 'CREATE ROLE haki_owner LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haki_owner') \gexec
ALTER ROLE haki_owner PASSWORD '$owner_pw';
SELECT 'CREATE ROLE haki LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'haki') \gexec
ALTER ROLE haki PASSWORD '$pw';
SELECT 'CREATE DATABASE haki OWNER haki_owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'haki') \gexec
ALTER DATABASE haki OWNER TO haki_owner;
SQL
  # A database made before the split had the service's role own everything: hand it over.
  scripts/pg.sh psql .data/pg "$port" -d haki -c "REASSIGN OWNED BY haki TO haki_owner" >/dev/null
  export DATABASE_URL="postgres://haki:$pw@127.0.0.1:$port/haki"
  export HAKI_MIGRATION_DATABASE_URL="postgres://haki_owner:$owner_pw@127.0.0.1:$port/haki"
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

# On this local instance a second factor is optional for every role unless HAKI_MFA_REQUIRED_ROLES
# says otherwise (the service's own default requires one of admins and program managers).
if [ -z "${HAKI_MFA_REQUIRED_ROLES+set}" ]; then
  export HAKI_MFA_REQUIRED_ROLES=
  [ "${1:-serve}" = serve ] && echo "Second factor optional for every role here; set HAKI_MFA_REQUIRED_ROLES=admin,program_manager to require it."
fi

# Cargo shows its progress; the first release build compiles every dependency (a few minutes).
[ -x target/release/haki ] || echo "Building Haki (release). The first build takes a few minutes; later ones are quick."
cargo build --release --locked
if [ "${1:-serve}" = serve ]; then
  echo "Tip: \`make demo\` loads a small fictional demo dataset (users, partners, cases) before serving."
fi
exec target/release/haki "${@:-serve}"
