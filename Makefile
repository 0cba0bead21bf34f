# Two commands: `make run` (server on the embedded default with demo data) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-embedded test-postgres lint bench-import clean

$(STAMP): pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]" -e client
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/concord db upgrade
	$(BIN)/concord demo
	$(BIN)/concord serve --host 127.0.0.1 --port 8080

test: $(STAMP)
	scripts/test.sh

test-embedded: $(STAMP)
	scripts/test.sh embedded

test-postgres: $(STAMP)
	scripts/test.sh postgres

lint: $(STAMP)
	$(BIN)/ruff check backend worker tests bench client

bench-import: $(STAMP)
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) var .pytest_cache
