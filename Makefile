# Two commands on a fresh machine:  `make run`  and  `make test`.
# Each sets up the virtual environment first (once; again only when pyproject.toml changes).
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export KEDRO_DISABLE_TELEMETRY := 1

FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: install run test lint format viz mlflow-ui clean-data readme screenshots fashion-mnist gpu-check

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)            ## the whole default pipeline on conf/base
	$(BIN)/kedro run $(ARGS)

test: $(STAMP) fashion-mnist lint  ## ruff's checks, then the test suite (what .ci/run calls)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)           ## ruff: lint and formatting checks (pyproject.toml's [tool.ruff])
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)         ## ruff: format the code and fix what its lint rules can fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

fashion-mnist: $(FASHION)  ## Debian's dataset-fashion-mnist (the second real dataset; its tests skip without it)

$(FASHION):
	@if command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo "sudo -n" ); \
	  { $$SUDO apt-get install -y -qq dataset-fashion-mnist || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; }; } >/dev/null 2>&1 || \
	  echo "note: could not install dataset-fashion-mnist (needs root); its tests will skip"; \
	else echo "note: no apt-get: Fashion-MNIST tests will skip (or list your own folder under source.roots)"; fi

bench-%: $(STAMP)        ## a benchmark: make bench-headline | bench-time_to_quality | bench-speed_steps | bench-components | bench-end_to_end
	$(BIN)/python benchmarks/$*.py $(ARGS)

gpu-check: $(STAMP)      ## the CUDA paths on one GPU in <= 8 min (benchmarks/gpu_check.sh; skips its CUDA parts without one)
	benchmarks/gpu_check.sh $(or $(OUT),data/08_reporting/gpu_check)

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
