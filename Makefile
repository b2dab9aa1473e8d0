# `make demo` and `make test` create .venv and install on first use; later runs reuse it.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
BIN := $(VENV)/bin

.PHONY: demo test test-slow bench lint typecheck check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/foundations demo --output runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# Peer benchmarks (lightly, torchgeo, MONAI, pandas): ratios to runs/bench/bench.md.
bench: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python benchmarks/run_all.py --output runs/bench

lint: $(STAMP)
	$(BIN)/ruff check foundations domains evaluation tests benchmarks
	$(BIN)/ruff format --check foundations domains evaluation tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy foundations evaluation domains

check: lint typecheck test

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
