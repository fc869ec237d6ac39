#!/usr/bin/env bash
# The README's screenshots, from a project directory that holds a finished run (mlflow.db and data/):
#   docs/screenshots.sh [project_dir]        (default: this checkout; run `make run ARGS="--env smoke"` first)
# Starts the MLflow UI and Kedro-Viz on 127.0.0.1, photographs them with Debian's headless chromium
# (apt-get install chromium), writes docs/mlflow_runs.png, docs/mlflow_run.png and docs/kedro_viz.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "${1:-$here/..}" && pwd)"
bin="$here/../.venv/bin"
browser="$(command -v chromium || command -v chromium-browser)"
shot() {  # url file
  "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d)" \
    --window-size=1600,1000 --virtual-time-budget=20000 --screenshot="$2" "$1" 2>/dev/null
  echo "wrote $2"
}
wait_for() { for _ in $(seq 120); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; echo "$1 did not answer" >&2; exit 1; }

cd "$project"
"$bin/mlflow" ui --backend-store-uri "sqlite:///$project/mlflow.db" --host 127.0.0.1 --port 5055 >/dev/null 2>&1 &
ui=$!
KEDRO_DISABLE_TELEMETRY=1 "$bin/kedro" viz run --no-browser --host 127.0.0.1 --port 4141 ${KEDRO_ENV:+--env "$KEDRO_ENV"} >/dev/null 2>&1 &
viz=$!
trap 'kill $ui $viz 2>/dev/null' EXIT
read -r experiment parent < <("$bin/python" - "$project" <<'PY'
import sys, mlflow
mlflow.set_tracking_uri(f"sqlite:///{sys.argv[1]}/mlflow.db")
runs = mlflow.search_runs(experiment_names=["cpc_pipeline"], output_format="list", order_by=["attributes.start_time DESC"])
parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
print(parent.info.experiment_id, parent.info.run_id)
PY
)
wait_for http://127.0.0.1:5055/health
shot "http://127.0.0.1:5055/#/experiments/$experiment" "$here/mlflow_runs.png"
shot "http://127.0.0.1:5055/#/experiments/$experiment/runs/$parent" "$here/mlflow_run.png"
wait_for http://127.0.0.1:4141/api/main
shot "http://127.0.0.1:4141/" "$here/kedro_viz.png"
