"""What every benchmark records: the machine, and a JSON file under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from cpc_pipeline.provenance import code_commit
from cpc_pipeline.training.host import flush_subnormals, reuse_freed_memory

RESULTS = Path(__file__).parent / "results"
MALLOC_HEAP = reuse_freed_memory()  # every benchmark process allocates as `kedro run` does (HostSettingsHook)
SUBNORMALS_FLUSHED = flush_subnormals()  # and flushes subnormal floats as it does


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows. Two runs of the same code on
    different CPU models differ in speed and in their last bits, so a figure is only comparable with one from the
    same CPU model."""
    try:
        fields = dict(
            line.split(":", 1)
            for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
            if ":" in line
        )
    except OSError:
        fields = {}
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def machine_info(device: torch.device) -> dict[str, object]:
    info = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "malloc_heap": MALLOC_HEAP,
        "subnormals_flushed": SUBNORMALS_FLUSHED,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def write_results(name: str, payload: dict) -> Path:
    """Write ``payload`` to benchmarks/results/<name>.json, with the commit of the code it measured."""
    payload.setdefault("code_commit", code_commit(RESULTS.parents[1]))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    return path


def print_table(rows: dict[str, dict[str, float]]) -> None:
    width = max(len(k) for k in rows)
    print(f"{'component':<{width}}  {'median/s':>12}  {'min/s':>12}  {'max/s':>12}")
    for name, r in rows.items():
        print(f"{name:<{width}}  {r['per_s_median']:>12.1f}  {r['per_s_min']:>12.1f}  {r['per_s_max']:>12.1f}")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    times.sort()
    return {"median_s": times[len(times) // 2], "min_s": times[0], "max_s": times[-1]}


def matmul_peak(device: torch.device, dtype: torch.dtype, repeats: int) -> float:
    """The best FLOP/s of a large square matmul: the machine's practical peak, the yardstick for every stage."""
    n = 2048 if device.type == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    stats = timed(lambda: a @ b, device, repeats)
    return 2 * n**3 / stats["min_s"]


def rate(stats: dict[str, float], items: int) -> dict[str, float]:
    return stats | {
        "items": items,
        "per_s_median": items / stats["median_s"],
        "per_s_min": items / stats["max_s"],
        "per_s_max": items / stats["min_s"],
    }


def override(config: dict, assignments: list[str]) -> dict:
    """A copy of ``config`` with ``a.b=value`` assignments (YAML values) applied, as ``kedro run --params``
    would. A copy: one run's overrides must never leak into the next run's configuration."""
    import copy

    import yaml

    config = copy.deepcopy(config)
    for item in assignments:
        key, value = item.split("=", 1)
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return config


def default_parameters() -> dict:
    """conf/base's parameters, resolved as ``kedro run`` resolves them."""
    from kedro.config import OmegaConfigLoader

    from cpc_pipeline.config_loading import CONFIG_LOADER_ARGS

    return OmegaConfigLoader("conf", **CONFIG_LOADER_ARGS)["parameters"]


def mnist_cpc_tables(params: dict, mnist_root: str):
    """Genuine MNIST's splits and the train and validation sequence tables that the pipeline would build."""
    from cpc_pipeline.data import load_digit_splits, make_sequence_table
    from cpc_pipeline.data.config import SequenceConfig

    sequences = SequenceConfig.model_validate(params["sequences"])
    splits = load_digit_splits("mnist", [mnist_root, "data/01_raw"], download=True, fallback=False)
    train_table, val_table = (
        make_sequence_table(
            split.labels,
            sequences.table_size(name),
            sequences.terms,
            sequences.predict_terms,
            sequences.table_seed(name),
        )
        for name, split in (("train", splits.train), ("validation", splits.validation))
    )
    return splits, train_table, val_table
