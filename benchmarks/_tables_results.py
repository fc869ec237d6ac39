"""The generated blocks of README.md and docs/results.md and docs/methods.md: the headline table, the default run's
multi-seed study, the label-free studies, patch CPC's ablation and diagnosis, and the binary loss per seed."""

from __future__ import annotations

from collections.abc import Callable

from _tables import (
    COLUMN_HEADS,
    COLUMNS,
    ENCODERS,
    PROBES,
    RANDOM_PATCH_ENCODER,
    accuracy,
    commit,
    cpu,
    from_json,
    load,
    pct,
    pm,
    spread,
    table,
)
from cpc_pipeline.methods import in_table_order, supervision_level
from cpc_pipeline.hooks import STAGES
from cpc_pipeline.reporting.cited import cited


def headline() -> str:
    """The README's one table: every encoder at 1 % and 100 % of the labels, frozen linear and MLP probes, MNIST test.
    Sequence CPC and the baselines are the default run's multi-seed study (``headline_cpu.json``); patch CPC and
    SimCLR are the label-free study at equal pretraining time (``label_free_cpu.json``)."""
    study, label_free = load("headline_cpu"), load("label_free_cpu")
    if study is None or label_free is None:
        return "Not measured yet: `benchmarks/results/headline_cpu.json` and `label_free_cpu.json` are needed.\n"
    rows = []
    for method in in_table_order():  # the label-free methods from their own study, the rest from the default run's
        acc, name = (
            (accuracy(label_free["rows"]), "label_free_cpu")
            if method.label_free
            else (accuracy(study["probes"]), "headline_cpu")
        )
        if any(key[0] == method.key for key in acc):
            rows.append(
                [method.label, method.supervision.level]
                + [pm(acc.get((method.key, p, f))) for p, f in COLUMNS]
                + [f"`{name}.json`"]
            )
    acc = accuracy(study["probes"])
    rows.append(
        [
            "same encoder trained end to end (not frozen)",
            "full",
            "",
            "",
            pm(acc.get(("supervised", "end_to_end", 0.01))),
            pm(acc.get(("supervised", "end_to_end", 1.0))),
            "`headline_cpu.json`",
        ]
    )
    rows.append(["chance", "none"] + [pct(study["chance"]["probe_accuracy"])] * 4 + [""])
    seeds = lambda d: len(d["seeds"])  # noqa: E731
    return (
        "\n".join(
            [
                f"MNIST **test** accuracy (%), mean ± std over {seeds(study)} seeds; every probe's "
                "hyperparameter chosen on "
                'validation labels of the same fraction. Frozen encoders unless noted; "labels" is what the '
                "encoder's own "
                "training used (sequence CPC's sequences are ordered by digit labels).",
                "",
                *table(["encoder", "labels", *COLUMN_HEADS, "from"], rows),
            ]
        )
        + "\n"
    )


@from_json("headline_cpu")
def results(d: dict) -> list[str]:
    acc = accuracy(d["probes"])
    fractions = sorted({f for (_, _, f) in acc})
    labels = {
        r["label_fraction"]: r["labels_used"] for r in d["probes"] if r["encoder"] == "cpc" and r["probe"] == "mlp"
    }
    rows = []
    for encoder in (m.key for m in in_table_order()):
        for probe in ("mlp", "linear", "knn"):
            if (encoder, probe, fractions[-1]) in acc:
                rows.append(
                    [ENCODERS[encoder], supervision_level(encoder), PROBES[probe]]
                    + [pm(acc.get((encoder, probe, f))) for f in fractions]
                )
    rows.append(
        ["same encoder trained end to end on those labels (not frozen)", "full", "MLP head"]
        + [pm(acc.get(("supervised", "end_to_end", f))) for f in fractions]
    )
    rows.append(["chance", "none", ""] + [pct(d["chance"]["probe_accuracy"]) for _ in fractions])
    blank = [""] * (len(fractions) - 1)
    c = cited("reference_published_mlp_probe")
    rows.append(
        [
            f"Keras reference CPC: {c.what.split(': ', 1)[1]} (**cited**: {c.source})",
            c.labels,
            "MLP",
            *blank,
            pct(c.value),
        ]
    )
    m = d["machine"]
    return [
        f'`make bench-headline ARGS="--seeds {" ".join(map(str, d["seeds"]))}"` → '
        "`benchmarks/results/headline_cpu.json`"
        f"{commit(d)}, configuration hash `{d['config_hash']}`, {m['cpu_count']}-core {m['device'].upper()}, torch "
        f"{m['torch'].split('+')[0]}, {m['date'][:10]}. MNIST **test** accuracy (%), mean ± sample standard deviation "
        "over the seeds (each seed's value is in the JSON). At label fraction f a probe is fitted on a "
        "fraction f of the "
        "50,000 training labels and its hyperparameter (the MLP's epoch, C, k) is chosen on the same fraction of the "
        "10,000 validation labels; the column heads count both.",
        "",
        *table(
            [
                "encoder (frozen unless noted)",
                "labels its training used",
                "probe",
                *(f"{f:.0%} labels ({int(labels.get(f, 0)):,})" for f in fractions),
            ],
            rows,
        ),
    ]


