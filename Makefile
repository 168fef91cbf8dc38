# ModelFerry — the two commands that must work on a fresh machine are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo up bench lint clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .   # the `modelferry` command line
	touch $@

# infra — checkov (run by tests/infra) lives in its own virtualenv: its pinned dependencies (pycep-parser 0.5.1,
# among others) conflict with the app's. The stamp carries the version, so changing the pin reinstalls.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV    := .venv-checkov
CHECKOV_STAMP   := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@
# end infra

# browser — the dashboard test drives Debian's headless Chromium (DevTools protocol); installed only when absent
# (CI runs as root on a fresh machine; elsewhere through sudo).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q chromium
# end browser

## Whole test-suite (unit, emulator contract, devhost, end-to-end, infra checks, the dashboard in a browser).
test: $(STAMP) $(CHECKOV_STAMP) $(CHROMIUM)
	$(PY) -m pytest

# PORT=7072 puts the Functions host on that port (up: default 7071; demo: a free one). A port or stack folder
# (.local/demo/<port>/) already in use is refused before anything is touched.
PORT ?=
PORT_ARG = $(if $(PORT),--port $(PORT))

## The main job on the local cloud: trains, replicates by Event Grid, fails over by HTTP, prints a summary.
demo: $(STAMP)
	$(PY) -m demo $(PORT_ARG)

## Leave the local cloud and the Functions host running (Ctrl-C stops both); drive it with curl.
up: $(STAMP)
	$(PY) -m demo --up $(PORT_ARG)

## Benchmarks: devhost throughput and replay, copy latency and request counts vs the official SDK.
bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .venv-checkov .pytest_cache .ruff_cache .local
