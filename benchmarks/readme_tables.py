"""The README's measured figures, generated from the committed JSON under benchmarks/results/.

    .venv/bin/python benchmarks/readme_tables.py          # rewrite README.md's generated blocks (make readme)
    .venv/bin/python benchmarks/readme_tables.py --check  # exit 1 when README.md differs from the JSON

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``: edit this script,
never the block. The test suite runs ``--check``, so a README figure that disagrees with its JSON fails CI.
Figures the project did not measure come from ``cpc_pipeline.reporting.cited`` and say "cited".
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from cpc_pipeline.evaluation.supervision import SUPERVISION
from cpc_pipeline.hooks import STAGES
from cpc_pipeline.reporting.cited import cited

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)
ENCODERS = {  # row label, in table order
    "cpc": "CPC (this project)",
    "simclr": "SimCLR (this project, same encoder)",
    "patch_cpc": "patch CPC (this project, label-free)",
    "random": "same architecture, random init",
    "supervised": "same architecture, trained with all labels",
}
PROBES = {"mlp": "MLP", "linear": "linear", "knn": "k-NN"}


def from_json(name: str) -> Callable[[Callable[[dict], list[str]]], Callable[[], str]]:
    """A block generator fed with ``benchmarks/results/<name>.json`` (its lines joined), or a line saying the
    JSON is missing."""
    def wrap(render: Callable[[dict], list[str]]) -> Callable[[], str]:
        def block() -> str:
            path = RESULTS / f"{name}.json"
            if not path.exists():
                return f"Not measured yet: `benchmarks/results/{name}.json` is missing.\n"
            return "\n".join(render(json.loads(path.read_text()))) + "\n"
        return block
    return wrap


def pct(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{100 * x:.{digits}f}"


def pm(s: dict | None, scale: float = 100, digits: int = 2, unit: str = "") -> str:
    """``mean ± std`` of a statistics block (``n/a`` when no seed has it)."""
    if not s or not s.get("n"):
        return "n/a"
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}{unit}"


def source_line(d: dict, name: str, command: str) -> str:
    m = d["machine"]
    return (f"`{command}` → `benchmarks/results/{name}.json`: seeds {', '.join(map(str, d['seeds']))}, code commit "
            f"`{d['code_commit'][:10]}`, configuration hash `{d['config_hash']}`, {m['cpu_count']}-core "
            f"{m['device'].upper()}, torch {m['torch'].split('+')[0]}, {m['date'][:10]}.")


# ------------------------------------------------------------------ results
@from_json("headline_cpu")
def headline(d: dict) -> list[str]:
    rows = {(r["encoder"], r["probe"], r["label_fraction"]): r for r in d["probes"]}
    fractions = sorted({f for (_, _, f) in rows})
    labels = {f: rows[("cpc", "mlp", f)]["labels_used"] for f in fractions if ("cpc", "mlp", f) in rows}
    head = ["encoder (frozen unless noted)", "its own training used", "probe"]
    head += [f"{f:.0%} labels ({int(labels.get(f, 0)):,})" for f in fractions]
    out = [
        source_line(d, "headline_cpu", 'make bench-headline ARGS="--seeds ' + " ".join(map(str, d["seeds"])) + '"'),
        "MNIST **test** accuracy (%), mean ± sample standard deviation over the seeds (min, max and each seed's "
        "value are in the JSON). At label fraction f a probe is fitted on a fraction f of the 50,000 training "
        "labels and its hyperparameter (the MLP's epoch, C, k) is chosen on the same fraction of the 10,000 "
        "validation labels; the column heads count both.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for encoder, label in ENCODERS.items():
        for probe, probe_label in PROBES.items():
            cells = [pm(rows[(encoder, probe, f)]["test_accuracy"]) if (encoder, probe, f) in rows else ""
                     for f in fractions]
            if any(cells):
                name = f"**{label}**" if encoder == "cpc" else label
                out.append(f"| {name} | {SUPERVISION[encoder].level} | {probe_label} | " + " | ".join(cells) + " |")
    end_to_end = [pm(rows[("supervised", "end_to_end", f)]["test_accuracy"]) if ("supervised", "end_to_end", f) in rows
                  else "" for f in fractions]
    out.append("| same architecture trained end to end on those labels (not frozen) | full | MLP head | "
               + " | ".join(end_to_end) + " |")
    out.append("| chance | none | | " + " | ".join(pct(d["chance"]["probe_accuracy"]) for _ in fractions) + " |")
    blank = " | ".join("" for _ in fractions[:-1])
    for key, probe in (("reference_frozen_probe", "linear"), ("reference_published_mlp_probe", "MLP")):
        c = cited(key)
        out.append(f"| Keras reference CPC: {c.what.split(': ', 1)[1]} (**cited**, not measured here) | weak | "
                   f"{probe} | {blank} | {pct(c.value)} |")
    return out


@from_json("headline_cpu")
def pretraining(d: dict) -> list[str]:
    p, s = d["pretraining"], d.get("simclr", {})
    stage = d["stage_wall_seconds"]
    reached = p["epoch_to_99"]
    when = (f"reached 99% after {pm(p['seconds_to_99'], 1, 0, ' s')} of pretraining (epoch "
            f"{reached['min']:.0f}–{reached['max']:.0f})" if reached.get("n") else "never reached 99%")
    if p["not_reached_99"]:
        when += f"; seeds {p['not_reached_99']} never did"
    out = [
        f"CPC pretraining, last of {p['epochs']['mean']:.0f} epochs, on the 2,496 held-out validation sequences "
        f"(mean ± std over the seeds): sequence-discrimination **{pm(p['val_sequence_accuracy'])}%** (chance 50%), "
        f"{when}; InfoNCE top-1 {pm(p['val_accuracy'])}% among {pm(p['val_candidates'], 1, 0)} valid candidates "
        f"(the `different_digit` mask removes the others; chance {pm(p['val_chance_accuracy'], 100, 2)}%), "
        f"MI bound log N - L = {pm(p['val_mi_bound'], 1, 2)} nats; {pm(p['train_sequences_per_s'], 1, 0)} training "
        "sequences/s.",
    ]
    if s:
        out.append(f"SimCLR: validation k-NN monitor {pm(s['val_knn_accuracy'])}% after {s['epochs']['mean']:.0f} "
                   f"epochs ({pm(s['train_seconds'], 1, 0, ' s')} of training).")
    times = ", ".join(f"{name} {pm(stage[name], 1, 0, ' s')}" for name in STAGES if name in stage)
    out.append(f"Node time per stage: {times}; the whole `kedro run` {pm(d['run_wall_s'], 1 / 60, 1, ' min')}.")
    return out


@from_json("headline_cpu_binary")
def binary(d: dict) -> list[str]:
    runs = d["per_seed"]
    epochs = max(len(r["pretraining"]["history"]["val_sequence_accuracy"]) for r in runs.values())
    out = [
        source_line(d, "headline_cpu_binary", 'make bench-headline ARGS="--env binary --pipelines '
                    'data_processing,pretraining --seeds ' + " ".join(map(str, d["seeds"])) + '"'),
        "Validation sequence-discrimination (%) after each epoch on the 2,496 held-out validation sequences "
        "(chance 50%); bold: the first epoch at 99% or more.",
        "",
        "| seed | " + " | ".join(str(e + 1) for e in range(epochs)) + " | 99% after |",
        "|" + "---|" * (epochs + 2),
    ]
    for seed, r in runs.items():
        h, p = r["pretraining"]["history"]["val_sequence_accuracy"], r["pretraining"]
        first = p["epoch_to_99"]
        cells = [(f"**{pct(v)}**" if i + 1 == first else pct(v)) for i, v in enumerate(h)]
        cells += [""] * (epochs - len(cells))
        after = f"{p['seconds_to_99']:.0f} s (epoch {first})" if first else "not within the run"
        out.append(f"| {seed} | " + " | ".join(cells) + f" | {after} |")
    return out


# ------------------------------------------------------------------ performance
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
    rate_cell = f"{rate:.0f}" if rate else "see speed steps"
    ref = cited("reference_seconds_to_99"), cited("reference_frozen_probe"), cited("reference_sequences_per_s")
    return [
        f"`benchmarks/time_to_quality.py --epochs {d['config']['epochs']}` → "
        f"`benchmarks/results/time_to_quality_cpu_infonce.json` ({d['machine']['date'][:10]}, "
        f"{d['machine']['cpu_count']}-core CPU, seed {d['config']['pretraining']['trainer']['seed']}"
        + (f", code commit `{d['code_commit'][:10]}`" if "code_commit" in d else "") + "). After each "
        f"epoch, with the clock paused, an MLP and a linear probe are fitted on {d['config']['probe_train']:,} "
        "training images' features; all 10,000 validation labels choose each probe's hyperparameter *and* which "
        "of the two probes is reported; the chosen one is scored on the 10,000 MNIST test images.",
        "",
        "| | 99% validation sequence-discrimination | probe reaches 90% MNIST test | probe reaches 97% | "
        "training sequences/s |",
        "|---|---|---|---|---|",
        f"| Keras reference (binary loss, batch 32; **cited**: {ref[0].source.split(':')[0]}) | about "
        f"{ref[0].value:,.0f} s (epoch {cited('reference_epoch_to_99').value:.0f}) | never, truly frozen "
        f"({pct(ref[1].value)}%) | never | about {ref[2].value:.0f} |",
        f"| this project, default (InfoNCE, pooled batches) | **{at('val_sequence_accuracy>=0.99')}** | "
        f"{at('probe_test_accuracy>=0.9')} | {at('probe_test_accuracy>=0.97')} | {rate_cell} |",
    ]


@from_json("speed_steps_cpu")
def speed_steps(d: dict) -> list[str]:
    out = [
        f"`benchmarks/speed_steps.py --compile` → `benchmarks/results/speed_steps_cpu.json` ({d['machine']['date'][:10]}; "
        "items/s, median of 5 timings of 10 train steps, before and after timed alternately; ranges in the JSON):",
        "",
        "| step | before | after | speed-up |",
        "|---|---|---|---|",
    ]
    for name, r in d["results"].items():
        if "error" in r:
            out.append(f"| {name} | {r['error']} | | |")
            continue
        out.append(f"| {name} | {r['before']}: {r['before_per_s']:.0f}/s | {r['after']}: {r['after_per_s']:.0f}/s | "
                   f"{r['speedup']:.1f}x |")
    return out


@from_json("components_cpu")
def components(d: dict) -> list[str]:
    r = d["results"]
    step = r["CPC train step, pooled P=64, 64 seq (sequences)"]
    return [
        f"`benchmarks/components.py` → `benchmarks/results/components_cpu.json` ({d['machine']['date'][:10]}): renderer "
        f"{r['renderer 64x64 colour (images)']['per_s_median']:,.0f} images/s (64x64 colour); "
        f"{step['model_flops_per_step'] / 1e9:.1f} GFLOP per pooled train step at {step['achieved_flop_s'] / 1e9:.0f} "
        f"GFLOP/s, {step['fraction_of_matmul_peak']:.0%} of the measured fp32 matmul peak "
        f"({d['matmul_peak']['matmul_fp32_flop_s'] / 1e9:.0f} GFLOP/s); frozen feature extraction "
        f"{r['feature extraction, frozen encoder (images)']['per_s_median']:,.0f} images/s."
    ]


def peaks(d: dict) -> str:
    """The measured matmul peaks of a stage-efficiency run: fp32, and bf16 where it was measured."""
    return ", ".join(f"{name} {d[key] / 1e9:.0f} GFLOP/s" for name, key in
                     (("fp32", "matmul_peak_fp32_flop_s"), ("bf16", "matmul_peak_bf16_flop_s")) if key in d)


@from_json("stage_efficiency_cpu")
def stage_efficiency(d: dict) -> list[str]:
    out = [
        f"`benchmarks/stage_efficiency.py --steps {d['config']['steps']}` → `benchmarks/results/stage_efficiency_cpu.json` "
        f"({d['machine']['date'][:10]}{commit(d)}{cpu(d)}; measured matmul peak {peaks(d)}). Each stage's "
        "work as its node builds it from conf/base: FLOPs counted with `FlopCounterMode` (matmuls and convolutions), "
        "the step and the evaluation timed in the real training loop, the breakdown from `torch.profiler`; time is "
        "projected to the default run (steps x step + evaluations x evaluation), without start-up and saving.",
        "",
        "| stage | work | time (projected) | achieved | of the peak in its precision | a training step: making the batch (render, augment) "
        "/ forward / backward / optimiser | evaluation, of the stage's time |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in d["results"].items():
        if "step_s" in r:
            step = (f"{r['step_s']:.3f} s: {pct(r['step_share_batch'], 0)}% ({pct(r['step_share_render'], 0)}%, "
                    f"{pct(r['step_share_augment'], 0)}%) / {pct(r['step_share_forward'], 0)}% / "
                    f"{pct(r['step_share_backward'], 0)}% / {pct(r['step_share_optimizer'], 0)}%; the step alone "
                    f"{r['step_flop_s'] / 1e9:.0f} GFLOP/s ({r['step_share_of_peak']:.0%})")
            evals = f"{r['evaluations']:.3g} x {r['eval_s']:.1f} s: {pct(r['eval_share_of_time'], 0)}%"
            work = f"{r['steps']:,} steps, {r['flops'] / 1e12:.1f} TFLOP"
        elif "images_per_s" in r:
            step = f"{r['images_per_s']:,.0f} images/s, rendering {pct(r['share_render'], 0)}% of it"
            evals = ""
            work = f"{r['images']:,} images, {r['flops'] / 1e12:.1f} TFLOP"
        elif "every_image_s" in r or "speedup_last50" in r:
            continue  # the SimCLR section's figure; the subnormal floats' line below
        else:
            per = ", ".join(f"{PROBES.get(k, k)} {v:.0f} s" for k, v in r["per_encoder_s"].items())
            out.append(f"| {name} | per encoder: {per} (scikit-learn and a small MLP; not FLOP-counted) | "
                       f"{r['projected_s']:.0f} s | | | | |")
            continue
        out.append(f"| {name} | {work} | {r['projected_s']:.0f} s | {r['flop_s'] / 1e9:.0f} GFLOP/s | "
                   f"{r['share_of_peak']:.0%} ({r.get('precision', 'fp32')}) | {step} | {evals} |")
    out += ["", f"Projected work in all: {d['projected_total_s']:.0f} s ({d['projected_total_s'] / 60:.1f} min)."]
    r = d["results"].get("patch_cpc, subnormal floats")
    if r:
        out += ["", f"Subnormal floats (`training/host.py`, set in every `kedro run` process): {r['steps']} patch CPC "
                f"steps, each side in a fresh process from the same initial weights, take a median {r['subnormals_kept_first50_step_s']:.3f} s over the first 50 and "
                f"{r['subnormals_kept_last50_step_s']:.3f} s over the last 50 with subnormals kept, "
                f"{r['flushed_first50_step_s']:.3f} s and {r['flushed_last50_step_s']:.3f} s with them flushed: "
                f"{r['speedup_last50']:.1f}x by the end."]
    return out


def stage_efficiency_before_after() -> str:
    """Each stage's projected time, achieved FLOP/s and share of that run's measured peak, before and after the
    first changes of issue 17 (``stage_efficiency_cpu_{before,after}.json``, both kept as measured, in one session
    on one machine; ``stage_efficiency_cpu.json`` is the latest measurement, on whichever CPU it names)."""
    paths = {k: RESULTS / f"stage_efficiency_cpu_{k}.json" for k in ("before", "after")}
    if not all(p.exists() for p in paths.values()):
        return "Not measured yet: `benchmarks/results/stage_efficiency_cpu_{before,after}.json` are needed.\n"
    before, after = (json.loads(p.read_text()) for p in paths.values())

    def cell(d: dict, name: str) -> str:
        r = d["results"].get(name)
        if r is None or "projected_s" not in r or "every_image_s" in r or "speedup_last50" in r:
            return ""
        precision = f" {r['precision']}" if "precision" in r else ""
        rate = f" at {r['flop_s'] / 1e9:.0f} GFLOP/s ({r['share_of_peak']:.0%}{precision})" if "flop_s" in r else ""
        return f"{r['projected_s']:.0f} s{rate}"

    head = {k: f"{d['machine']['date'][:10]}, `{d['code_commit'][:10]}`, peak {peaks(d)}"
            for k, d in (("before", before), ("after", after))}
    out = [f"| stage | before ({head['before']}) | after ({head['after']}) |", "|---|---|---|"]
    for name in after["results"]:
        if cell(after, name):
            out.append(f"| {name} | {cell(before, name)} | {cell(after, name)} |")
    out.append(f"| **projected work in all** | {before['projected_total_s'] / 60:.1f} min | "
               f"{after['projected_total_s'] / 60:.1f} min |")
    return "\n".join(out) + "\n"


@from_json("distributed_cpu")
def distributed(d: dict) -> list[str]:
    out = []
    names = {"processes1": "1 process", "processes2_sync": "2 processes, one shared pool, BatchNorm `sync`",
             "processes2_per_rank": "2 processes, one shared pool, BatchNorm `per_rank`",
             "processes2_sync_own_pools": "2 processes, a pool per rank (earlier design), BatchNorm `sync`",
             "processes2_per_rank_own_pools": "2 processes, a pool per rank (earlier design), BatchNorm `per_rank`"}
    if "communication" in d:
        rows = d["communication"]["rows"]
        commits = ", ".join(f"`{c[:10]}`" for c in sorted({r["code_commit"] for r in rows.values()}))
        out += [
            f"`make bench-distributed ARGS=\"--part communication\"` → `benchmarks/results/distributed_cpu.json` "
            f"(code commits {commits}, per row in the JSON): the base configuration's train step at the same global "
            f"batch (64 sequences on a pool of 64 images), median of {rows['processes1']['steps']} steps after "
            "warm-up, profiled on rank 0:",
            "",
            "| processes | ms per step | sequences/s (global) | in collectives | gathered per rank and step | gradient all-reduce per step |",
            "|---|---|---|---|---|---|",
        ]
        for setting, label in names.items():
            if setting in rows:
                r = rows[setting]
                out.append(f"| {label} | {r['step_s_median'] * 1000:.0f} | {r['global_sequences_per_s']:.0f} | "
                           f"{r['communication_share']:.1%} ({r['communication_s_per_step'] * 1000:.1f} ms) | "
                           f"{r['gathered_bytes_per_rank_per_step'] / 1e3:.0f} kB | {r['allreduce_bytes_per_step'] / 1e6:.2f} MB |")
    if "accuracy" in d and d["accuracy"].get("runs"):
        a = d["accuracy"]
        runs = a["runs"].values()
        commits = ", ".join(f"`{c[:10]}`" for c in sorted({r["code_commit"] for r in runs}))
        out += ["", f"`make bench-distributed ARGS=\"--part accuracy --seeds ... --epochs {a['epochs']}\"` (code commits "
                f"{commits}, per run in the JSON): validation sequence-discrimination (chance 50%) per epoch, mean ± std "
                "over seeds, one process against two with the same global batch:", "",
                "| processes | " + " | ".join(f"epoch {e + 1}" for e in range(a["epochs"])) + " | seeds | wall minutes per run (runs overlapped other work: not a speed figure) |",
                "|---|" + "---|" * (a["epochs"] + 2)]
        for setting, label in names.items():
            mine = [r for r in runs if r["setting"] == setting]
            if not mine:
                continue
            cells = []
            for e in range(a["epochs"]):
                values = [100 * r["epochs"][e]["val_sequence_accuracy"] for r in mine]
                cells.append(f"{statistics.mean(values):.2f} ± {statistics.stdev(values) if len(values) > 1 else 0:.2f}")
            minutes = statistics.mean(r["wall_s"] for r in mine) / 60
            out.append(f"| {label} | " + " | ".join(cells) + f" | {', '.join(str(r['seed']) for r in mine)} | {minutes:.1f} |")
        order = list(names)
        out += ["", "Each run, epochs 1 to {}: ".format(a["epochs"]) + "; ".join(
            f"seed {r['seed']}, {names[r['setting']]}: " + " / ".join(f"{100 * e['val_sequence_accuracy']:.2f}" for e in r["epochs"])
            for r in sorted(runs, key=lambda r: (r["seed"], order.index(r["setting"])))) + "."]
    return out


@from_json("label_free_cpu")
def label_free(d: dict) -> list[str]:
    fractions = d["fractions"]
    seeds = sorted(d["seeds"], key=int)

    def measured(key: str, probe: str, fraction: float) -> str:
        values = [100 * r["test_accuracy"] for s in seeds for r in d["seeds"][s][key]
                  if r["probe"] == probe and r["label_fraction"] == fraction]
        if not values:
            return ""
        return f"{statistics.mean(values):.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")

    def study(encoder: str, probe: str, fraction: float) -> str:
        values = [r["test_accuracy"] for r in d["headline"]["rows"]
                  if r["encoder"] == encoder and r["probe"] == probe and r["label_fraction"] == fraction]
        return pm(values[0]) if values else ""

    columns = [(probe, f) for probe in ("mlp", "linear") for f in fractions]
    header = " | ".join(f"{PROBES[p]} {100 * f:g}%" for p, f in columns)
    spent = [d["seeds"][s]["train_seconds"] / 60 for s in seeds]  # min to max: some seeds shared the cores
    minutes = f"{min(spent):.1f}–{max(spent):.1f}" if len(spent) > 1 else f"{spent[0]:.1f}"
    simclr_minutes = pm(d["headline"]["simclr_train_seconds"], scale=1 / 60, digits=1)
    out = [
        f"`make bench-label_free ARGS=\"--seeds {' '.join(seeds)}\"` → `benchmarks/results/label_free_cpu.json` (code "
        f"commit `{d['code_commit'][:10]}`, {d['machine']['date'][:10]}; {d['machine']['cpu_count']}-core CPU). MNIST "
        "test accuracy (%), frozen encoders, every hyperparameter chosen on validation labels of the same fraction. "
        "Patch CPC is trained and probed by the benchmark; the other rows are the default run's 3-seed study "
        "(`headline_cpu.json`, mean ± std):",
        "",
        f"| encoder | labels its pretraining used | pretraining minutes | {header} |",
        "|---|---|---|" + "---|" * len(columns),
        f"| patch CPC (this project, {d['config']['trainer']['epochs']} epochs) | none | {minutes} | "
        + " | ".join(measured("patch_cpc", p, f) for p, f in columns) + " |",
        f"| SimCLR (this project, {d['headline']['simclr_epochs']['mean']:.0f} epochs) | none | {simclr_minutes} | "
        + " | ".join(study("simclr", p, f) for p, f in columns) + " |",
        "| patch encoder, random init | none | 0 | " + " | ".join(measured("random_patch_encoder", p, f) for p, f in columns) + " |",
        "| reference encoder, random init, estimated BatchNorm statistics | none | 0 | "
        + " | ".join(study("random", p, f) for p, f in columns) + " |",
        "| sequence CPC (weakly supervised: labels order its sequences) | weak | see Results | "
        + " | ".join(study("cpc", p, f) for p, f in columns) + " |",
    ]
    return out


def commit(d: dict) -> str:
    return f", code commit `{d['code_commit'][:10]}`" if d.get("code_commit") else ""


def cpu(d: dict) -> str:
    """Where the run recorded it, the CPU it ran on: figures compare within one CPU model only."""
    return f", on an {d['machine']['cpu_model']}" if d["machine"].get("cpu_model") else ""


def end_to_end() -> str:
    """The default configuration end to end: before issue 17's changes (``end_to_end_default_before.json``, kept as
    measured), commit cbcd697 on three CPUs and with bf16, now (``end_to_end_default.json``), each with its variant and
    CPU model where recorded and its result-by-result comparison with another run where one was made; and the smoke
    configuration."""
    out = []
    for name, label in (("default_before", "Before, kept as measured"), ("default_xeon", "Commit cbcd697"),
                        ("default_bf16", "With bf16 on the CPU, an opt-in"),
                        ("default_epyc_before", "Commit cbcd697 again"),
                        ("default_epyc_f25_before", "Commit cbcd697 on the CPU of the run below"), ("default", "Now"),
                        ("smoke", "")):
        path = RESULTS / f"end_to_end_{name}.json"
        if not path.exists():
            continue
        d = json.loads(path.read_text())
        if "variant" in d:
            label = f"{label} ({d['variant']}{cpu(d)})"
        label = f"{label}: " if label else ""
        stages = ", ".join(f"{s} {r['process_wall_s']:.0f} s / {r['peak_rss_mib'] / 1024:.1f} GiB"
                           for s, r in d["results"].items())
        flag = f" --env {d['config']['env']}" if d["config"].get("env") else ""
        out.append(f"{label}`benchmarks/end_to_end.py{flag}` → `benchmarks/results/end_to_end_{name}.json` "
                   f"({d['machine']['date'][:10]}; each stage a separate `kedro run --pipelines <stage>` process, wall "
                   f"time including Python and Kedro start-up, peak RSS): {stages}; {d['total_wall_s']:.0f} s in all "
                   f"({d['total_wall_s'] / 60:.1f} min{commit(d)}).")
        if "probe_check" in d:
            c = d["probe_check"]
            out.append(f"Its `probe_metrics.csv` against the default runs of `{c['headline']}` (code commit "
                       f"`{c['headline_code_commit'][:10]}`, seeds 0–2): of the {c['compared']} results both have, "
                       f"{c['equal_to_seed']} equal that study's seed {c['seed']} (this run's seed) exactly, the largest "
                       f"difference is {100 * c['max_abs_diff_to_seed']:.2f} points, and {c['within_range_pm_std']} lie "
                       "within the study's range over seeds widened by one std.")
        if "run_check" in d:
            c = d["run_check"]
            moved = ", ".join(f"{e} {100 * v:.2f}" for e, v in c["max_abs_diff_per_encoder"].items())
            out.append(f"Its probe results against `benchmarks/results/{c['other']}`'s (code commit "
                       f"`{(c['other_code_commit'] or 'unknown')[:10]}`), result by result: {c['equal']} of the "
                       f"{c['compared']} both have are equal exactly; the largest difference per encoder, in points: "
                       f"{moved}.")
    return "\n\n".join(out) + "\n" if out else "Not measured yet: no `benchmarks/results/end_to_end_*.json`.\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline, "pretraining": pretraining, "binary": binary, "time-to-quality": time_to_quality,
    "speed-steps": speed_steps, "components": components, "end-to-end": end_to_end, "distributed": distributed,
    "label-free": label_free, "stage-efficiency": stage_efficiency,
    "stage-efficiency-before-after": stage_efficiency_before_after,
}


def render(text: str) -> str:
    """``text`` with every generated block replaced by what the JSON says now."""
    def block(m: re.Match) -> str:
        if m["name"] not in GENERATORS:
            raise SystemExit(f"README block {m['name']!r} has no generator; known: {sorted(GENERATORS)}")
        return m.group(1) + GENERATORS[m["name"]]() + m.group(4)

    return BLOCK.sub(block, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the JSON")
    args = parser.parse_args()
    text = README.read_text()
    found = {m["name"] for m in BLOCK.finditer(text)}
    if found != set(GENERATORS):
        raise SystemExit(f"README.md's generated blocks {sorted(found)} differ from {sorted(GENERATORS)}")
    new = render(text)
    if args.check:
        if new != text:
            sys.exit("README.md differs from benchmarks/results/*.json: run `make readme` (benchmarks/readme_tables.py)")
        print("README.md agrees with benchmarks/results/*.json")
        return
    README.write_text(new)
    print("README.md regenerated" if new != text else "README.md already agreed with the JSON")


if __name__ == "__main__":
    main()
