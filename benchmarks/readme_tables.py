"""The measured figures in README.md and docs/*.md, generated from the committed JSON under benchmarks/results/.

    .venv/bin/python benchmarks/readme_tables.py          # rewrite every generated block (make readme)
    .venv/bin/python benchmarks/readme_tables.py --check  # exit 1 when a page differs from the JSON

A generated block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``: edit this script,
never the block. Each generator below makes one block from one or two JSON files and appears in exactly one page;
the test suite runs ``--check``, so a figure that disagrees with its JSON fails CI. Figures the project did not
measure come from ``cpc_pipeline.reporting.cited`` and say "cited".
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from cpc_pipeline.evaluation.supervision import supervision_level
from cpc_pipeline.hooks import STAGES
from cpc_pipeline.reporting.cited import cited

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)
ENCODERS = {  # row label, in table order
    "cpc": "sequence CPC",
    "patch_cpc": "patch CPC",
    "simclr": "SimCLR",
    "random_patch_encoder": "patch encoder, random init",
    "random": "reference encoder, random init (BatchNorm statistics estimated)",
    "supervised": "reference encoder trained with the labels",
}
PROBES = {"linear": "linear", "mlp": "MLP", "knn": "k-NN", "end_to_end": "end to end"}


def pages() -> list[Path]:
    """Every page that may hold generated blocks: the README and the documentation."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


# ------------------------------------------------------------------ small writers
def table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A Markdown table's lines."""
    head = list(head)
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def from_json(name: str) -> Callable[[Callable[[dict], list[str]]], Callable[[], str]]:
    """A block generator fed with ``benchmarks/results/<name>.json`` (its lines joined), or a line saying the
    JSON is missing."""
    def wrap(render: Callable[[dict], list[str]]) -> Callable[[], str]:
        def block() -> str:
            d = load(name)
            if d is None:
                return f"Not measured yet: `benchmarks/results/{name}.json` is missing.\n"
            return "\n".join(render(d)) + "\n"
        return block
    return wrap


def pct(x: float | None, digits: int = 1) -> str:
    return "" if x is None else f"{100 * x:.{digits}f}"


def pm(s: dict | None, scale: float = 100, digits: int = 2, unit: str = "") -> str:
    """``mean ± std`` of a statistics block ("" when no seed has it)."""
    if not s or not s.get("n"):
        return ""
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}{unit}"


def spread(values: list[float], scale: float = 100, digits: int = 2) -> str:
    """``mean ± sample std`` of a list of per-seed values; the value alone for one seed."""
    if len(values) < 2:
        return f"{scale * values[0]:.{digits}f}" if values else ""
    return f"{scale * statistics.mean(values):.{digits}f} ± {scale * statistics.stdev(values):.{digits}f}"


def commit(d: dict) -> str:
    return f", code commit `{d['code_commit'][:10]}`" if d.get("code_commit") else ""


def cpu(d: dict) -> str:
    """Where the run recorded it, the CPU it ran on: figures compare within one CPU model only."""
    return f", on an {d['machine']['cpu_model']}" if d["machine"].get("cpu_model") else ""


def accuracy(rows: Iterable[dict]) -> dict[tuple[str, str, float], dict]:
    """``(encoder, probe, label fraction) -> test-accuracy statistics`` of a study's result rows."""
    return {(r["encoder"], r["probe"], r["label_fraction"]): r["test_accuracy"] for r in rows}


COLUMNS = [("linear", 0.01), ("linear", 1.0), ("mlp", 0.01), ("mlp", 1.0)]
COLUMN_HEADS = [f"{PROBES[p]}, {f:.0%} labels" for p, f in COLUMNS]


