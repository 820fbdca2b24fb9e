# Two commands for a newcomer: `make demo` (set up, then play the offline story) and
# `make test` (set up, then lint, type-check and run the tests on SQLite and PostgreSQL).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ZHITONG_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: setup demo test lint typecheck pytest bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@$(BIN)/python scripts/setup_extras.py
	touch $(STAMP)

demo: setup
	$(BIN)/zhitong demo

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: setup
	$(BIN)/python benchmarks/tagging.py
	$(BIN)/python benchmarks/sweeps.py
	$(BIN)/python benchmarks/stats.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache zhitong-demo.db*
