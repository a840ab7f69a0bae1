# The two set-up commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
# The lock files (uv pip compile, hashes for every platform): runtime.txt for `make run` and the image,
# test.txt (the runtime pins plus the test extra) for `make test` and CI. `make lock` rewrites them.
RUNTIME_LOCK := requirements/runtime.txt
TEST_LOCK := requirements/test.txt
COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet $(LOCK_FLAGS)

# The suite runs on this many pytest-xdist workers (each with its own dev clusters); 0 runs it in one process.
# Three on a 2-core machine: much of the suite waits on dev clusters and browsers (208 s against 275 s with two;
# four gave no more).
TEST_WORKERS ?= 3

.PHONY: run test lint lock bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(RUNTIME_LOCK) | $(VENV)/bin/python
	$(PIP) install --require-hashes -r $(RUNTIME_LOCK)
	$(PIP) install --no-deps -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(TEST_LOCK) | $(VENV)/bin/python
	$(PIP) install --require-hashes -r $(TEST_LOCK)
	$(PIP) install --no-deps -e .
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/knative-console dev

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy --strict --exclude '^app/devcluster/' app
	$(VENV)/bin/mypy app/devcluster

test: $(VENV)/.installed-test lint
	bash scripts/ensure-chromium.sh
	$(VENV)/bin/pytest -n $(TEST_WORKERS)

# After changing dependencies in pyproject.toml. Pins already in the lock are kept;
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release allowed.
lock: | $(VENV)/bin/python
	$(PIP) install 'uv>=0.5,<1'
	$(COMPILE) -o $(RUNTIME_LOCK)
	$(COMPILE) --extra test --constraint $(RUNTIME_LOCK) -o $(TEST_LOCK)

bench: $(VENV)/.installed-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) .devcluster .pytest_cache .ruff_cache .mypy_cache .import_linter_cache test-output dist build
