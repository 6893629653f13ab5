# Two entry points (see README): `make demo` runs the quick-start story on an embedded
# local endpoint; `make test` runs the full test suite. Both build their own virtualenv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-s3-compatible lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/versioned demo

# mypy reads its settings (strict, mypy_path, package bases) from pyproject.toml.
# pytest-xdist: one worker per core (at most 4), each with a moto server of its own; the
# tests wait on servers and child processes, so 2 workers on 2 cores take 0.6x the time.
XDIST := -n auto --maxprocesses 4
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy --strict src tests
	$(BIN)/python -m pytest -q $(XDIST)

# The suite against SeaweedFS (S3) and MiniStack (DynamoDB) instead of moto: installs them
# under .servers/, starts them on 127.0.0.1, always stops them (scripts/s3_compatible.py).
test-s3-compatible: $(STAMP)
	$(BIN)/python scripts/s3_compatible.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy --strict src tests

bench: $(STAMP)
	$(BIN)/python benchmarks/requests_per_operation.py

clean:
	rm -rf $(VENV) .servers
