# Two commands a new user needs (see README):
#   make run   - set up .venv, generate the default 10,000-user sample if missing,
#                run the pipeline (one dbt build) and publish the ranking to SQLite
#   make test  - set up .venv and run every test (lint included; make pytest: the tests alone)
#   make test SPARK=1 - also install requirements-spark.txt and require the Spark tests
#                (they fail instead of skipping when pyspark or Java is missing); CI runs this
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
SPARK ?= 0
# dbt-bouncer requires duckdb<2 (this project pins duckdb 2), so it has a venv of
# its own; it needs no dbt, only the manifest that `dbt parse` writes
BOUNCER_VENV := .venv-bouncer
BOUNCER_STAMP := $(BOUNCER_VENV)/.installed
LINT_TARGET := target/lint
# pytest-xdist workers: one more than the cores, since most of the suite's time is
# real subprocesses (dbt builds, servers) that wait on each other; TEST_WORKERS=0 runs in-process
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: run test pytest lint lint-sql lint-dbt serve bench clean spark

# uv installs the pinned requirements (same versions as `pip install -r requirements.txt`)
# several times faster than pip (docs/benchmarks.md); it is the one tool pip installs into the new venv.
# --compile-bytecode: this environment sets PYTHONDONTWRITEBYTECODE=1, so without it every
# test process would compile the libraries from source again
UV_PIN := uv==0.13.9
UV := $(BIN)/uv
UV_INSTALL := $(UV) pip install --quiet --compile-bytecode

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(UV_PIN)

$(STAMP): requirements.txt pyproject.toml $(UV)
	$(UV_INSTALL) --python $(BIN)/python -r requirements.txt
	touch $(STAMP)

# the optional Spark executor of the top k (--topk-executor spark): pyspark and pandas on top.
# pip, not uv: pyspark ships as a source archive, and pip's wheel cache keeps the built
# wheel, where uv rebuilt the 300 MB archive on every install (docs/benchmarks.md)
$(SPARK_STAMP): requirements-spark.txt $(STAMP)
	$(BIN)/pip install --quiet -r requirements-spark.txt
	touch $(SPARK_STAMP)

ifeq ($(SPARK),1)
TEST_DEPS := $(SPARK_STAMP)
export USER_SIM_REQUIRE_SPARK := 1
endif

# --clear: an older or changed .venv-bouncer is rebuilt from scratch (uv refuses an existing one)
$(BOUNCER_STAMP): requirements-bouncer.txt $(UV)
	$(UV) venv --quiet --clear --python $(PYTHON) $(BOUNCER_VENV)
	$(UV_INSTALL) --python $(BOUNCER_VENV)/bin/python -r requirements-bouncer.txt
	touch $(BOUNCER_STAMP)

run: $(STAMP)
	$(BIN)/python -m pipeline --env dev --results_table user_ranking

# sqlfluff (dbt templater) and the manifest checks each keep one core busy, so they run side
# by side
lint: $(STAMP) $(BOUNCER_STAMP)
	$(BIN)/ruff check .
	mkdir -p data/warehouse
	$(MAKE) -j2 lint-sql lint-dbt

lint-sql: $(STAMP)
	$(BIN)/sqlfluff lint models --nocolor

# dbt parse writes the manifest (no warehouse data needed) into target/lint, apart from the
# partial-parse file sqlfluff's templater writes into target/, for the two metadata linters:
# dbt-bouncer (dbt-bouncer.yml: naming, docs, grain and unit tests) and dbt-score (every
# model at least 9.0, pyproject [tool.dbt-score])
lint-dbt: $(STAMP) $(BOUNCER_STAMP)
	$(BIN)/dbt parse --profiles-dir . --quiet --target-path $(LINT_TARGET) --log-path $(LINT_TARGET)/logs
	$(BOUNCER_VENV)/bin/dbt-bouncer run --config-file dbt-bouncer.yml
	$(BIN)/dbt-score lint --manifest $(LINT_TARGET)/manifest.json

# the two venvs are made side by side; the Spark extra (SPARK=1, mostly unpacking pyspark's
# jars) installs while the linters run (faster side by side, docs/benchmarks.md); pytest
# runs last, alone: beside pytest's workers the linters only slowed them (measured)
test:
	$(MAKE) -j2 $(STAMP) $(BOUNCER_STAMP)
	$(MAKE) -j3 lint $(TEST_DEPS)
	$(MAKE) pytest

pytest: $(STAMP) $(TEST_DEPS)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

spark: $(SPARK_STAMP)

# exec: the server replaces the recipe's shell, so stopping make (Ctrl-C, kill) stops the server too
serve: $(STAMP)
	exec env DATABASE_ENV=dev RESULTS_TABLE=user_ranking $(BIN)/python -m runserver

bench: $(STAMP)
	$(BIN)/python -m benchmarks.pipeline --users 10000

# keeps tracked files (data/warehouse/.gitkeep): a direct dbt build needs the folder
clean:
	rm -rf target logs data/sqlite3
	find data/warehouse -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
