# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper of those.
# `make run CONFIG=opensmsc.toml` runs with a configuration file (default: the embedded one).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
HASH    = $(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Running needs only the package; testing, linting and benchmarks need the dev and bench extras.
RUN_STAMP = $(VENV)/.installed-run-$(HASH)
DEV_STAMP = $(VENV)/.installed-dev-$(HASH)

.PHONY: run test install lint typecheck bench clean cluster

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	test -f $(DEV_STAMP) || $(PY) -m pip install --quiet -e .
	rm -f $(VENV)/.installed-run-* && touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	rm -f $(VENV)/.installed-dev-* && touch $@

install: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(VENV)/bin/opensmsc run $(if $(CONFIG),--config '$(CONFIG)')

# Three nodes on this machine's PostgreSQL and NATS behind HAProxy on 2775/3550/8080
# (docs/scaling.md); `make cluster NODES=2` for another count. Ctrl-C stops them all.
cluster: $(RUN_STAMP)
	bash tests/install-system-deps.sh haproxy postgresql nats-server
	$(VENV)/bin/opensmsc cluster local $(if $(NODES),--nodes $(NODES))

test: install
	bash tests/install-system-deps.sh
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy --strict src/opensmsc

bench: install
	$(PY) bench/codec.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache data
