"""The generated blocks of docs/performance.md and docs/distributed.md: time to quality, speed steps, components,
each stage against the measured peak, the runs end to end, and distributed training."""

from __future__ import annotations

import statistics

from _tables import PROBES, commit, cpu, from_json, load, pct, spread, table


@from_json("time_to_quality_cpu_infonce")
def time_to_quality(d: dict) -> list[str]:
    r = d["reached"]

    def at(key: str) -> str:
        hit = r.get(key)
        entry = next(e for e in d["epochs"] if e["epoch"] == hit["epoch"]) if hit else d["epochs"][-1]
        probe = f": {pct(entry['probe_test_accuracy'], 2)}%, {entry['probe_selected']} probe" if "probe" in key else ""
        if not hit:
            return f"not within {len(d['epochs'])} epochs (epoch {entry['epoch']}{probe})"
        return f"{hit['pretraining_s']:.0f} s (epoch {hit['epoch']}{probe})"

    rate = sum(e.get("train_sequences_per_s", 0) for e in d["epochs"]) / len(d["epochs"])
    rows = [
        [
            "this project, default (InfoNCE, pooled batches)",
            f"**{at('val_sequence_accuracy>=0.99')}**",
            at("probe_test_accuracy>=0.9"),
            at("probe_test_accuracy>=0.97"),
            f"{rate:.0f}" if rate else "see speed steps",
        ],
    ]
    return [
        f"`benchmarks/time_to_quality.py --epochs {d['config']['epochs']}` → "
        f"`benchmarks/results/time_to_quality_cpu_infonce.json` ({d['machine']['date'][:10]}, "
        f"{d['machine']['cpu_count']}-core CPU, seed "
        f"{d['config']['pretraining']['trainer']['seed']}{commit(d)}). After "
        f"each epoch, with the clock paused, an MLP and a linear probe are fitted on {d['config']['probe_train']:,} "
        "training images' features; all 10,000 validation labels choose each probe's hyperparameter *and* which "
        "of the two probes is reported; the chosen one is scored on the 10,000 MNIST test images.",
        "",
        *table(
            [
                "",
                "99% validation sequence-discrimination",
                "probe reaches 90% MNIST test",
                "probe reaches 97%",
                "training sequences/s",
            ],
            rows,
        ),
    ]


@from_json("speed_steps_cpu")
def speed_steps(d: dict) -> list[str]:
    rows = [
        [name, r["error"], "", ""]
        if "error" in r
        else [
            name,
            f"{r['before']}: {r['before_per_s']:.0f}/s",
            f"{r['after']}: {r['after_per_s']:.0f}/s",
            f"{r['speedup']:.1f}x",
        ]
        for name, r in d["results"].items()
    ]
    return [
        "`benchmarks/speed_steps.py --compile` → `benchmarks/results/speed_steps_cpu.json` "
        f"({d['machine']['date'][:10]}; "
        "items/s, median of 5 timings of 10 train steps, the two settings timed alternately; ranges in the JSON):",
        "",
        *table(["step", "without", "with", "speed-up"], rows),
    ]


@from_json("components_cpu")
def components(d: dict) -> list[str]:
    r = d["results"]
    step = r["CPC train step, pooled P=64, 64 seq (sequences)"]
    return [
        f"`benchmarks/components.py` → `benchmarks/results/components_cpu.json` ({d['machine']['date'][:10]}): "
        "renderer "
        f"{r['renderer 64x64 colour (images)']['per_s_median']:,.0f} images/s (64x64 colour); "
        f"{step['model_flops_per_step'] / 1e9:.1f} GFLOP per pooled train step at {step['achieved_flop_s'] / 1e9:.0f} "
        f"GFLOP/s, {step['fraction_of_matmul_peak']:.0%} of the measured fp32 matmul peak "
        f"({d['matmul_peak']['matmul_fp32_flop_s'] / 1e9:.0f} GFLOP/s); frozen feature extraction "
        f"{r['feature extraction, frozen encoder (images)']['per_s_median']:,.0f} images/s."
    ]


def peaks(d: dict) -> str:
    """The measured matmul peaks of a stage-efficiency run: fp32, and bf16 where it was measured."""
    return ", ".join(
        f"{name} {d[key] / 1e9:.0f} GFLOP/s"
        for name, key in (("fp32", "matmul_peak_fp32_flop_s"), ("bf16", "matmul_peak_bf16_flop_s"))
        if key in d
    )


