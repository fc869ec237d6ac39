# Two commands on a fresh machine:  `make run`  and  `make test`.
# Each sets up the virtual environment first (once; again only when pyproject.toml changes).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: install run test viz mlflow-ui clean-data readme screenshots

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)            ## the whole default pipeline on conf/base
	$(BIN)/kedro run $(ARGS)

test: $(STAMP)           ## the test suite (what .ci/run calls)
	$(BIN)/python -m pytest $(ARGS)

bench-%: $(STAMP)        ## a benchmark: make bench-headline | bench-time_to_quality | bench-speed_steps | bench-components | bench-end_to_end
	$(BIN)/python benchmarks/$*.py $(ARGS)

readme: $(STAMP)         ## rewrite the README's generated result tables from benchmarks/results/*.json
	$(BIN)/python benchmarks/readme_tables.py

viz: $(STAMP)
	$(BIN)/kedro viz run

mlflow-ui: $(STAMP)     ## the MLflow UI on this checkout's store, with the link to its runs table
	@$(BIN)/python -c "import mlflow; mlflow.set_tracking_uri('sqlite:///mlflow.db'); \
	  e = mlflow.get_experiment_by_name('cpc_pipeline'); \
	  print('runs table: http://127.0.0.1:5000/#/experiments/%s/runs?workflowType=machine_learning' % e.experiment_id if e else 'no cpc_pipeline experiment yet: kedro run first')"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

screenshots: $(STAMP)    ## docs/*.png from the run in this checkout (after `make run ARGS="--env smoke"`; needs chromium)
	KEDRO_ENV=$(or $(KEDRO_ENV),smoke) docs/screenshots.sh

clean-data:              ## delete every generated dataset (keeps data/01_raw)
	find data/0[2-8]_* -type f ! -name .gitkeep -delete