# ------------------------------------------------------------------ results
def headline() -> str:
    """The README's one table: every encoder at 1 % and 100 % of the labels, frozen linear and MLP probes, MNIST test.
    Sequence CPC and the baselines are the default run's multi-seed study (``headline_cpu.json``); patch CPC and
    SimCLR are the label-free study at equal pretraining time (``label_free_cpu.json``)."""
    study, label_free = load("headline_cpu"), load("label_free_cpu")
    if study is None or label_free is None:
        return "Not measured yet: `benchmarks/results/headline_cpu.json` and `label_free_cpu.json` are needed.\n"
    sources = ((accuracy(study["probes"]), "headline_cpu", ("cpc", "random", "supervised")),
               (accuracy(label_free["rows"]), "label_free_cpu", ("patch_cpc", "simclr")))
    rows = []
    for encoder in ENCODERS:
        for acc, name, encoders in sources:
            if encoder in encoders:
                rows.append([ENCODERS[encoder], supervision_level(encoder)]
                            + [pm(acc.get((encoder, p, f))) for p, f in COLUMNS] + [f"`{name}.json`"])
    acc = accuracy(study["probes"])
    rows.append(["same encoder trained end to end (not frozen)", "full", "", "",
                 pm(acc.get(("supervised", "end_to_end", 0.01))), pm(acc.get(("supervised", "end_to_end", 1.0))),
                 "`headline_cpu.json`"])
    rows.append(["chance", "none"] + [pct(study["chance"]["probe_accuracy"])] * 4 + [""])
    seeds = lambda d: len(d["seeds"])  # noqa: E731
    return "\n".join([
        f"MNIST **test** accuracy (%), mean ± std over {seeds(study)} seeds; every probe's hyperparameter chosen on "
        "validation labels of the same fraction. Frozen encoders unless noted; \"labels\" is what the encoder's own "
        "training used (sequence CPC's sequences are ordered by digit labels).",
        "",
        *table(["encoder", "labels", *COLUMN_HEADS, "from"], rows),
    ]) + "\n"


@from_json("headline_cpu")
def results(d: dict) -> list[str]:
    acc = accuracy(d["probes"])
    fractions = sorted({f for (_, _, f) in acc})
    labels = {r["label_fraction"]: r["labels_used"] for r in d["probes"] if r["encoder"] == "cpc" and r["probe"] == "mlp"}
    rows = []
    for encoder in ("cpc", "simclr", "random", "supervised"):
        for probe in ("mlp", "linear", "knn"):
            if (encoder, probe, fractions[-1]) in acc:
                rows.append([ENCODERS[encoder], supervision_level(encoder), PROBES[probe]]
                            + [pm(acc.get((encoder, probe, f))) for f in fractions])
    rows.append(["same encoder trained end to end on those labels (not frozen)", "full", "MLP head"]
                + [pm(acc.get(("supervised", "end_to_end", f))) for f in fractions])
    rows.append(["chance", "none", ""] + [pct(d["chance"]["probe_accuracy"]) for _ in fractions])
    blank = [""] * (len(fractions) - 1)
    for key, probe in (("reference_frozen_probe", "linear"), ("reference_published_mlp_probe", "MLP")):
        c = cited(key)
        rows.append([f"Keras reference CPC: {c.what.split(': ', 1)[1]} (**cited**, not measured here)", "weak", probe,
                     *blank, pct(c.value)])
    m = d["machine"]
    return [
        f"`make bench-headline ARGS=\"--seeds {' '.join(map(str, d['seeds']))}\"` → `benchmarks/results/headline_cpu.json`"
        f"{commit(d)}, configuration hash `{d['config_hash']}`, {m['cpu_count']}-core {m['device'].upper()}, torch "
        f"{m['torch'].split('+')[0]}, {m['date'][:10]}. MNIST **test** accuracy (%), mean ± sample standard deviation "
        "over the seeds (each seed's value is in the JSON). At label fraction f a probe is fitted on a fraction f of the "
        "50,000 training labels and its hyperparameter (the MLP's epoch, C, k) is chosen on the same fraction of the "
        "10,000 validation labels; the column heads count both.",
        "",
        *table(["encoder (frozen unless noted)", "labels its training used", "probe",
                *(f"{f:.0%} labels ({int(labels.get(f, 0)):,})" for f in fractions)], rows),
    ]


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


