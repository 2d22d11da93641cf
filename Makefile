# Two commands on a fresh machine with Python 3.11 and pip:  make demo  and  make test.
# Both create (or reuse) .venv and install what they need; run them as often as you like.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install demo test lint typecheck pytest browser postgres clean

help:
	@echo "make demo   set up .venv and run the whole lifecycle on generated data"
	@echo "make test   set up .venv (and headless Chromium) and run ruff, mypy and pytest"
	@echo "make clean  remove .venv and the project's .workbench stores"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/workbench demo

# Headless Chromium for the dashboard's browser test: Debian's package where we are root,
# else Playwright's own build.
browser: install
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq chromium; \
	else $(BIN)/playwright install chromium; fi

# PostgreSQL for the shared-state tests (tests/scale start their own server on 127.0.0.1):
# Debian's package where we are root and it is missing.
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else echo "tests/scale need PostgreSQL (initdb, pg_ctl): install your system's package"; fi

lint: install
	$(BIN)/ruff check workbench tests benchmarks
	$(BIN)/ruff format --check workbench tests benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install browser postgres
	$(BIN)/python -m pytest --durations=25

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .workbench
