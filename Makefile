# Maestro — the README's commands. Each creates (or reuses) .venv and installs the project into it,
# exactly the versions in uv.lock (uv installs them; it is bootstrapped into .venv with pip).
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV ?= .venv
BIN := $(VENV)/bin
MAESTRO_HOME ?= $(CURDIR)/.maestro
DAGSTER_HOME ?= $(MAESTRO_HOME)/dagster
PORT ?= 3000
MLFLOW_PORT ?= 5000
NAME ?=
export MAESTRO_HOME DAGSTER_HOME

STAMP := $(VENV)/.installed

.PHONY: demo test ui bench install lock clean

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --extra dev --inexact --compile-bytecode --quiet
	touch $(STAMP)

install: $(STAMP)

## make demo: run the whole platform on the embedded defaults (seeds the demo data first)
demo: $(STAMP)
	$(BIN)/maestro demo

## make test: lint (ruff), then the test suite against real PostgreSQL, S3 (rclone), MLflow and Dagster
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lock: re-resolve uv.lock after a change of pyproject.toml's dependencies
lock: $(VENV)/bin/uv
	$(BIN)/uv lock

$(VENV)/bin/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

## make ui: the Dagster UI and daemon on http://127.0.0.1:$(PORT), and the MLflow UI of the local
## tracking store on http://127.0.0.1:$(MLFLOW_PORT) (not when MLFLOW_TRACKING_URI is a server)
ui: $(STAMP)
	mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	mkdir -p $(MAESTRO_HOME)/mlflow
	case "$${MLFLOW_TRACKING_URI:-}" in http*) ;; *) \
	  $(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(MAESTRO_HOME)/mlflow/mlflow.db}" \
	    -h 127.0.0.1 -p $(MLFLOW_PORT) > $(MAESTRO_HOME)/mlflow/ui.log 2>&1 & echo $$! > $(MAESTRO_HOME)/mlflow/ui.pid ;; esac
	trap 'test -f $(MAESTRO_HOME)/mlflow/ui.pid && kill $$(cat $(MAESTRO_HOME)/mlflow/ui.pid) 2>/dev/null; rm -f $(MAESTRO_HOME)/mlflow/ui.pid' EXIT INT TERM; \
	MAESTRO_MLFLOW_UI_URL=http://127.0.0.1:$(MLFLOW_PORT) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

## make bench [NAME=dagster_overhead]: benchmarks, one JSON line per figure (installs the peers of extra 'bench')
bench: $(STAMP)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --extra dev --extra bench --inexact --compile-bytecode --quiet
	# ISLP only for the data sets it bundles (automl_vs_flaml); --no-deps keeps its torch stack out
	$(BIN)/uv pip install --python $(BIN)/python --no-deps --quiet ISLP
	$(BIN)/python -m benchmarks $(NAME)

clean:
	rm -rf $(VENV) .pytest_cache