@from_json("headline_cpu")
def pretraining(d: dict) -> list[str]:
    p, s = d["pretraining"], d.get("simclr", {})
    stage = d["stage_wall_seconds"]
    reached = p["epoch_to_99"]
    when = (
        f"reached 99% after {pm(p['seconds_to_99'], 1, 0, ' s')} of pretraining (epoch "
        f"{reached['min']:.0f}–{reached['max']:.0f})"
        if reached.get("n")
        else "never reached 99%"
    )
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
        out.append(
            f"SimCLR: validation k-NN monitor {pm(s['val_knn_accuracy'])}% after {s['epochs']['mean']:.0f} "
            f"epochs ({pm(s['train_seconds'], 1, 0, ' s')} of training)."
        )
    times = ", ".join(f"{name} {pm(stage[name], 1, 0, ' s')}" for name in STAGES if name in stage)
    out.append(f"Node time per stage: {times}; the whole `kedro run` {pm(d['run_wall_s'], 1 / 60, 1, ' min')}.")
    return out


def label_free_study(name: str, dataset: str, anchors: tuple[str, ...] = ()) -> Callable[[], str]:
    """Patch CPC against SimCLR at equal pretraining time, with the baselines, from ``<name>.json``; ``anchors``:
    keys of cited outside figures, each in the last column (the figure its source gives) with the labels it used."""

    @from_json(name)
    def render(d: dict) -> list[str]:
        acc = accuracy(d["rows"])
        seeds = sorted(d["seeds"], key=int)

        def minutes(key: str) -> str:
            return spread([d["seeds"][s]["train_seconds"][key] for s in seeds], 1 / 60, 1)

        label_free = [m.key for m in in_table_order() if m.label_free and f"{m.key}_config" in d]
        trained = {k: (f"{d[f'{k}_config']['trainer']['epochs']} epochs", minutes(f"fit_{k}")) for k in label_free}
        measured = {encoder for encoder, _, _ in acc}  # a baseline the study predates has no row
        baselines = [m.key for m in in_table_order() if m.supervision.level == "none" and not m.trains]
        baselines = [key for key in baselines if key in measured]
        rows = []
        for encoder in (*label_free, RANDOM_PATCH_ENCODER, *baselines):
            how, spent = trained.get(encoder, ("", "0"))
            rows.append(
                [f"{ENCODERS[encoder]}" + (f" ({how})" if how else ""), "none", spent]
                + [pm(acc.get((encoder, p, f))) for p, f in COLUMNS]
            )
        rows.append(
            [
                "reference encoder trained end to end on those labels",
                "full",
                "",
                "",
                "",
                pm(acc.get(("supervised", "end_to_end", 0.01))),
                pm(acc.get(("supervised", "end_to_end", 1.0))),
            ]
        )
        for key in anchors:
            c = cited(key)
            rows.append(
                [
                    f"{c.what.split(': ', 1)[1]} (**cited**: {c.source.split(' (')[0]})",
                    c.labels,
                    "",
                    "",
                    "",
                    "",
                    pct(c.value),
                ]
            )
        return [
            f'`make bench-label_free ARGS="--dataset {d["dataset"]} --seeds {" ".join(seeds)}"` → '
            f"`benchmarks/results/{name}.json`{commit(d)}, {d['machine']['date'][:10]}{cpu(d)} "
            f"({d['machine']['cpu_count']} cores). {dataset} **test** accuracy (%), mean ± std over "
            f"{len(seeds)} seeds; "
            f"{d['data']['train_images']:,} training and {d['data']['validation_images']:,} validation images, every "
            "probe's hyperparameter chosen on validation labels of the same fraction. Pretraining minutes are each "
            "seed's training time on the same CPU; the end-to-end row's figures sit under the MLP columns.",
            "",
            *table(["encoder (frozen unless noted)", "labels", "pretraining minutes", *COLUMN_HEADS], rows),
        ]

    return render


