"""Matplotlib figures of the project; each function returns a Figure and saves nothing."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure  # no pyplot: no global figure registry to leak, any backend works
from matplotlib.ticker import NullFormatter

from cpc_pipeline.methods import METHODS


def _to_display(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, C) or (H, W) in [0, 1]."""
    x = ((image.detach().float().cpu() + 1) / 2).clamp(0, 1)
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def message_figure(text: str, title: str) -> Figure:
    """A figure that says, in words, why it holds no plot (a run without labels has no probe to draw)."""
    fig = Figure(figsize=(5, 2.4))
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9, transform=ax.transAxes)
    ax.set_title(title, fontsize=10)
    return fig


def plot_sequences(images: torch.Tensor, digits: np.ndarray, labels: np.ndarray, terms: int) -> Figure:
    """A grid, one row per sequence ``(n, T, C, H, W)``: context | future, titled with the digits."""
    n, length = images.shape[:2]
    fig = Figure(figsize=(1.1 * length + 1.2, 1.25 * n))
    axes = fig.subplots(n, length, squeeze=False)
    for i in range(n):
        kind = "positive" if labels[i] == 1 else "negative"
        for t in range(length):
            ax = axes[i, t]
            ax.imshow(_to_display(images[i, t]), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(str(int(digits[i, t])), fontsize=8, color="black" if t < terms else "tab:blue")
            if t == terms:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:blue")
                    spine.set_linewidth(2)
        axes[i, 0].set_ylabel(kind, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(f"Sequences: {terms} context images, then the future (blue digits)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pictures(pictures: np.ndarray, titles: list[str], title: str) -> Figure:
    """uint8 ``(n, S, S, C)`` pictures in a grid of up to eight columns, each titled (its class, or nothing)."""
    columns = min(8, len(pictures))
    rows = -(-len(pictures) // columns)
    fig = Figure(figsize=(1.2 * columns + 0.4, 1.35 * rows + 0.5))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, picture, name in zip(axes.flat, pictures, titles):
        ax.imshow(np.squeeze(picture), cmap="gray", vmin=0, vmax=255)
        ax.set_title(name, fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_pretraining_curves(history: pd.DataFrame, title: str) -> Figure:
    """Loss, accuracies and the mutual-information bound per epoch (train dashed, validation solid)."""
    panels = [
        ("loss", "loss"),
        ("accuracy", "contrastive accuracy"),
        ("sequence_accuracy", "sequence accuracy"),
        ("mi_bound", "MI bound log N - L (nats)"),
    ]
    panels = [(k, t) for k, t in panels if f"val_{k}" in history or f"train_{k}" in history]
    fig = Figure(figsize=(3.6 * len(panels), 3.2))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        for split, style in (("train", "--"), ("val", "-")):
            if f"{split}_{key}" in history:
                ax.plot(history["epoch"], history[f"{split}_{key}"], style, marker="o", ms=3, label=split)
        if key == "accuracy" and "val_chance_accuracy" in history:
            ax.plot(history["epoch"], history["val_chance_accuracy"], ":", color="k", label="chance (val)")
        if key == "sequence_accuracy":
            ax.axhline(0.5, ls=":", color="k", label="chance")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_step_accuracy(history: pd.DataFrame, method: str = "the binary loss") -> Figure:
    """Validation accuracy of each prediction step k per epoch: further futures are harder."""
    fig = Figure(figsize=(5, 3.4))
    ax = fig.subplots()
    steps = sorted((c for c in history if c.startswith("val_accuracy_k")), key=lambda c: int(c.rsplit("k", 1)[1]))
    for col in steps:
        ax.plot(history["epoch"], history[col], marker="o", ms=3, label=f"k = {col.rsplit('k', 1)[1]}")
    if not steps:
        ax.text(0.5, 0.5, f"{method} has no per-step accuracy", ha="center", va="center", transform=ax.transAxes)
    if "val_chance_accuracy" in history:
        ax.plot(history["epoch"], history["val_chance_accuracy"], ":", color="k", label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation InfoNCE top-1 accuracy")
    ax.set_title("Accuracy per prediction step", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_label_efficiency(metrics: pd.DataFrame, dataset: str) -> Figure:
    """Test accuracy vs fraction of labels, one panel per probe, one line per encoder (its registry colour)."""
    if metrics.empty:
        return message_figure("no labels, so no probe was fitted", "Probe test accuracy vs fraction of labels")
    chance = float(metrics[metrics.encoder == "chance"].test_accuracy.iloc[0])
    rows = metrics[metrics.encoder != "chance"]
    probes = [p for p in ("mlp", "linear", "knn") if p in set(rows.probe)]
    end_to_end = rows[rows.probe == "end_to_end"].sort_values("label_fraction")
    fig = Figure(figsize=(3.8 * len(probes), 3.4))
    axes = fig.subplots(1, len(probes), squeeze=False, sharey=True)
    for ax, probe in zip(axes[0], probes):
        for method in METHODS.values():
            r = rows[(rows.encoder == method.key) & (rows.probe == probe)].sort_values("label_fraction")
            if len(r):
                name = f"{method.name}, all labels" if method.supervision.level == "full" else method.name
                ax.plot(r.label_fraction, r.test_accuracy, marker="o", color=method.colour, label=f"{name} (frozen)")
        if len(end_to_end):
            ax.plot(
                end_to_end.label_fraction,
                end_to_end.test_accuracy,
                "--",
                marker="s",
                color=METHODS[end_to_end.encoder.iloc[0]].colour,
                label="supervised end to end, fraction of labels",
            )
        ax.axhline(chance, ls=":", color="k", label="chance")
        ax.set_xscale("log")
        ax.set_xlabel("fraction of the labels (training and selection)")
        ax.set_title(f"{probe} probe", fontsize=10)
        ax.set_ylim(0, 1)
    axes[0, 0].set_ylabel(f"{dataset} test accuracy")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray, title: str) -> Figure:
    """Row-normalised confusion matrix (rows: true class) with counts."""
    classes = int(max(np.max(labels), np.max(predictions))) + 1
    counts = np.zeros((classes, classes), dtype=int)
    np.add.at(counts, (np.asarray(labels), np.asarray(predictions)), 1)
    rates = counts / counts.sum(1, keepdims=True).clip(min=1)
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(classes):
        for j in range(classes):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    counts[i, j],
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if rates[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_embedding(embedding: pd.DataFrame, title: str) -> Figure:
    """2-D map of test features (columns x, y, digit), coloured by class."""
    fig = Figure(figsize=(5.4, 5))
    ax = fig.subplots()
    cmap = matplotlib.colormaps["tab10"]
    for d in sorted(set(embedding.digit)):  # -1: no labels, one colour
        pts = embedding[embedding.digit == d]
        colour = cmap(d % 10) if d >= 0 else "tab:gray"
        ax.scatter(pts.x, pts.y, s=4, color=colour, label=str(d) if d >= 0 else "no label", alpha=0.7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    ax.legend(markerscale=3, fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def plot_compute_curves(rows: pd.DataFrame, dataset: str, flat: pd.DataFrame | None = None) -> Figure:
    """Test accuracy against pretraining FLOPs (log x), one panel per (probe, label fraction), a line and a mean
    ± std band per method (its registry colour), from curve rows ``encoder, probe, label_fraction, train_flops,
    mean, std``; ``flat`` rows (the baselines, no x) are horizontal lines in the same colours."""
    panels = rows[["probe", "label_fraction"]].drop_duplicates().sort_values(["label_fraction", "probe"])
    fig = Figure(figsize=(3.6 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (probe, fraction) in zip(axes[0], panels.itertuples(index=False)):
        for method in METHODS.values():
            r = rows[(rows.encoder == method.key) & (rows.probe == probe) & (rows.label_fraction == fraction)]
            r = r.sort_values("train_flops")
            if len(r):
                ax.plot(r.train_flops, r["mean"], marker="o", ms=3, color=method.colour, label=method.name)
                ax.fill_between(
                    r.train_flops, r["mean"] - r["std"], r["mean"] + r["std"], color=method.colour, alpha=0.2
                )
        for r in [] if flat is None else flat[(flat.probe == probe) & (flat.label_fraction == fraction)].itertuples():
            method = METHODS[r.encoder]
            ax.axhline(
                r.mean,
                ls="--" if method.supervision.level == "full" else ":",
                color=method.colour,
                lw=1,
                label=f"{method.name} (baseline)",
            )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels collide on a short range
        ax.set_xlabel("pretraining FLOPs (forward + backward)")
        ax.set_title(f"{probe} probe, {fraction:.0%} of the labels", fontsize=10)
    axes[0, 0].set_ylabel(f"{dataset} test accuracy")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
