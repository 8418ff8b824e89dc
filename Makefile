# `make run` starts the app, `make serve` the app with its HTTP service, `make api` the
# service alone, `make test` runs every test.
VENV := .venv
PYTHON := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run serve api test lint format clean

run: $(RUNTIME)
	$(VENV)/bin/streamlit run app.py

# The app and the HTTP service in one process: pages at /, the service at /api.
serve: $(RUNTIME)
	$(VENV)/bin/streamlit run serve.py

# The HTTP service alone, on 127.0.0.1:8000 (python -m rag.api --help).
api: $(RUNTIME)
	$(PYTHON) -m rag.api

test: $(DEV)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m pytest

lint: $(DEV)
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(RUNTIME): requirements.txt constraints.txt | $(VENV)/bin/python
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV): $(RUNTIME) requirements-dev.txt
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-output