def label_free_study(name: str, dataset: str, anchors: tuple[str, ...] = ()) -> Callable[[], str]:
    """Patch CPC against SimCLR at equal pretraining time, with the baselines, from ``<name>.json``; ``anchors``:
    keys of cited outside figures, shown under the MLP 100 % column as supervised results."""
    @from_json(name)
    def render(d: dict) -> list[str]:
        acc = accuracy(d["rows"])
        seeds = sorted(d["seeds"], key=int)

        def minutes(key: str) -> str:
            return spread([d["seeds"][s]["train_seconds"][key] for s in seeds], 1 / 60, 1)

        trained = {"patch_cpc": (f"{d['patch_cpc_config']['trainer']['epochs']} epochs", minutes("fit_patch_cpc")),
                   "simclr": (f"{d['simclr_config']['trainer']['epochs']} epochs", minutes("fit_simclr"))}
        rows = []
        for encoder in ("patch_cpc", "simclr", "random_patch_encoder", "random"):
            how, spent = trained.get(encoder, ("", "0"))
            rows.append([f"{ENCODERS[encoder]}" + (f" ({how})" if how else ""), "none", spent] + [pm(acc.get((encoder, p, f))) for p, f in COLUMNS])
        rows.append(["reference encoder trained end to end on those labels", "full", "", "", "",
                     pm(acc.get(("supervised", "end_to_end", 0.01))), pm(acc.get(("supervised", "end_to_end", 1.0)))])
        for key in anchors:
            c = cited(key)
            rows.append([f"{c.what.split(': ', 1)[1]} (**cited**: {c.source.split(' (')[0]})",
                         "" if "human" in key else "full", "", "", "", "",
                         pct(c.value)])
        return [
            f"`make bench-label_free ARGS=\"--dataset {d['dataset']} --seeds {' '.join(seeds)}\"` → "
            f"`benchmarks/results/{name}.json`{commit(d)}, {d['machine']['date'][:10]}{cpu(d)} "
            f"({d['machine']['cpu_count']} cores). {dataset} **test** accuracy (%), mean ± std over {len(seeds)} seeds; "
            f"{d['data']['train_images']:,} training and {d['data']['validation_images']:,} validation images, every "
            "probe's hyperparameter chosen on validation labels of the same fraction. Pretraining minutes are each "
            "seed's training time on the same CPU; the end-to-end row's figures sit under the MLP columns.",
            "",
            *table(["encoder (frozen unless noted)", "labels", "pretraining minutes", *COLUMN_HEADS], rows),
        ]
    return render


POOLS = {"mean": "the mean of the 49 codes", "max": "their maximum", "context": "the context network's features",
         "grid": "the codes averaged over 3x3 regions (`pool: grid`)"}


@from_json("patch_cpc_ablation_cpu")
def patch_cpc_ablation(d: dict) -> list[str]:
    pools = ("mean", "max", "context", "grid")
    rows = []
    for name, r in d["rows"].items():
        seeds = sorted(r["seeds"], key=int)
        cells = [spread([r["seeds"][s]["val_linear_accuracy"][pool] for s in seeds], digits=1) for pool in pools]
        pretext = spread([r["seeds"][s]["val_pretext_accuracy"] for s in seeds], digits=1)
        rows.append([f"`{name}`", r["what"], ", ".join(seeds)] + cells + [pretext])
    return [
        f"`make bench-patch_cpc_ablation ARGS=\"--steps {d['steps']} --val-images {d['val_images']}\"` (the rows "
        "with three seeds again with `--rows ... --seeds 0 1 2`) → `benchmarks/results/patch_cpc_ablation_cpu.json`"
        f"{commit(d)}, "
        f"{d['machine']['date'][:10]}{cpu(d)}. Each row trains patch CPC for {d['steps']} steps on "
        f"{d['train_images']:,} MNIST training images from conf/base with the row's overrides (in the JSON), then fits a "
        f"linear probe on each pooled feature of the frozen encoder and scores it on {d['val_images']:,} **validation** "
        "images (accuracy %, mean ± std over the seeds listed). These choose the defaults, so no test image is used.",
        "",
        *table(["row", "what changes", "seeds", *(f"linear probe on {POOLS[p]}" for p in pools),
                "pretext top-1 on validation"], rows),
    ]


