"""The README's two commands as a new user meets them: `make run` and `make test` in a fresh clone, timed.

    .venv/bin/python benchmarks/quick_start.py [--variants mnist fallback test] [--workdir /tmp/cpc_quick_start]

For each variant the script clones this repository's HEAD into ``<workdir>/<variant>/cpc_pipeline`` (so
nothing of this checkout's venv, data or MLflow store is reused) and times, in the clone:

- ``make install``: the virtual environment and the project's dependencies (pip's cache and any wheels on local
  disk count, as they would for the user: the install time is this machine's);
- ``make run``: the default ``kedro run`` on ``conf/base`` (``make test`` for the ``test`` variant).

Variants:

- ``mnist``: ``../shared/data`` beside the clone links to this checkout's ``../shared/data`` (MNIST in
  torchvision's layout), as for the tests;
- ``fallback``: no ``../shared`` and the run's network cut (its HTTP and HTTPS proxies point at a closed local
  port), so MNIST can be neither found nor downloaded and the run falls back to scikit-learn's 8x8 digits;
- ``test``: as ``mnist``, then ``make test`` (what ``.ci/run`` calls), recording pytest's summary line.

Each variant records its wall times, exit status, the data the run used (``digit_source.json`` and the report's
first line), Kedro's own pipeline time and each stage's node time, and the machine, in
``benchmarks/results/quick_start_cpu.json``, which the README's quick-start figures are generated from.
Resumable: a variant already in the JSON is skipped (``--force`` reruns it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import torch

from _common import RESULTS, machine_info, write_results

ROOT = Path(__file__).resolve().parents[1]
NAME = "quick_start_cpu"
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens, so every request fails at once
PIPELINE_TIME = re.compile(r"Pipeline execution completed.*?successfully in ([\d.]+) sec", re.S)  # rich wraps it
PYTEST_SUMMARY = re.compile(r"^=+ (.*\d+ passed.*) =+$", re.MULTILINE)
VARIANTS = ["mnist", "fallback", "test"]


def run_timed(command: list[str], cwd: Path, log: Path, env: dict | None = None) -> tuple[int, float, str]:
    """Run ``command`` in ``cwd`` with its output in ``log``: (exit status, wall seconds, output)."""
    started = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    return rc, time.perf_counter() - started, log.read_text(errors="replace")


def fresh_clone(workdir: Path, variant: str) -> Path:
    """A clone of HEAD in ``workdir/variant``, with ``../shared/data`` only for the mnist variant."""
    base = workdir / variant
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    clone = base / "cpc_pipeline"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    if variant != "fallback":
        shared = (ROOT.parent / "shared" / "data").resolve()
        if not (shared / "MNIST" / "raw").is_dir():
            raise SystemExit(f"the {variant} variant needs MNIST at {shared}/MNIST/raw (torchvision's layout)")
        (base / "shared").mkdir()
        (base / "shared" / "data").symlink_to(shared)
    return clone


def run_variant(workdir: Path, variant: str) -> dict:
    clone = fresh_clone(workdir, variant)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    run_env = dict(env)
    if variant == "fallback":
        run_env |= {
            "http_proxy": CLOSED_PORT,
            "https_proxy": CLOSED_PORT,
            "HTTP_PROXY": CLOSED_PORT,
            "HTTPS_PROXY": CLOSED_PORT,
            "no_proxy": "",
            "NO_PROXY": "",
        }
    install_rc, install_s, _ = run_timed(["make", "install"], clone, clone.parent / "install.log", env)
    if install_rc:
        raise SystemExit(f"{variant}: make install failed (exit {install_rc}); see {clone.parent / 'install.log'}")
    target = "test" if variant == "test" else "run"
    run_rc, run_s, output = run_timed(["make", target], clone, clone.parent / f"{target}.log", run_env)
    record = {
        "clone_commit": commit,
        "command": f"make {target}",
        "shared_data": variant != "fallback",
        "network_cut": variant == "fallback",
        "install_wall_s": install_s,
        "run_wall_s": run_s,
        "total_wall_s": install_s + run_s,
        "run_rc": run_rc,
        "machine": machine_info(torch.device("cpu")),
    }
    if variant == "test":
        summary = PYTEST_SUMMARY.findall(output)
        record["pytest_summary"] = summary[-1] if summary else None
    else:
        record |= run_outputs(clone / "data", output)
    print(f"{variant}: install {install_s:.0f} s, make {target} {run_s:.0f} s (exit {run_rc}); logs in {clone.parent}")
    return record


def run_outputs(data: Path, output: str) -> dict:
    """What a ``make run`` left: Kedro's pipeline time, the report's first line, whether the fallback warned,
    the data source and each stage's node seconds."""
    report = data / "08_reporting" / "report.md"
    pipeline = PIPELINE_TIME.search(output)
    record = {
        "pipeline_s": float(pipeline.group(1)) if pipeline else None,
        "report_first_line": next((line for line in report.read_text().splitlines() if line.strip()), None)
        if report.exists()
        else None,
        "fallback_warned": "FALLING BACK" in output,
    }
    for key, name in (
        ("data_source", "02_intermediate/digit_source.json"),
        ("stage_node_s", "08_reporting/stage_wall_times.json"),
    ):
        if (data / name).exists():
            record[key] = json.loads((data / name).read_text())
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/cpc_quick_start"))
    parser.add_argument("--force", action="store_true", help="rerun variants the JSON already holds")
    args = parser.parse_args()
    path = RESULTS / f"{NAME}.json"
    payload = json.loads(path.read_text()) if path.exists() else {"variants": {}}
    for variant in args.variants:
        if variant in payload["variants"] and not args.force:
            print(f"{variant}: recorded, skipped")
            continue
        payload["variants"][variant] = run_variant(args.workdir, variant)
        write_results(NAME, payload)


if __name__ == "__main__":
    main()
