# The two commands: `make test` and `make demo`. Both set up what they need themselves.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test demo lint typecheck pytest sysdeps venv bench mutants clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# System packages the tests need (Debian/Ubuntu): bubblewrap for the sandbox, PostgreSQL for
# the store tests on PostgreSQL (factory/testing/postgres.py starts its own server), Chromium for
# the viewer's browser tests (driven by Playwright's Python package, never its own browsers).
SYSPKGS := bubblewrap:bwrap chromium:chromium git:git postgresql:pg_ctlcluster systemd:systemd-analyze
sysdeps:
	@missing=""; for p in $(SYSPKGS); do command -v $${p#*:} >/dev/null 2>&1 || missing="$$missing $${p%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing from apt:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff format --check factory tests bench
	$(VENV)/bin/ruff check factory tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict factory

pytest: $(STAMP) sysdeps
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

demo: $(STAMP) sysdeps
	$(VENV)/bin/factoryd demo

bench: $(STAMP) sysdeps
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Mutation testing of the security- and reliability-critical modules ([tool.mutmut] in
# pyproject.toml); slow, so not part of `make test`. Results are kept in mutants/ and re-used:
# a second run only re-tests what changed. MUTMUT_ARGS="--max-children 2" limits the CPU.
MUTMUT_ARGS ?=
mutants: $(STAMP) sysdeps
	$(VENV)/bin/mutmut run $(MUTMUT_ARGS)
	$(PY) bench/mutation_score.py

clean:
	rm -rf $(VENV) .factoryd-demo .pytest_cache .mypy_cache .ruff_cache mutants