@from_json("patch_cpc_diagnosis_cpu")
def patch_cpc_diagnosis(d: dict) -> list[str]:
    rows = []
    for name, r in d["rows"].items():
        near = r["nearest_patch_code"]
        rows.append([f"`{name}`", pct(r["pretext_accuracy"]["background"]), pct(r["pretext_accuracy"]["digit"]),
                     pct(near["background"]["background_agreement"]), pct(near["digit"]["same_class_digit_neighbour"]),
                     pct(near["digit"]["neighbour_is_digit_patch"]), pct(r["mean_feature_share_from_background"])])
    r = next(iter(d["rows"].values()))
    return [
        f"`make bench-patch_cpc_diagnosis` → `benchmarks/results/patch_cpc_diagnosis_cpu.json`{commit(d)}, "
        f"{d['machine']['date'][:10]}{cpu(d)}; {d['images']:,} validation images, each patch called *background* when "
        f"under {d['digit_share']:.0%} of its pixels belong to the digit ({pct(r['background_patch_share'])}% of the "
        f"patches; {pct(r['digit_patch_share'])}% hold the digit). Percentages:",
        "",
        *table(["encoder", "pretext top-1, target a background patch", "pretext top-1, target a digit patch",
                "background patch: nearest code shares its background", "digit patch: nearest code a digit patch of the "
                "same class", "digit patch: nearest code a digit patch", "share of the mean-pooled feature from "
                "background patches"], rows),
    ]


@from_json("headline_cpu_binary")
def binary(d: dict) -> list[str]:
    runs = d["per_seed"]
    epochs = max(len(r["pretraining"]["history"]["val_sequence_accuracy"]) for r in runs.values())
    rows = []
    for seed, r in runs.items():
        h, p = r["pretraining"]["history"]["val_sequence_accuracy"], r["pretraining"]
        first = p["epoch_to_99"]
        cells = [(f"**{pct(v)}**" if i + 1 == first else pct(v)) for i, v in enumerate(h)]
        after = f"{p['seconds_to_99']:.0f} s (epoch {first})" if first else "not within the run"
        rows.append([seed, *cells, *[""] * (epochs - len(cells)), after])
    return [
        f"`make bench-headline ARGS=\"--env binary --pipelines data_processing,pretraining --seeds "
        f"{' '.join(map(str, d['seeds']))}\"` → `benchmarks/results/headline_cpu_binary.json`{commit(d)}, "
        f"{d['machine']['date'][:10]}. Validation sequence-discrimination (%) after each epoch on the 2,496 held-out "
        "validation sequences (chance 50%); bold: the first epoch at 99% or more.",
        "",
        *table(["seed", *(str(e + 1) for e in range(epochs)), "99% after"], rows),
    ]


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
    ref = cited("reference_seconds_to_99"), cited("reference_frozen_probe"), cited("reference_sequences_per_s")
    rows = [
        [f"Keras reference (binary loss, batch 32; **cited**: {ref[0].source.split(':')[0]})",
         f"about {ref[0].value:,.0f} s (epoch {cited('reference_epoch_to_99').value:.0f})",
         f"never, truly frozen ({pct(ref[1].value)}%)", "never", f"about {ref[2].value:.0f}"],
        ["this project, default (InfoNCE, pooled batches)", f"**{at('val_sequence_accuracy>=0.99')}**",
         at("probe_test_accuracy>=0.9"), at("probe_test_accuracy>=0.97"), f"{rate:.0f}" if rate else "see speed steps"],
    ]
    return [
        f"`benchmarks/time_to_quality.py --epochs {d['config']['epochs']}` → "
        f"`benchmarks/results/time_to_quality_cpu_infonce.json` ({d['machine']['date'][:10]}, "
        f"{d['machine']['cpu_count']}-core CPU, seed {d['config']['pretraining']['trainer']['seed']}{commit(d)}). After "
        f"each epoch, with the clock paused, an MLP and a linear probe are fitted on {d['config']['probe_train']:,} "
        "training images' features; all 10,000 validation labels choose each probe's hyperparameter *and* which "
        "of the two probes is reported; the chosen one is scored on the 10,000 MNIST test images.",
        "",
        *table(["", "99% validation sequence-discrimination", "probe reaches 90% MNIST test", "probe reaches 97%",
                "training sequences/s"], rows),
    ]


