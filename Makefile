# The two commands a new machine needs: `make demo` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench lint install install-dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements/base.txt
	touch $@

$(VENV)/.dev-installed: requirements/base.txt requirements/dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $@ $(VENV)/.base-installed

install: $(VENV)/.base-installed
install-dev: $(VENV)/.dev-installed

# Development keys, generated once per checkout; production sets real ones.
var/demo.env: | $(VENV)/.base-installed
	mkdir -p var
	$(PY) -c "import secrets; from cryptography.fernet import Fernet; \
	print('SECRET_KEY=' + secrets.token_urlsafe(48)); print('CREDENTIAL_KEYS=' + Fernet.generate_key().decode())" > $@

demo: $(VENV)/.base-installed var/demo.env
	set -a; . ./var/demo.env; set +a; DEBUG=1 $(PY) manage.py demo

test: $(VENV)/.dev-installed
	$(PY) -m pytest

bench: $(VENV)/.dev-installed
	$(PY) benches/run.py

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/broker var/test.sqlite3
