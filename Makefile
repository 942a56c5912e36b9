# Two entry points: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOPO := $(BIN)/topo-graphdb
STAMP := $(VENV)/.installed

.PHONY: install neo4j demo lint test test-unit test-gpu bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# pip keeps downloaded wheels in the user's cache (~/.cache/pip), so a second set-up is fast.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	$(BIN)/python -m topo_graphdb.pipeline.warmup  # compile the CPU kernels now, not in the first sync
	touch $@

install: $(STAMP)

# The local Neo4j (jars cached in ~/.cache/topo-graphdb and ~/.m2), unless NEO4J_URI points elsewhere.
neo4j: install
	@if [ -z "$$NEO4J_URI" ]; then $(TOPO) neo4j start; else echo "using the server at $$NEO4J_URI"; fi

demo: neo4j
	$(BIN)/python -m topo_graphdb.demo

# Static checks (settings in pyproject.toml, [tool.ruff]).
lint: install
	$(BIN)/ruff check topo_graphdb tests benchmarks cli.py

# Lint, then unit and integration tests; the integration tests start their own server on a free port.
test: install lint
	@if [ -z "$$NEO4J_URI" ]; then $(TOPO) neo4j assemble; fi
	$(BIN)/python -m pytest -m "not gpu" tests

test-unit: install
	$(BIN)/python -m pytest tests/unit

# On a machine with CUDA and the gpu extra installed.
test-gpu: install
	$(BIN)/python -m pytest -m gpu tests

clean:
	rm -rf $(VENV) .pytest_cache
