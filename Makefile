# Two commands a new user needs (see README):
#   make run   - set up .venv, generate the default 10,000-user sample if missing,
#                run the pipeline (one dbt build) and publish the ranking to SQLite
#   make test  - set up .venv and run every test (lint included)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: run test lint serve bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m pipeline --env dev --results_table user_ranking

lint: $(STAMP)
	$(BIN)/ruff check .
	mkdir -p data/warehouse
	$(BIN)/sqlfluff lint models --nocolor

test: $(STAMP) lint
	$(BIN)/python -m pytest

# exec: the server replaces the recipe's shell, so stopping make (Ctrl-C, kill) stops the server too
serve: $(STAMP)
	exec env DATABASE_ENV=dev RESULTS_TABLE=user_ranking $(BIN)/python -m runserver

bench: $(STAMP)
	$(BIN)/python -m benchmarks.pipeline --users 10000

# keeps tracked files (data/warehouse/.gitkeep): a direct dbt build needs the folder
clean:
	rm -rf target logs data/sqlite3
	find data/warehouse -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