@from_json("stage_efficiency_cpu")
def stage_efficiency(d: dict) -> list[str]:
    rows = []
    for name, r in d["results"].items():
        if "step_s" in r:
            step = (
                f"{r['step_s']:.3f} s: {pct(r['step_share_batch'], 0)}% ({pct(r['step_share_render'], 0)}%, "
                f"{pct(r['step_share_augment'], 0)}%) / {pct(r['step_share_forward'], 0)}% / "
                f"{pct(r['step_share_backward'], 0)}% / {pct(r['step_share_optimizer'], 0)}%; the step alone "
                f"{r['step_flop_s'] / 1e9:.0f} GFLOP/s ({r['step_share_of_peak']:.0%})"
            )
            evals = f"{r['evaluations']:.3g} x {r['eval_s']:.1f} s: {pct(r['eval_share_of_time'], 0)}%"
            work = f"{r['steps']:,} steps, {r['flops'] / 1e12:.1f} TFLOP"
        elif "images_per_s" in r:
            step, evals = f"{r['images_per_s']:,.0f} images/s, rendering {pct(r['share_render'], 0)}% of it", ""
            work = f"{r['images']:,} images, {r['flops'] / 1e12:.1f} TFLOP"
        elif "every_image_s" in r or "speedup_last50" in r:
            continue  # the SimCLR section's figure; the subnormal floats' line below
        else:
            per = ", ".join(f"{PROBES.get(k, k)} {v:.0f} s" for k, v in r["per_encoder_s"].items())
            rows.append(
                [
                    name,
                    f"per encoder: {per} (scikit-learn and a small MLP; not FLOP-counted)",
                    f"{r['projected_s']:.0f} s",
                    "",
                    "",
                    "",
                    "",
                ]
            )
            continue
        rows.append(
            [
                name,
                work,
                f"{r['projected_s']:.0f} s",
                f"{r['flop_s'] / 1e9:.0f} GFLOP/s",
                f"{r['share_of_peak']:.0%} ({r.get('precision', 'fp32')})",
                step,
                evals,
            ]
        )
    out = [
        f"`benchmarks/stage_efficiency.py --steps {d['config']['steps']}` → "
        "`benchmarks/results/stage_efficiency_cpu.json` "
        f"({d['machine']['date'][:10]}{commit(d)}{cpu(d)}; measured matmul peak {peaks(d)}). Each stage's "
        "work as its node builds it from conf/base: FLOPs counted with `FlopCounterMode` (matmuls and convolutions), "
        "the step and the evaluation timed in the real training loop, the breakdown from `torch.profiler`; time is "
        "projected to the default run (steps x step + evaluations x evaluation), without start-up and saving.",
        "",
        *table(
            [
                "stage",
                "work",
                "time (projected)",
                "achieved",
                "of the peak in its precision",
                "a training step: making the batch (render, augment) / forward / backward / optimiser",
                "evaluation, of the stage's time",
            ],
            rows,
        ),
        "",
        f"Projected work in all: {d['projected_total_s']:.0f} s ({d['projected_total_s'] / 60:.1f} min).",
    ]
    r = d["results"].get("patch_cpc, subnormal floats")
    if r:
        out += [
            "",
            f"Subnormal floats (`training/host.py`, set in every `kedro run` process): {r['steps']} patch CPC "
            f"steps, each side in a fresh process from the same initial weights, take a median "
            f"{r['subnormals_kept_first50_step_s']:.3f} s over the first 50 and "
            f"{r['subnormals_kept_last50_step_s']:.3f} s over the last 50 with subnormals kept, "
            f"{r['flushed_first50_step_s']:.3f} s and {r['flushed_last50_step_s']:.3f} s with them flushed: "
            f"{r['speedup_last50']:.1f}x by the end.",
        ]
    return out


def end_to_end() -> str:
    """The default configuration end to end (``end_to_end_default.json``), the bf16 opt-in against fp32 on one CPU
    (``end_to_end_default_{bf16,xeon}.json``) and the smoke configuration (``end_to_end_smoke.json``): per stage, wall
    time and peak memory, and the run's probe results compared with another run where one was made."""
    out = []
    for name, label in (
        ("default", "The default run"),
        ("default_xeon", "In fp32 on the CPU of the bf16 run below"),
        ("default_bf16", "With bf16 on the CPU, an opt-in"),
        ("smoke", "The smoke configuration"),
    ):
        d = load(f"end_to_end_{name}")
        if d is None:
            continue
        stages = ", ".join(
            f"{s} {r['process_wall_s']:.0f} s / {r['peak_rss_mib'] / 1024:.1f} GiB" for s, r in d["results"].items()
        )
        flag = f" --env {d['config']['env']}" if d["config"].get("env") else ""
        variant = f" ({d['variant']})" if d.get("variant") else ""
        out.append(
            f"{label}{variant}: `benchmarks/end_to_end.py{flag}` → `benchmarks/results/end_to_end_{name}.json` "
            f"({d['machine']['date'][:10]}{commit(d)}{cpu(d)}; each stage a separate `kedro run --pipelines "
            f"<stage>` process, wall time including Python and Kedro start-up, peak RSS): {stages}; "
            f"**{d['total_wall_s']:.0f} s in all** ({d['total_wall_s'] / 60:.1f} min)."
        )
        if "run_check" in d:
            c = d["run_check"]
            moved = ", ".join(f"{e} {100 * v:.2f}" for e, v in c["max_abs_diff_per_encoder"].items())
            where = f", on an {c['other_cpu_model']}" if c.get("other_cpu_model") else ""
            out.append(
                f"Its probe results against another run's (code commit "
                f"`{(c['other_code_commit'] or 'unknown')[:10]}`{where}), result by result: {c['equal']} of the "
                f"{c['compared']} both have are equal exactly; the largest difference per encoder, in points: "
                f"{moved}."
            )
    return "\n\n".join(out) + "\n" if out else "Not measured yet: no `benchmarks/results/end_to_end_*.json`.\n"


