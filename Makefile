# Two commands on a fresh machine with Python 3.11 and pip:  make demo  and  make test.
# Both create (or reuse) .venv and install what they need; run them as often as you like.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install demo test lint typecheck pytest docs browser postgres clean

help:
	@echo "make demo   set up .venv and run the whole lifecycle on generated data"
	@echo "make test   set up .venv (and headless Chromium) and run ruff, mypy, pytest and make docs"
	@echo "make docs   build the documentation site into build/site (strict: a broken link fails)"
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

# The suite on PYTEST_WORKERS processes (pytest-xdist), each file whole on one of them: a
# file's tests share its module fixtures, and each process runs its own session demo.
# PYTEST_WORKERS=0 runs it in this process alone.
PYTEST_WORKERS ?= 2

pytest: install browser postgres
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=25

# The documentation site (MkDocs, docs/ and mkdocs.yml) into build/site, strict. Its tutorial
# pages are the notebooks executed into build/docs/notebooks: by the test suite
# (tests/test_notebooks.py keeps its executions there), else here, for each notebook whose
# executed copy is missing or older than it.
TUTORIALS := $(wildcard notebooks/*.ipynb)
EXECUTED  := $(TUTORIALS:notebooks/%=build/docs/notebooks/notebooks/%)

build/docs/notebooks/notebooks/%.ipynb: notebooks/%.ipynb | install
	@mkdir -p build/docs/project
	$(BIN)/workbench run-notebooks --only 'notebooks/$*.ipynb' --out build/docs/notebooks \
		-p project_dir=$(CURDIR)/build/docs/project || { rm -f $@; exit 1; }

docs: install $(EXECUTED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: lint typecheck pytest docs

clean:
	rm -rf $(VENV) .workbench build/docs build/site build/site-notebooks
