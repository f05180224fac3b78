# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench broker migrate system-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.runtime-installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput

## Serve the console on http://127.0.0.1:8000 with SQLite through granian (threaded workers,
## WhiteNoise for static files; IOTHUB_WEB_WORKERS, IOTHUB_WEB_THREADS), and the task worker
## beside it. Ctrl-C stops both.
run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	./scripts/run-console $(HOST):$(PORT)

## Build the broker plugin and run Mosquitto with it: certificate devices on $$IOTHUB_MQTT_PORT
## (8883), Key devices on $$IOTHUB_MQTT_KEY_PORT (8884); the console ($$IOTHUB_CONSOLE_URL,
## `make run`) decides every connection. Stops, with Mosquitto's error, if Mosquitto stops.
broker: migrate
	./scripts/install-system-packages
	$(MAKE) -s -C broker/plugin
	$(BIN)/python manage.py run_broker $(BROKER_ARGS)

system-packages:
	./scripts/install-system-packages

## Run the whole test suite (browser, broker and OpenSSL tests included), on SQLite
## and then on a throwaway PostgreSQL cluster; then the batch tests once more on the
## RQ backend, against a throwaway Redis and real RQ workers.
test: lint system-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	./scripts/with-postgres $(BIN)/python -m pytest $(PYTEST_ARGS)
	IOTHUB_TASKS_BACKEND=django_tasks_rq.RQBackend ./scripts/with-redis $(BIN)/python -m pytest $(PYTEST_ARGS) tests/batches

## Static checks: ruff (lint and format) and mypy with django-stubs, configured in pyproject.toml.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## Measure batch issuance, the device list at 100,000 devices, certificate uploads and a batch's
## memory on a throwaway SQLite database; prints each figure beside its target (3 to 5 minutes).
## `make bench BENCH_ARGS=--quick` is a smoke run of under a minute.
bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .test-db-*.sqlite3*
