#!/usr/bin/env bash
# The whole test suite, from a clean checkout: install (with test extras), start the services the tests
# need, lint, type-check, check the import contracts (pyproject.toml), then pytest on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh dev
bash scripts/services.sh

echo "test: ruff"
.venv/bin/ruff check src tests bench
echo "test: mypy"
.venv/bin/mypy
echo "test: import contracts"
.venv/bin/lint-imports
echo "test: pytest"
exec .venv/bin/pytest "$@"
