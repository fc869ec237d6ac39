#!/usr/bin/env bash
# The project's CUDA paths on one GPU, in at most 8 minutes:  benchmarks/gpu_check.sh OUT_DIR
#
#   1. nvidia-smi and torch's view of the device
#   2. the CUDA tests (pytest -m cuda), each test's outcome in OUT_DIR/cuda_tests.xml
#   3. kedro run --env smoke with every stage on device cuda and bf16 autocast
#   4. sequence CPC on conf/base: time to 99 % validation sequence discrimination and training
#      sequences/s, eager and with torch.compile (benchmarks/time_to_quality.py)
#   5. SimCLR's step rate on the digits and on ResNet-18 with the CIFAR stem (benchmarks/simclr_rate.py)
#   6. benchmarks/results/gpu_<device>.json (device, torch and CUDA versions, every figure; gpu_report.py)
#
# On a machine without CUDA it still runs: each CUDA part is skipped, saying why, and only OUT_DIR/summary.txt
# is written, so `make test` checks that the script parses and starts. Each part has its own time limit; a
# part that fails is recorded as failed and the next one runs.
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_check.sh OUT_DIR}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)  # absolute: the benchmarks write their JSON there
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
KEDRO=${KEDRO:-$(dirname "$PY")/kedro}
export KEDRO_DISABLE_TELEMETRY=1
: > "$OUT/summary.txt"
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
part() {  # part NAME SECONDS COMMAND...: run one part with a time limit, its output in OUT/NAME.log
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  say "$name: exit $rc after $((SECONDS - start)) s (limit $limit s; log $OUT/$name.log)"
}

"$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available', torch.cuda.is_available())" \
  | tee -a "$OUT/summary.txt"
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  say "skipped: no CUDA device here (torch.cuda.is_available() is false): the nvidia-smi, CUDA test, smoke run," \
      "time-to-99 % and SimCLR-rate parts need one, and gpu_<device>.json is written only from a real CUDA run"
  exit 0
fi

part nvidia_smi 10 nvidia-smi
part torch_device 20 "$PY" -c "import torch; p = torch.cuda.get_device_properties(0); \
print(torch.cuda.get_device_name(0), p.total_memory // 2**20, 'MiB, capability', p.major, p.minor, \
'bf16', torch.cuda.is_bf16_supported())"
part cuda_tests 90 "$PY" -m pytest -m cuda -p no:cacheprovider -q -rA --junitxml="$OUT/cuda_tests.xml" tests
part smoke_cuda 90 "$KEDRO" run --env smoke --params \
  "pretraining.trainer.device=cuda,pretraining.trainer.bf16=true,simclr.trainer.device=cuda,simclr.trainer.bf16=true,patch_cpc.trainer.device=cuda,patch_cpc.trainer.bf16=true"
for variant in eager compile; do
  flag=false; [ "$variant" = compile ] && flag=true
  part "cpc_time_to_99_$variant" 90 "$PY" benchmarks/time_to_quality.py --epochs 6 --probe-train 5000 \
    --set trainer.device=cuda --set trainer.bf16=true --set trainer.compile=$flag --name "$OUT/time_to_quality_$variant"
done
part simclr_rate 60 "$PY" benchmarks/simclr_rate.py --device cuda --steps 40 --set trainer.bf16=true \
  --name "$OUT/simclr_rate"
part report 20 "$PY" benchmarks/gpu_report.py "$OUT"
