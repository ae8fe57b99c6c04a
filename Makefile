# rltransfer — the commands people expect. `make demo` and `make test` set up from scratch.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/rltransfer demo

lint: setup
	$(BIN)/ruff check rltransfer envs tests benchmarks
	$(BIN)/ruff format --check rltransfer envs tests benchmarks
	$(BIN)/mypy rltransfer envs benchmarks

test: lint
	$(BIN)/pytest -q -p no:cacheprovider -n auto

bench: setup
	$(BIN)/python -m benchmarks all

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
