# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, then start everything on SQLite (http://localhost:8000).
run: install
	$(BIN)/herald serve

## Install, then run the whole test suite (slow tests included).
test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

demo: install
	$(BIN)/herald demo

bench: install
	$(BIN)/python -m bench.cli_list_show

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