@from_json("speed_steps_cpu")
def speed_steps(d: dict) -> list[str]:
    rows = [[name, r["error"], "", ""] if "error" in r else
            [name, f"{r['before']}: {r['before_per_s']:.0f}/s", f"{r['after']}: {r['after_per_s']:.0f}/s",
             f"{r['speedup']:.1f}x"] for name, r in d["results"].items()]
    return [
        f"`benchmarks/speed_steps.py --compile` → `benchmarks/results/speed_steps_cpu.json` ({d['machine']['date'][:10]}; "
        "items/s, median of 5 timings of 10 train steps, the two settings timed alternately; ranges in the JSON):",
        "",
        *table(["step", "without", "with", "speed-up"], rows),
    ]


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
    rows = []
    for name, r in d["results"].items():
        if "step_s" in r:
            step = (f"{r['step_s']:.3f} s: {pct(r['step_share_batch'], 0)}% ({pct(r['step_share_render'], 0)}%, "
                    f"{pct(r['step_share_augment'], 0)}%) / {pct(r['step_share_forward'], 0)}% / "
                    f"{pct(r['step_share_backward'], 0)}% / {pct(r['step_share_optimizer'], 0)}%; the step alone "
                    f"{r['step_flop_s'] / 1e9:.0f} GFLOP/s ({r['step_share_of_peak']:.0%})")
            evals = f"{r['evaluations']:.3g} x {r['eval_s']:.1f} s: {pct(r['eval_share_of_time'], 0)}%"
            work = f"{r['steps']:,} steps, {r['flops'] / 1e12:.1f} TFLOP"
        elif "images_per_s" in r:
            step, evals = f"{r['images_per_s']:,.0f} images/s, rendering {pct(r['share_render'], 0)}% of it", ""
            work = f"{r['images']:,} images, {r['flops'] / 1e12:.1f} TFLOP"
        elif "every_image_s" in r or "speedup_last50" in r:
            continue  # the SimCLR section's figure; the subnormal floats' line below
        else:
            per = ", ".join(f"{PROBES.get(k, k)} {v:.0f} s" for k, v in r["per_encoder_s"].items())
            rows.append([name, f"per encoder: {per} (scikit-learn and a small MLP; not FLOP-counted)",
                         f"{r['projected_s']:.0f} s", "", "", "", ""])
            continue
        rows.append([name, work, f"{r['projected_s']:.0f} s", f"{r['flop_s'] / 1e9:.0f} GFLOP/s",
                     f"{r['share_of_peak']:.0%} ({r.get('precision', 'fp32')})", step, evals])
    out = [
        f"`benchmarks/stage_efficiency.py --steps {d['config']['steps']}` → `benchmarks/results/stage_efficiency_cpu.json` "
        f"({d['machine']['date'][:10]}{commit(d)}{cpu(d)}; measured matmul peak {peaks(d)}). Each stage's "
        "work as its node builds it from conf/base: FLOPs counted with `FlopCounterMode` (matmuls and convolutions), "
        "the step and the evaluation timed in the real training loop, the breakdown from `torch.profiler`; time is "
        "projected to the default run (steps x step + evaluations x evaluation), without start-up and saving.",
        "",
        *table(["stage", "work", "time (projected)", "achieved", "of the peak in its precision",
                "a training step: making the batch (render, augment) / forward / backward / optimiser",
                "evaluation, of the stage's time"], rows),
        "", f"Projected work in all: {d['projected_total_s']:.0f} s ({d['projected_total_s'] / 60:.1f} min).",
    ]
    r = d["results"].get("patch_cpc, subnormal floats")
    if r:
        out += ["", f"Subnormal floats (`training/host.py`, set in every `kedro run` process): {r['steps']} patch CPC "
                f"steps, each side in a fresh process from the same initial weights, take a median "
                f"{r['subnormals_kept_first50_step_s']:.3f} s over the first 50 and "
                f"{r['subnormals_kept_last50_step_s']:.3f} s over the last 50 with subnormals kept, "
                f"{r['flushed_first50_step_s']:.3f} s and {r['flushed_last50_step_s']:.3f} s with them flushed: "
                f"{r['speedup_last50']:.1f}x by the end."]
    return out


