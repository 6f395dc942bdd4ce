# Two commands do all the set-up: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo sandbox test lint typecheck contracts pytest bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "moodcheck needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## demo: run the bot on SQLite against the sandbox Bot API with a scripted patient
demo: $(STAMP)
	$(BIN)/moodcheck demo

## sandbox: try the bot in a browser (a patient's phone beside the care team's group)
PORT ?= 8300
sandbox: $(STAMP)
	$(BIN)/moodcheck sandbox --port $(PORT)

## test: every check: ruff, mypy --strict, import contracts, pytest
test: lint typecheck contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# Three workers per core (at most 8): the end-to-end tests mostly wait on HTTP, the database
# and subprocesses, so a worker uses well under a core (timings: docs/performance.md,
# "Figures behind constants in the code").
# Each worker has its own sandbox server, SQLite files and PostgreSQL database.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n * 3 > 8 ? 8 : n * 3 )))
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

## bench: the benchmarks (not part of `make test`); N=2000 by default
N ?= 2000
bench: $(STAMP)
	$(BIN)/python -m bench.fanout $(N)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
