# Holdfast. The quick start is two commands: `make demo` and `make test`.
# Everything runs from a virtual environment in .venv, made on first use.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
TOX_ARGS ?=

# python3 when it is 3.11 or newer, else the first python3.1x that is. Each
# candidate is run, not just looked up: a pyenv shim for a version that is
# not active exists on PATH but fails.
PYTHON_BOOT ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { command -v $$p; break; }; done)

# Installs are redone only when pyproject.toml is newer than their stamp.
STAMP_BASE := $(VENV)/.holdfast-installed
STAMP_TEST := $(VENV)/.holdfast-installed-test

.PHONY: help demo test test-one-thread test-io-threads lint bench-quick tox commands clean distclean
.PHONY: bench-memory

help:
	@echo "make demo         start a Holdfast server, load it, write results/demo/report.md, stop it"
	@echo "make test         run the test suite twice: as is, then with io-threads 4 (PYTEST_ARGS='-k expire -x' to pass options)"
	@echo "make lint         ruff check ."
	@echo "make bench-quick  Holdfast against redis-server, SET/GET at -P 1 and -P 16 (BENCH_ARGS='--rounds 1')"
	@echo "make bench-memory RSS per element, 1M hashes and a 1M-member zset, against redis-server (BENCH_ARGS='--rounds 3')"
	@echo "make tox          the test suite on every Python tox finds (installs tox into .venv)"
	@echo "make commands     the command table by family (to keep README.md honest)"
	@echo "make clean        remove caches and demo output; make distclean also removes .venv"

$(PY):
	@test -n "$(PYTHON_BOOT)" || { echo "Python 3.11 or newer is needed (python3, python3.12 or python3.13)" >&2; exit 1; }
	$(PYTHON_BOOT) -m venv $(VENV)

$(STAMP_BASE): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[bench]'
	@touch $@

$(STAMP_TEST): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test,bench]'
	@touch $@ $(STAMP_BASE)

demo: $(STAMP_BASE)
	$(PY) -m bench.demo $(DEMO_ARGS)

# `make test` runs the suite twice: as it is, then with every Holdfast server
# on `io-threads 4` (I/O worker processes: nothing may change for clients).
# The second pass leaves out suites that start no Holdfast server through
# tests/servers.py (the benchmark drivers start their own) or run in-process.
# pytest's exit status 5 means it collected no tests: say so, and fail.
# Each pass runs on TEST_WORKERS pytest-xdist workers (most tests wait on
# servers and sleeps, so two workers halve the time on a 2-core machine);
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
PYTEST_RUN = $(PY) -m pytest -n $(TEST_WORKERS) --durations=10
IO_PASS_SKIP = $(addprefix --ignore=tests/,test_bench_quick.py test_bench_sweep.py test_bench_memory.py test_bench_maxmemory_hotloop.py \
	test_bench_aof_rdb_demo.py test_durability.py test_kernel_aio.py test_reply_ordering.py) \
	--ignore=tests/test_sentinel.py \
	--deselect tests/test_crash_loop.py::test_crash_loop_loses_nothing_and_always_restarts

test: test-one-thread test-io-threads

test-one-thread: $(STAMP_TEST)
	@$(PYTEST_RUN) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit status 5): failing" >&2; fi; \
	exit $$rc

test-io-threads: $(STAMP_TEST)
	@echo "== the suite again with io-threads 4 =="
	@$(PYTEST_RUN) $(PYTEST_ARGS) --holdfast-arg='io-threads 4' $(IO_PASS_SKIP); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit status 5): failing" >&2; fi; \
	exit $$rc

lint: $(STAMP_TEST)
	$(PY) -m ruff check .

bench-quick: $(STAMP_BASE)
	$(PY) -m bench.quick $(BENCH_ARGS)

bench-memory: $(STAMP_BASE)
	$(PY) -m bench.memory $(BENCH_ARGS)

tox: $(STAMP_BASE)
	$(PY) -m pip install -q tox
	$(PY) -m tox $(TOX_ARGS)

# The command table as the server builds it, one line per family.
define LIST_COMMANDS
import collections
from engine.commands import load_all
groups = collections.defaultdict(list)
for name, cmd in sorted(load_all().items()):
    subs = " ".join(sorted(s.decode().upper() for s in cmd.subcommands))
    groups[cmd.group].append(name.decode().upper() + (" (%s)" % subs if subs else ""))
for group in sorted(groups):
    print("%s: %s" % (group, ", ".join(groups[group])))
endef
export LIST_COMMANDS

commands: $(STAMP_BASE)
	@$(PY) -c "$$LIST_COMMANDS"

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .hypothesis .tox
	rm -rf results/demo/data results/demo/holdfast.log results/demo/report.md
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
