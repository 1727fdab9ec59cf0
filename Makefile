# The two commands of the README: `make run` and `make test`. `make bench` writes docs/benchmarks.md.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

run: venv
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 PORT=$(PORT) $(PY) manage.py bootstrap_demo
	DEBUG=1 $(PY) manage.py ensure_default_channel
	DEBUG=1 PORT=$(PORT) $(PY) -m config.serve

test: venv
	$(VENV)/bin/ruff check .
	SECRET_KEY=test-only-secret $(PY) scripts/with_services.py -- $(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	SECRET_KEY=bench-only-secret $(PY) scripts/with_services.py -- $(PY) -m bench

clean:
	rm -rf $(VENV) var
