# Two commands on a fresh machine: `make serve` (serve examples/hello on port 5000) and
# `make test` (install everything the tests need, then run them all). .ci/run runs `make lint`,
# then `make test`. CONTRIBUTING.md says what each target is for.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000

.PHONY: install serve lint test test-fast compat clean settings-table docs-check bench docker-env system-deps soak

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

serve: install
	cd examples/hello && PORT=$(PORT) ../../$(PY) -P -m runtime

# The builder's tests need a Docker engine and a local stand-in for python:3.11-slim (no image
# registry is reachable here); scripts/base-image.sh installs and starts what is missing.
docker-env:
	sh scripts/base-image.sh

# Debian packages the tests drive for real: HAProxy, for the gateway test; docker-compose, for
# tests/e2e (examples/deploy run as containers).
system-deps:
	@command -v haproxy >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy)
	@command -v docker-compose >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker-compose)

# The examples' own packages (torch 2.13.0 CPU, sentence-transformers, OpenCV), for the tests
# that run each example through the runtime.
$(VENV)/.examples: $(VENV)/.installed examples/requirements-test.txt examples/face-detect/requirements.txt examples/text-embed/requirements.txt
	$(PY) -m pip install --quiet -r examples/requirements-test.txt
	touch $@

# ruff's lint rules and formatting, then mypy over the packages (configured in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

# Every layer: tests/unit, tests/integration, tests/e2e (Docker, HAProxy, the examples' packages,
# Cog's releases in venvs), with all they need installed first.
test: install $(VENV)/.examples system-deps docker-env
	$(PY) -m pytest

# tests/unit and tests/integration: no root, no system packages, no Docker.
test-fast: install
	$(PY) -m pytest tests/unit tests/integration

# Predictors written for Cog, in venvs without cog, with cog 0.9.8 and with the latest cog (made
# under .sprocket-test-envs/ on first use), and their schemas beside Cog 0.9.8's own server.
compat: install
	$(PY) -m pytest tests/e2e/compat

# Sprocket side by side with Cog 0.9.8 and coglet (benchmarks/README.md). The harness has its own
# venv; it creates the reference servers' venvs under benchmarks/.envs/ itself. BENCH_ARGS=--help.
BENCH_VENV := benchmarks/.envs/harness
BENCH_ARGS ?=

$(BENCH_VENV)/.installed: benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

bench: install $(BENCH_VENV)/.installed docker-env
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	@command -v docker-compose >/dev/null || apt-get install -y docker-compose || (apt-get update && apt-get install -y docker-compose)
	$(BENCH_VENV)/bin/python -m benchmarks $(BENCH_ARGS)

# 20 000 mixed predictions against one server, reporting resource drift (benchmarks/soak/).
# SOAK_ARGS=--help. Writes benchmarks/results/soak-<date>.json; exits 1 on any failed request.
SOAK_ARGS ?=
soak: install
	$(PY) -m benchmarks.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info

# Rewrite docs/settings.md's table from runtime/config.py's SETTINGS (tests/unit/test_settings_page.py
# fails while the two differ).
settings-table: install
	$(PY) -c "import re, runtime.config as c; p='docs/settings.md'; s=open(p).read(); \
	s=re.sub(r'(<!-- settings-table:.*?-->\n).*?(\n<!-- end settings-table -->)', lambda m: m.group(1)+c.settings_table()+m.group(2), s, flags=re.S); open(p,'w').write(s)"

# Every command the docs show, run for real and compared with what they print (tests/doccheck):
# the blocks that need only Python and loopback (also in test-fast), then those that need Docker,
# HAProxy or the examples' packages, which it installs first as `make test` does.
docs-check: install $(VENV)/.examples system-deps docker-env
	$(PY) -m pytest tests/unit/test_docs.py tests/integration/test_docs.py tests/e2e/test_docs.py
