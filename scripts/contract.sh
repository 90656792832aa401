#!/usr/bin/env bash
# Checks the contract that frontend teams and integrators build on.
#   contract.sh spec            the committed openapi/openapi.json is valid OpenAPI 3.1, Redocly-clean
#                               (recommended rules), and a TypeScript client generated from it compiles
#   contract.sh fuzz BASE_URL   Schemathesis against the served spec as each of the six roles
#                               (the server must hold the demo dataset: `haki seed-demo`)
#   contract.sh served          creates a scratch database on the server of DATABASE_URL, loads the
#                               demo dataset, serves the debug build on a free port and runs `fuzz`
# Tool versions are pinned in contract/package-lock.json and contract/requirements.txt; they are
# installed on first use into contract/node_modules and .tools/venv.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.tools/venv
python_tools() {
  if [ ! -x "$venv/bin/python" ] || ! cmp -s contract/requirements.txt "$venv/requirements.txt"; then
    echo "contract: installing Python tools (contract/requirements.txt)" >&2
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      rm -rf "$venv"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check -r contract/requirements.txt
    cp contract/requirements.txt "$venv/requirements.txt"
  fi
}

node_tools() {
  if [ ! -f contract/node_modules/.package-lock.json ] || [ contract/package-lock.json -nt contract/node_modules/.package-lock.json ]; then
    echo "contract: installing Node tools (contract/package-lock.json)" >&2
    (cd contract && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# The README's curl walkthrough, run as written against BASE_URL: every call must succeed.
walkthrough() {
  command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
  local script
  script=$(awk '/^## Calling it with curl/{on=1} on && /^```sh/{code=1; next} code && /^```/{exit} code' README.md)
  [ -n "$script" ] || { echo "contract: no walkthrough found in README.md" >&2; exit 1; }
  script=${script//http:\/\/127.0.0.1:8080/$1}
  script=${script//scripts\/run.sh user create/target\/debug\/haki user create}
  echo "contract: README walkthrough"
  # curl fails on any 4xx/5xx answer, and so does the walkthrough.
  if ! bash -euo pipefail -c "curl() { command curl --fail-with-body \"\$@\"; echo; }; $script" > "${TMPDIR:-/tmp}/haki-walkthrough.log" 2>&1; then
    tail -20 "${TMPDIR:-/tmp}/haki-walkthrough.log" >&2
    echo "contract: the README walkthrough failed" >&2
    exit 1
  fi
  echo "contract: README walkthrough passed"
}

case "${1:-}" in
  spec)
    python_tools
    node_tools
    echo "contract: OpenAPI 3.1 schema validation"
    "$venv/bin/openapi-spec-validator" openapi/openapi.json
    echo "contract: Redocly lint (recommended)"
    (cd contract && npx --no-install redocly lint --config redocly.yaml --format=summary ../openapi/openapi.json 2>&1 \
      | grep -v -e '^npm warn' -e 'nodedir') || { echo "contract: Redocly found errors" >&2; exit 1; }
    echo "contract: TypeScript client"
    mkdir -p contract/generated
    (cd contract && npx --no-install openapi-typescript ../openapi/openapi.json -o generated/haki.d.ts --silent \
      && npx --no-install tsc -p tsconfig.json)
    echo "contract: spec checks passed"
    ;;
  python-tools)
    python_tools
    ;;
  fuzz)
    base=${2:?base url required}
    python_tools
    "$venv/bin/python" contract/fuzz.py "$base"
    ;;
  walkthrough)
    walkthrough "${2:?base url required}"
    ;;
  served)
    : "${DATABASE_URL:?DATABASE_URL must name a server whose user may create databases}"
    db="haki_contract_$$"
    admin_url=$DATABASE_URL
    url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$DATABASE_URL" "$db")
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    psql "$admin_url" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
    server=""
    # The service runs as a role of its own that owns nothing, as `make run` sets it up; the
    # migrations run as the database's owner.
    role="haki_contract_$$"
    role_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    # Documents of this run go to a scratch folder, never to a local instance's .data.
    export HAKI_DOCUMENT_STORE="${TMPDIR:-/tmp}/haki-contract-documents-$$"
    finish() {
      [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
      psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
      rm -rf "$HAKI_DOCUMENT_STORE"
    }
    trap finish EXIT
    psql "$admin_url" -q -v ON_ERROR_STOP=1 -c "CREATE ROLE $role LOGIN PASSWORD '$role_pw'" >/dev/null
    service_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); port=f":{p.port}" if p.port else ""; print(u.urlunsplit(p._replace(netloc=f"{sys.argv[2]}:{sys.argv[3]}@{p.hostname}{port}")))' "$url" "$role" "$role_pw")
    cargo build --locked --quiet
    export DATABASE_URL=$service_url HAKI_MIGRATION_DATABASE_URL=$url
    export HAKI_BIND=127.0.0.1:$port HAKI_LOGIN_RATE_PER_MINUTE=100000 HAKI_MFA_REQUIRED_ROLES= RUST_LOG=${RUST_LOG:-warn},haki=info
    HAKI_JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n'); export HAKI_JWT_SECRET
    HAKI_DATA_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '\n'); export HAKI_DATA_KEY
    target/debug/haki migrate >/dev/null
    echo "contract: the service's role cannot disable or rewrite the audit log"
    psql "$service_url" -q -c "SELECT count(*) FROM audit_log" >/dev/null \
      || { echo "contract: the service's role cannot read the audit log" >&2; exit 1; }
    for sql in "ALTER TABLE audit_log DISABLE TRIGGER ALL" "DELETE FROM audit_log" "UPDATE audit_log SET action = action"; do
      if psql "$service_url" -q -c "$sql" >/dev/null 2>&1; then
        echo "contract: the service's role could run: $sql" >&2; exit 1
      fi
    done
    target/debug/haki seed-demo >/dev/null
    # Fuzzed webhooks name made-up addresses: this instance never sends deliveries anywhere.
    export HAKI_WEBHOOK_DELIVERY=false
    target/debug/haki serve > "${TMPDIR:-/tmp}/haki-contract-server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
      sleep 0.2
    done
    walkthrough "http://127.0.0.1:$port"
    echo "contract: a second server on the taken port names the setting to change"
    if taken=$(timeout 60 target/debug/haki serve 2>&1); then
      echo "contract: a second server started on a taken port" >&2; exit 1
    fi
    grep -q "HAKI_BIND" <<<"$taken" || { echo "contract: no HAKI_BIND hint in: $taken" >&2; exit 1; }
    python_tools
    "$venv/bin/python" contract/fuzz.py "http://127.0.0.1:$port"
    echo "contract: Ctrl-C stops the server gracefully"
    kill -INT "$server"
    wait "$server" || { echo "contract: the server exited with $? on SIGINT" >&2; exit 1; }
    server=""
    grep -q "Haki stopped" "${TMPDIR:-/tmp}/haki-contract-server.log" \
      || { echo "contract: no graceful stop in the server log" >&2; exit 1; }
    ;;
  *)
    echo "usage: contract.sh spec | fuzz BASE_URL | served" >&2
    exit 2
    ;;
esac
