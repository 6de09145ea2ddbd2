# The two commands of the README: `make run` installs and starts meetkit, `make test` runs every test.
.PHONY: run test test-unit lint bench clean

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

test-unit:
	.venv/bin/pytest -q tests/unit

lint:
	.venv/bin/ruff check src tests bench && .venv/bin/mypy && .venv/bin/lint-imports

bench:
	.venv/bin/python bench/api.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