def end_to_end() -> str:
    """The default configuration end to end (``end_to_end_default.json``), the bf16 opt-in against fp32 on one CPU
    (``end_to_end_default_{bf16,xeon}.json``) and the smoke configuration (``end_to_end_smoke.json``): per stage, wall
    time and peak memory, and the run's probe results compared with another run where one was made."""
    out = []
    for name, label in (("default", "The default run"), ("default_xeon", "In fp32 on the CPU of the bf16 run below"),
                        ("default_bf16", "With bf16 on the CPU, an opt-in"), ("smoke", "The smoke configuration")):
        d = load(f"end_to_end_{name}")
        if d is None:
            continue
        stages = ", ".join(f"{s} {r['process_wall_s']:.0f} s / {r['peak_rss_mib'] / 1024:.1f} GiB"
                           for s, r in d["results"].items())
        flag = f" --env {d['config']['env']}" if d["config"].get("env") else ""
        variant = f" ({d['variant']})" if d.get("variant") else ""
        out.append(f"{label}{variant}: `benchmarks/end_to_end.py{flag}` → `benchmarks/results/end_to_end_{name}.json` "
                   f"({d['machine']['date'][:10]}{commit(d)}{cpu(d)}; each stage a separate `kedro run --pipelines "
                   f"<stage>` process, wall time including Python and Kedro start-up, peak RSS): {stages}; "
                   f"**{d['total_wall_s']:.0f} s in all** ({d['total_wall_s'] / 60:.1f} min).")
        if "run_check" in d:
            c = d["run_check"]
            moved = ", ".join(f"{e} {100 * v:.2f}" for e, v in c["max_abs_diff_per_encoder"].items())
            where = f", on an {c['other_cpu_model']}" if c.get("other_cpu_model") else ""
            out.append(f"Its probe results against another run's (code commit "
                       f"`{(c['other_code_commit'] or 'unknown')[:10]}`{where}), result by result: {c['equal']} of the "
                       f"{c['compared']} both have are equal exactly; the largest difference per encoder, in points: "
                       f"{moved}.")
    return "\n\n".join(out) + "\n" if out else "Not measured yet: no `benchmarks/results/end_to_end_*.json`.\n"


