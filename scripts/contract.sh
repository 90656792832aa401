#!/usr/bin/env bash
# Checks the contract that frontend teams and integrators build on.
#   contract.sh spec            the committed openapi/openapi.json is valid OpenAPI 3.1, Redocly-clean
#                               (recommended rules), and a TypeScript client generated from it compiles
#   contract.sh fuzz BASE_URL   Schemathesis against the served spec as each of the six roles
#                               (the server must hold the demo dataset: `haki seed-demo`)
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
  fuzz)
    base=${2:?base url required}
    python_tools
    "$venv/bin/python" contract/fuzz.py "$base"
    ;;
  *)
    echo "usage: contract.sh spec | fuzz BASE_URL" >&2
    exit 2
    ;;
esac
