# classpulse: `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DEPS_STAMP := $(VENV)/.deps-$(shell cat pyproject.toml | sha1sum | cut -c1-10)
# outside the venv: the system packages (python3-venv among them) come before it
SYS_STAMP := .stamp-sys-debian-2
PYTEST_ARGS ?=

.PHONY: demo test bench install system-deps lint clean

install: $(DEPS_STAMP) $(SYS_STAMP)

# a venv that failed half way (no ensurepip) is removed, so the next make tries again
$(PY): | $(SYS_STAMP)
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "could not create $(VENV): on Debian/Ubuntu install python3-venv (sudo make system-deps)"; exit 1; }
	$(PY) -m pip install -q --upgrade pip

$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.deps-*
	touch $@

# Debian packages: python3-venv (the virtualenv's pip), haproxy (Serve's fast ingress; ray[serve]
# also bundles one), chromium (browser tests drive it with Playwright, which cannot download its
# own here), an emoji font for screenshots. The stamp is written only once all are there: a run
# without root notes what is missing and checks again next time (a few dpkg calls), so a later
# `sudo make system-deps` installs them.
SYS_PACKAGES := python3-venv haproxy chromium fonts-noto-color-emoji
$(SYS_STAMP):
	@missing=""; for p in $(SYS_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null \
	    && missing=""; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "note: missing Debian packages:$$missing (not root, no apt-get, or the install failed);" \
	       "browser tests will be skipped; sudo make system-deps installs them"; \
	else touch $@; fi

system-deps: $(SYS_STAMP)

demo: install
	$(VENV)/bin/classpulse demo

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m loadtests.bench_ingest --cpu
	$(PY) -m loadtests.bench_ingest --observe-cost
	$(PY) -m loadtests.bench_ingest --derive-cost
	$(PY) -m loadtests.bench_commit
	$(PY) -m loadtests.bench_hub
	$(PY) -m loadtests.bench_edge
	$(PY) -m loadtests.bench_xapi
	$(PY) -m loadtests.bench_simulator
	$(PY) -m loadtests.bench_risk
	$(PY) -m loadtests.bench_capacity --steps 100,250,500,1000,1500 --seconds 30
	$(PY) -m loadtests.bench_comms
	$(PY) -m loadtests.bench_analytics --endpoint

lint: install
	$(PY) -m ruff check .

# the venv and caches only: classpulse-data holds the event log (the system of record) and tokens
clean:
	rm -rf $(VENV) .pytest_cache $(SYS_STAMP)