@from_json("distributed_cpu")
def distributed(d: dict) -> list[str]:
    out = []
    names = {"processes1": "1 process", "processes2_sync": "2 processes, one shared pool, BatchNorm `sync`",
             "processes2_per_rank": "2 processes, one shared pool, BatchNorm `per_rank`",
             "processes2_sync_own_pools": "2 processes, a pool per rank, BatchNorm `sync`",
             "processes2_per_rank_own_pools": "2 processes, a pool per rank, BatchNorm `per_rank`"}
    if "communication" in d:
        rows = d["communication"]["rows"]
        commits = ", ".join(f"`{c[:10]}`" for c in sorted({r["code_commit"] for r in rows.values()}))
        out += [
            f"`make bench-distributed ARGS=\"--part communication\"` → `benchmarks/results/distributed_cpu.json` "
            f"(code commits {commits}, per row in the JSON): the base configuration's train step at the same global "
            f"batch (64 sequences on a pool of 64 images), median of {rows['processes1']['steps']} steps after "
            "warm-up, profiled on rank 0:",
            "",
            *table(["processes", "ms per step", "sequences/s (global)", "in collectives", "gathered per rank and step",
                    "gradient all-reduce per step"],
                   ([label, f"{r['step_s_median'] * 1000:.0f}", f"{r['global_sequences_per_s']:.0f}",
                     f"{r['communication_share']:.1%} ({r['communication_s_per_step'] * 1000:.1f} ms)",
                     f"{r['gathered_bytes_per_rank_per_step'] / 1e3:.0f} kB",
                     f"{r['allreduce_bytes_per_step'] / 1e6:.2f} MB"]
                    for setting, label in names.items() if (r := rows.get(setting)))),
        ]
    if "accuracy" in d and d["accuracy"].get("runs"):
        a = d["accuracy"]
        runs = list(a["runs"].values())
        commits = ", ".join(f"`{c[:10]}`" for c in sorted({r["code_commit"] for r in runs}))
        rows = []
        for setting, label in names.items():
            mine = [r for r in runs if r["setting"] == setting]
            if mine:
                rows.append([label, *(spread([r["epochs"][e]["val_sequence_accuracy"] for r in mine])
                                      for e in range(a["epochs"])),
                             ", ".join(str(r["seed"]) for r in mine),
                             f"{statistics.mean(r['wall_s'] for r in mine) / 60:.1f}"])
        out += ["", f"`make bench-distributed ARGS=\"--part accuracy --seeds ... --epochs {a['epochs']}\"` (code commits "
                f"{commits}, per run in the JSON): validation sequence-discrimination (chance 50%) per epoch, mean ± std "
                "over seeds, one process against two with the same global batch:", "",
                *table(["processes", *(f"epoch {e + 1}" for e in range(a["epochs"])), "seeds",
                        "wall minutes per run (runs overlapped other work: not a speed figure)"], rows)]
    return out


GENERATORS: dict[str, Callable[[], str]] = {
    "headline": headline, "results": results, "pretraining": pretraining, "binary": binary,
    "label-free": label_free_study("label_free_cpu", "MNIST"),
    "label-free-fashion": label_free_study("label_free_fashion_cpu", "Fashion-MNIST", (
        "fashion_mlp_256_128_64", "fashion_resnet18_augmented", "fashion_human")),
    "patch-cpc-ablation": patch_cpc_ablation, "patch-cpc-diagnosis": patch_cpc_diagnosis,
    "time-to-quality": time_to_quality, "speed-steps": speed_steps, "components": components,
    "stage-efficiency": stage_efficiency, "end-to-end": end_to_end, "distributed": distributed,
}


def render(text: str) -> str:
    """``text`` with every generated block replaced by what the JSON says now."""
    def block(m: re.Match) -> str:
        if m["name"] not in GENERATORS:
            raise SystemExit(f"generated block {m['name']!r} has no generator; known: {sorted(GENERATORS)}")
        return m.group(1) + GENERATORS[m["name"]]() + m.group(4)

    return BLOCK.sub(block, text)


def check_placement(texts: dict[Path, str]) -> None:
    """Every generator's block appears in exactly one page."""
    where: dict[str, list[str]] = {}
    for path, text in texts.items():
        for m in BLOCK.finditer(text):
            where.setdefault(m["name"], []).append(path.relative_to(ROOT).as_posix())
    wrong = {name: where.get(name, []) for name in GENERATORS if len(where.get(name, [])) != 1}
    if wrong:
        raise SystemExit(f"each generated block must appear in exactly one page; found: {wrong}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a page differs from the JSON")
    args = parser.parse_args()
    texts = {path: path.read_text() for path in pages()}
    check_placement(texts)
    stale = []
    for path, text in texts.items():
        new = render(text)
        if new != text:
            stale.append(path.relative_to(ROOT).as_posix())
            if not args.check:
                path.write_text(new)
    if args.check:
        if stale:
            sys.exit(f"{', '.join(stale)} differ from benchmarks/results/*.json: run `make readme` "
                     "(benchmarks/readme_tables.py)")
        print("README.md and docs/*.md agree with benchmarks/results/*.json")
        return
    print(f"regenerated: {', '.join(stale)}" if stale else "every page already agreed with the JSON")


if __name__ == "__main__":
    main()
