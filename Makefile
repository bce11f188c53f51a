# The two commands in README.md: `make quickstart` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: venv quickstart test bench clean

$(BIN)/tgsweep: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,plot,cluster]'
	touch $(BIN)/tgsweep

venv: $(BIN)/tgsweep

quickstart: venv
	$(BIN)/tgsweep run workflows/quickstart.toml --out data/quickstart.zarr --workers 2
	$(BIN)/tgsweep plot data/quickstart.zarr --outdir data/quickstart-figures

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python benchmarks/bench_core.py

clean:
	rm -rf $(VENV) build *.egg-info
