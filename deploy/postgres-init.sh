#!/bin/sh
# Runs once, when the container's cluster is created: the service's own role, which owns nothing
# (`haki migrate` with HAKI_MIGRATION_DATABASE_URL grants it what it needs).
set -eu
# The password is read from the environment inside psql, never put on a command line.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv pw HAKI_DB_PASSWORD
CREATE ROLE haki LOGIN PASSWORD :'pw';
GRANT CONNECT ON DATABASE :"DBNAME" TO haki;
SQL
