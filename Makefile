# The two set-up commands of the README are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e '.[test]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/knative-console dev

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check app tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy app/devcluster

test: $(VENV)/.installed-test lint
	bash scripts/ensure-chromium.sh
	$(VENV)/bin/pytest

bench: $(VENV)/.installed-test
	$(PY) -m bench

clean:
	rm -rf $(VENV) .devcluster .pytest_cache .ruff_cache .import_linter_cache test-output
