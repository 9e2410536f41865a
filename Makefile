# classpulse: `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DEPS_STAMP := $(VENV)/.deps-$(shell cat pyproject.toml | sha1sum | cut -c1-10)
SYS_STAMP := $(VENV)/.sys-haproxy
PYTEST_ARGS ?=

.PHONY: demo test bench install system-deps lint clean

install: $(DEPS_STAMP) $(SYS_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.deps-*
	touch $@

# Debian packages: haproxy (Serve's fast ingress; ray[serve] also bundles one).
$(SYS_STAMP): | $(PY)
	@if ! command -v haproxy >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	  else echo "note: haproxy not installed and cannot apt-get it; Serve uses its bundled HAProxy or default proxy"; fi; \
	fi
	touch $@

system-deps: $(SYS_STAMP)

demo: install
	$(VENV)/bin/classpulse demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m loadtests.bench_ingest
	$(PY) -m loadtests.bench_edge

lint: install
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) classpulse-data .pytest_cache
