#!/usr/bin/env bash
# The README's screenshots, from a project directory that holds a finished run (mlflow.db and data/):
#   docs/screenshots.sh [project_dir]        (default: this checkout; run `make run ARGS="--env smoke"` first)
# Starts the MLflow UI and Kedro-Viz on 127.0.0.1 and photographs them with Debian's headless chromium
# (apt-get install chromium) through docs/shoot.py, which clicks what a reader would: the parent run
# expanded to its stage runs, headline metrics as columns, Kedro-Viz's first-visit tour dismissed.
# Writes docs/mlflow_runs.png, docs/mlflow_run.png, docs/mlflow_models.png (the model registry),
# docs/kedro_viz.png and docs/kedro_viz_workflow.png (the last run's node statuses).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "${1:-$here/..}" && pwd)"
bin="$here/../.venv/bin"
# The browser reaches the UI (listening on 127.0.0.1) by a name of its own: MLflow opens its assistant
# panel over the page for localhost names, and its host check must then allow that name.
name=mlflow.local
shoot() { "$bin/python" "$here/shoot.py" --map "$name=127.0.0.1" "$@"; }
wait_for() { for _ in $(seq 120); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; echo "$1 did not answer" >&2; exit 1; }

cd "$project"
setsid "$bin/mlflow" ui --backend-store-uri "sqlite:///$project/mlflow.db" --host 127.0.0.1 --port 5055 \
  --allowed-hosts "$name:5055" --cors-allowed-origins "http://$name:5055" >/dev/null 2>&1 &
ui=$!
KEDRO_DISABLE_TELEMETRY=1 setsid "$bin/kedro" viz run --no-browser --host 127.0.0.1 --port 4141 ${KEDRO_ENV:+--env "$KEDRO_ENV"} >/dev/null 2>&1 &
viz=$!
trap 'kill -- -$ui -$viz 2>/dev/null' EXIT  # each server is its own process group, workers included
read -r experiment parent < <("$bin/python" - "$project" <<'PY'
import sys, mlflow
mlflow.set_tracking_uri(f"sqlite:///{sys.argv[1]}/mlflow.db")
runs = mlflow.search_runs(experiment_names=["cpc_pipeline"], output_format="list", order_by=["attributes.start_time DESC"])
parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
print(parent.info.experiment_id, parent.info.run_id)
PY
)
mlflow_ui="http://$name:5055/#/experiments/$experiment"
wait_for http://127.0.0.1:5055/health
shoot "$mlflow_ui/runs?workflowType=machine_learning" "$here/mlflow_runs.png" --wait-for "matching runs" \
  --click column-selection-dropdown --click Dataset --click Models --click sequence_cpc.val_sequence_accuracy \
  --click sequence_cpc.linear.100pct_labels.test_accuracy --click patch_cpc.linear.100pct_labels.test_accuracy \
  --click simclr.linear.100pct_labels.test_accuracy --click key:Escape \
  --click 'css:button[data-component-id$="runnamecellrenderer.tsx_46"]'
shoot "$mlflow_ui/runs/$parent?workflowType=machine_learning" "$here/mlflow_run.png" --wait-for "Metrics"
shoot "http://$name:5055/#/models" "$here/mlflow_models.png" --wait-for cpc_pipeline.patch_cpc_encoder \
  --click 'css:[aria-label="Close"]'
wait_for http://127.0.0.1:4141/api/main
shoot "http://127.0.0.1:4141/" "$here/kedro_viz.png" --wait-for data_processing --click Dismiss --click css:.feature-hints__close
shoot "http://127.0.0.1:4141/workflow" "$here/kedro_viz_workflow.png" --wait-for data_processing --click Dismiss
