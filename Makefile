# Herald: the two commands of the README are `make demo` and `make test`; both do all set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup stack demo test test-unit bench bench-persist down

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

stack: setup
	$(BIN)/herald dev up

demo: stack
	$(BIN)/herald demo

test: stack
	$(BIN)/python -m pytest -q --durations=10

test-unit: setup
	$(BIN)/python -m pytest -q tests/unit

bench-persist: stack
	$(BIN)/python bench/persist.py

bench: bench-persist

down:
	$(BIN)/herald dev down
