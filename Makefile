# Two commands on a fresh machine: `make serve` (serve examples/hello on port 5000) and
# `make test` (install everything the tests need, then run them all). .ci/run runs `make test`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000

.PHONY: install serve test test-fast clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	cd examples/hello && PORT=$(PORT) ../../$(PY) -m runtime

test: install
	$(PY) -m pytest

# The runtime and schema tests only: no Docker engine needed.
test-fast: install
	$(PY) -m pytest tests/runtime tests/schema

clean:
	rm -rf $(VENV) build dist *.egg-info
