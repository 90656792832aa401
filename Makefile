.PHONY: run demo test lint openapi migrate bench stop clean-data

# Start Haki on http://127.0.0.1:8080 (provisions a local PostgreSQL in .data/ when DATABASE_URL is unset).
run:
	scripts/run.sh serve

# Load the fictional demo dataset (once), then start Haki like `make run`.
demo:
	scripts/run.sh seed-demo
	scripts/run.sh serve

# Run the whole test suite against a throwaway PostgreSQL.
test:
	scripts/test.sh

lint:
	scripts/deps.sh
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings

# Regenerate the committed OpenAPI document.
openapi:
	cargo run --quiet --locked -- openapi > openapi/openapi.json

migrate:
	scripts/run.sh migrate

bench:
	bench/run.sh

# Stop the local database that `make run` started (its data stays in .data/).
stop:
	@if [ -f .data/pg/data/PG_VERSION ]; then scripts/pg.sh stop .data/pg && echo "local database stopped; \`make run\` starts it again"; else echo "no local database in .data/pg"; fi

# Stop the local database and delete all local data (asks first).
clean-data:
	@read -p "Delete .data/ (local database and secrets)? [y/N] " a && [ "$$a" = y ] && { scripts/pg.sh stop .data/pg; rm -rf .data; } || true
