"""Distributed CPC pretraining on this machine: what communication costs a step, and whether two processes
reach what one does with the same global batch.

    make bench-distributed ARGS="--part communication"
    make bench-distributed ARGS="--part accuracy --seeds 0 1 2 --epochs 5 [--settings processes2_sync]"

``communication``: for 1 and 2 gloo processes (the latter with BatchNorm ``sync`` and ``per_rank``), the base
configuration's training step with the same global batch (one process: 64 sequences on a pool of 64 images; two: 32
and 32 per process), ``--steps`` steps after ``--warmup``, timed on rank 0 and profiled with ``torch.profiler``.
The communication share is the time rank 0's main thread spends inside collectives (the autograd all-gather of
codes, predictions and sequences and its backward all-to-all, DDP's gradient all-reduce and buffer broadcast) over
the step's wall time; the bytes each rank sends per step are counted from the gathered tensors and the parameters.
On a 2-core CPU two processes share the cores that one process uses alone, so this is an overhead figure, not a
speed-up.

``accuracy``: for each seed, the base configuration pretrained for ``--epochs`` epochs in one process and
in two (same global batch, same global epoch), the latter with BatchNorm synchronised (the default) and per
rank (``--settings`` picks), through :func:`cpc_pipeline.training.cpc.fit_cpc`: the validation
sequence-discrimination and InfoNCE accuracy per epoch. Resumable: a (seed, setting) pair already in the
JSON for the same epochs is skipped; each run records the commit it ran.

Writes ``benchmarks/results/distributed_<device>.json`` (both parts, each kept when the other runs).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import torch

from _common import RESULTS, default_parameters, machine_info, mnist_cpc_tables, override, write_results
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.training import distributed
from cpc_pipeline.training.cpc import CPCInputs, PretrainingConfig, build_cpc, fit_cpc
from cpc_pipeline.provenance import code_commit
from cpc_pipeline.training.loop import epoch_generator, make_optimizer, pick_device

COLLECTIVES = re.compile(r"^(_AllGather|_AlltoAll|c10d::|DistributedDataParallel\.forward$)")
SAME_GLOBAL_BATCH = {1: [], 2: ["objective.sequences_per_batch=32", "objective.images_per_batch=32"]}
SETTINGS = {  # the accuracy part's runs: name -> (processes, overrides)
    "processes1": (1, []),
    "processes2_sync": (2, ["trainer.distributed.batchnorm=sync"]),
    "processes2_per_rank": (2, ["trainer.distributed.batchnorm=per_rank"]),
}


def config(params: dict, processes: int, extra: list[str]) -> PretrainingConfig:
    sets = ["trainer.checkpoint_path=null", "trainer.progress=false", *SAME_GLOBAL_BATCH[processes], *extra]
    if processes > 1:
        sets.append(f"trainer.distributed.nproc_per_node={processes}")
    return PretrainingConfig.model_validate(override(params["pretraining"], sets))


def measure_steps(inputs: CPCInputs, cfg: PretrainingConfig, warmup: int, steps: int) -> dict | None:
    """In each process: time and profile training steps; rank 0 returns the figures."""
    from torch.profiler import ProfilerActivity, profile

    sent = {"bytes": 0}
    gather = distributed.gather

    def counting_gather(tensor: torch.Tensor) -> torch.Tensor:
        sent["bytes"] += tensor.numel() * tensor.element_size()
        return gather(tensor)

    distributed.gather = counting_gather  # cpc.gathered looks it up at each step
    try:
        method, device = build_cpc(inputs, cfg)
        optimizer, _ = make_optimizer(method.model, cfg.trainer, method.steps_per_epoch)
        batches = iter(method.train_batches(0, epoch_generator(device, cfg.trainer.seed, 0, distributed.rank())))

        def step() -> None:
            loss, _, _ = method.training_step(next(batches))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        for _ in range(warmup):
            step()
        sent["bytes"] = 0
        times = []
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
        blocked = sum(e.self_cpu_time_total for e in prof.key_averages() if COLLECTIVES.match(e.key)) / 1e6
        # (the profiler's own overhead is in both; the share is what it sees, the step time is measured alongside)
        parameters = sum(p.numel() * p.element_size() for p in method.model.parameters())
        world = distributed.world_size()
        figures = {
            "processes": world,
            "steps": steps,
            "step_s_median": statistics.median(times),
            "step_s_all": times,
            "sequences_per_step_global": cfg.objective.sequences_per_batch * world,
            "communication_s_per_step": blocked / steps,
            "communication_share": blocked / sum(times),
            "gathered_bytes_per_rank_per_step": sent["bytes"] / steps,
            "allreduce_bytes_per_step": parameters if world > 1 else 0,
            "threads_per_process": torch.get_num_threads(),
        }
        figures["global_sequences_per_s"] = figures["sequences_per_step_global"] / figures["step_s_median"]
        return figures if distributed.rank() == 0 else None
    finally:
        distributed.gather = gather
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def communication(params: dict, inputs: CPCInputs, args, previous: dict) -> dict:
    rows = dict(previous.get("rows", {}))
    for setting in args.settings:
        processes, sets = SETTINGS[setting]
        cfg = config(params, processes, [*args.set, *sets])
        if processes == 1:
            r = measure_steps(inputs, cfg, args.warmup, args.steps)
        else:
            r = distributed.launch(cfg.trainer.distributed, measure_steps, inputs, cfg, args.warmup, args.steps)
        rows[setting] = r | {
            "setting": setting,
            "warmup": args.warmup,
            "set": args.set,
            "code_commit": code_commit(RESULTS.parents[1]),
        }
        print(
            f"{setting}: {r['step_s_median'] * 1000:.0f} ms/step, {r['global_sequences_per_s']:.0f} "
            f"sequences/s, communication {r['communication_share']:.1%} of a step "
            f"({r['communication_s_per_step'] * 1000:.1f} ms), gathered "
            f"{r['gathered_bytes_per_rank_per_step'] / 1e3:.0f} kB "
            f"+ all-reduce {r['allreduce_bytes_per_step'] / 1e6:.2f} MB per rank and step",
            flush=True,
        )
    return {"rows": rows}


def accuracy(params: dict, inputs: CPCInputs, args, previous: dict) -> dict:
    runs = previous.get("runs", {}) if previous.get("epochs") == args.epochs else {}
    commit = code_commit(RESULTS.parents[1])
    for seed in args.seeds:
        for setting in args.settings:
            processes, sets = SETTINGS[setting]
            key = f"seed{seed}_{setting}"
            if key in runs:
                print(f"{key}: recorded, skipped")
                continue
            cfg = config(params, processes, [*args.set, *sets, f"trainer.epochs={args.epochs}", f"trainer.seed={seed}"])
            started = time.perf_counter()
            _, history = fit_cpc(inputs, cfg)
            runs[key] = {
                "seed": seed,
                "setting": setting,
                "processes": processes,
                "code_commit": commit,
                "batchnorm": cfg.trainer.distributed.batchnorm if processes > 1 else "one process",
                "wall_s": time.perf_counter() - started,
                "epochs": [
                    {
                        k: row[k]
                        for k in (
                            "epoch",
                            "val_sequence_accuracy",
                            "val_accuracy",
                            "train_loss",
                            "train_sequences_per_s",
                            "epoch_seconds",
                        )
                    }
                    for row in history
                ],
            }
            print(
                f"{key}: validation sequence-discrimination per epoch "
                f"{[round(r['val_sequence_accuracy'] * 100, 2) for r in history]}",
                flush=True,
            )
            yield {"epochs": args.epochs, "runs": dict(runs)}
    summary = {}
    for setting in sorted({r["setting"] for r in runs.values()}):  # with those of earlier designs, recorded
        final = [r["epochs"][-1]["val_sequence_accuracy"] for r in runs.values() if r["setting"] == setting]
        if final:
            summary[setting] = {
                "final_val_sequence_accuracy_mean": statistics.mean(final),
                "final_val_sequence_accuracy_std": statistics.stdev(final) if len(final) > 1 else 0.0,
                "n": len(final),
            }
    yield {"epochs": args.epochs, "runs": runs, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["communication", "accuracy"], required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--mnist-root", default="../shared/data")
    parser.add_argument("--set", action="append", default=[], help="pretraining override, e.g. trainer.device=cpu")
    args = parser.parse_args()

    params = default_parameters()
    splits, train_table, val_table = mnist_cpc_tables(params, args.mnist_root)
    inputs = CPCInputs(
        splits.train,
        splits.validation,
        train_table,
        val_table,
        SequenceConfig.model_validate(params["sequences"]),
        RenderingConfig.model_validate(params["rendering"]),
    )
    device = pick_device(config(params, 1, args.set).trainer.device)
    name = f"distributed_{device.type}"
    path = RESULTS / f"{name}.json"
    payload = json.loads(path.read_text()) if path.exists() else {}
    payload["machine"] = machine_info(device)
    if args.part == "communication":  # each row and run records the commit it measured
        payload["communication"] = communication(params, inputs, args, payload.get("communication", {}))
        write_results(name, payload)
    else:
        for state in accuracy(params, inputs, args, payload.get("accuracy", {})):
            payload["accuracy"] = state
            write_results(name, dict(payload))


if __name__ == "__main__":
    main()