POOLS = {
    "mean": "the mean of the 49 codes",
    "max": "their maximum",
    "context": "the context network's features",
    "grid": "the codes averaged over 3x3 regions (`pool: grid`)",
}


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
        f'`make bench-patch_cpc_ablation ARGS="--steps {d["steps"]} --val-images {d["val_images"]}"` (the rows '
        "with three seeds again with `--rows ... --seeds 0 1 2`) → `benchmarks/results/patch_cpc_ablation_cpu.json`"
        f"{commit(d)}, "
        f"{d['machine']['date'][:10]}{cpu(d)}. Each row trains patch CPC for {d['steps']} steps on "
        f"{d['train_images']:,} MNIST training images from conf/base with the row's overrides (in the JSON), "
        "then fits a "
        f"linear probe on each pooled feature of the frozen encoder and scores it on {d['val_images']:,} "
        "**validation** "
        "images (accuracy %, mean ± std over the seeds listed). These choose the defaults, so no test image is used.",
        "",
        *table(
            [
                "row",
                "what changes",
                "seeds",
                *(f"linear probe on {POOLS[p]}" for p in pools),
                "pretext top-1 on validation",
            ],
            rows,
        ),
    ]


@from_json("patch_cpc_diagnosis_cpu")
def patch_cpc_diagnosis(d: dict) -> list[str]:
    rows = []
    for name, r in d["rows"].items():
        near = r["nearest_patch_code"]
        rows.append(
            [
                f"`{name}`",
                pct(r["pretext_accuracy"]["background"]),
                pct(r["pretext_accuracy"]["digit"]),
                pct(near["background"]["background_agreement"]),
                pct(near["digit"]["same_class_digit_neighbour"]),
                pct(near["digit"]["neighbour_is_digit_patch"]),
                pct(r["mean_feature_share_from_background"]),
            ]
        )
    r = next(iter(d["rows"].values()))
    return [
        f"`make bench-patch_cpc_diagnosis` → `benchmarks/results/patch_cpc_diagnosis_cpu.json`{commit(d)}, "
        f"{d['machine']['date'][:10]}{cpu(d)}; {d['images']:,} validation images, each patch called *background* when "
        f"under {d['digit_share']:.0%} of its pixels belong to the digit ({pct(r['background_patch_share'])}% of the "
        f"patches; {pct(r['digit_patch_share'])}% hold the digit). Percentages:",
        "",
        *table(
            [
                "encoder",
                "pretext top-1, target a background patch",
                "pretext top-1, target a digit patch",
                "background patch: nearest code shares its background",
                "digit patch: nearest code a digit patch of the same class",
                "digit patch: nearest code a digit patch",
                "share of the mean-pooled feature from background patches",
            ],
            rows,
        ),
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
        f'`make bench-headline ARGS="--env binary --pipelines data_processing,pretraining --seeds '
        f'{" ".join(map(str, d["seeds"]))}"` → `benchmarks/results/headline_cpu_binary.json`{commit(d)}, '
        f"{d['machine']['date'][:10]}. Validation sequence-discrimination (%) after each epoch on the 2,496 held-out "
        "validation sequences (chance 50%); bold: the first epoch at 99% or more.",
        "",
        *table(["seed", *(str(e + 1) for e in range(epochs)), "99% after"], rows),
    ]
