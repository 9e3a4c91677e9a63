# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Reinstall only when a requirements file changed since the last install.
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format install migrate seed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=1 $(BIN)/python manage.py migrate --noinput

seed: migrate
	DEBUG=1 $(BIN)/python manage.py seed_demo

# The web app, a Celery worker and beat on the embedded defaults (SQLite, filesystem broker).
run: seed
	DEBUG=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

test: install
	$(BIN)/python -m pytest

# At clinic-network scale on PostgreSQL (BENCH_PATIENTS, default 20000; BENCH_DATABASE_URL); writes
# bench/results.json. Not part of `make test`; tests/test_bench_smoke.py runs a tiny version.
bench: install
	$(BIN)/python bench/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