@from_json("distributed_cpu")
def distributed(d: dict) -> list[str]:
    out = []
    names = {
        "processes1": "1 process",
        "processes2_sync": "2 processes, one shared pool, BatchNorm `sync`",
        "processes2_per_rank": "2 processes, one shared pool, BatchNorm `per_rank`",
        "processes2_sync_own_pools": "2 processes, a pool per rank, BatchNorm `sync`",
        "processes2_per_rank_own_pools": "2 processes, a pool per rank, BatchNorm `per_rank`",
    }
    if "communication" in d:
        rows = d["communication"]["rows"]
        commits = ", ".join(f"`{c[:10]}`" for c in sorted({r["code_commit"] for r in rows.values()}))
        out += [
            f'`make bench-distributed ARGS="--part communication"` → `benchmarks/results/distributed_cpu.json` '
            f"(code commits {commits}, per row in the JSON): the base configuration's train step at the same global "
            f"batch (64 sequences on a pool of 64 images), median of {rows['processes1']['steps']} steps after "
            "warm-up, profiled on rank 0:",
            "",
            *table(
                [
                    "processes",
                    "ms per step",
                    "sequences/s (global)",
                    "in collectives",
                    "gathered per rank and step",
                    "gradient all-reduce per step",
                ],
                (
                    [
                        label,
                        f"{r['step_s_median'] * 1000:.0f}",
                        f"{r['global_sequences_per_s']:.0f}",
                        f"{r['communication_share']:.1%} ({r['communication_s_per_step'] * 1000:.1f} ms)",
                        f"{r['gathered_bytes_per_rank_per_step'] / 1e3:.0f} kB",
                        f"{r['allreduce_bytes_per_step'] / 1e6:.2f} MB",
                    ]
                    for setting, label in names.items()
                    if (r := rows.get(setting))
                ),
            ),
        ]
    if "accuracy" in d and d["accuracy"].get("runs"):
        a = d["accuracy"]
        runs = list(a["runs"].values())
        commits = ", ".join(f"`{c[:10]}`" for c in sorted({r["code_commit"] for r in runs}))
        rows = []
        for setting, label in names.items():
            mine = [r for r in runs if r["setting"] == setting]
            if mine:
                rows.append(
                    [
                        label,
                        *(spread([r["epochs"][e]["val_sequence_accuracy"] for r in mine]) for e in range(a["epochs"])),
                        ", ".join(str(r["seed"]) for r in mine),
                        f"{statistics.mean(r['wall_s'] for r in mine) / 60:.1f}",
                    ]
                )
        out += [
            "",
            f'`make bench-distributed ARGS="--part accuracy --seeds ... --epochs {a["epochs"]}"` (code commits '
            f"{commits}, per run in the JSON): validation sequence-discrimination (chance 50%) per epoch, mean ± std "
            "over seeds, one process against two with the same global batch:",
            "",
            *table(
                [
                    "processes",
                    *(f"epoch {e + 1}" for e in range(a["epochs"])),
                    "seeds",
                    "wall minutes per run (runs overlapped other work: not a speed figure)",
                ],
                rows,
            ),
        ]
    return out


QUICK_START = {  # variant -> what the clone had
    "mnist": "`make run`, MNIST in `../shared/data`",
    "fallback": "`make run`, no `../shared` and no network (the 8x8 fallback digits)",
    "test": "`make test`, MNIST in `../shared/data`",
}


@from_json("quick_start_cpu")
def quick_start(d: dict) -> list[str]:
    """The README's two commands timed in fresh clones (``benchmarks/quick_start.py``)."""
    rows, cpus = [], set()
    for variant, label in QUICK_START.items():
        r = d["variants"].get(variant)
        if r is None:
            continue
        cpus.add(cpu(r))
        outcome = r.get("pytest_summary") or (
            f"Kedro's pipeline {r['pipeline_s']:.0f} s" if r.get("pipeline_s") else ""
        )
        if r.get("fallback_warned"):
            outcome += "; warned that it used the fallback digits"
        status = "" if r["run_rc"] == 0 else f"**failed** (exit {r['run_rc']}); "
        rows.append(
            [
                label,
                f"{r['install_wall_s'] / 60:.1f}",
                f"{r['run_wall_s'] / 60:.1f}",
                f"**{r['total_wall_s'] / 60:.0f}**",
                status + outcome,
                f"`{r['clone_commit'][:10]}`",
            ]
        )
    where = cpus.pop() if len(cpus) == 1 else " (CPUs in the JSON)"
    return [
        f"`benchmarks/quick_start.py` → `benchmarks/results/quick_start_cpu.json`: each command in a fresh clone, wall "
        f"minutes (2 cores{where}).",
        "",
        *table(["command, in a fresh clone", "install", "command", "in all", "outcome", "code commit"], rows),
    ]
