"""Figures this project did not measure: the public Keras CPC reference's, each with its source.

They are the one place such numbers live. The report prints them as "cited, not measured by this run",
and the README's generated tables mark them the same way; everything else in both comes from a run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CitedFigure:
    key: str
    value: float
    unit: str  # "fraction" (an accuracy), "s", "sequences/s", "epoch"
    what: str
    source: str  # where the figure comes from, and how it was measured


_BRIEF = "the project brief (cpc_pipeline developers' guide, 'The reference task')"
_ISSUE6 = ("issue 6, 'Reference figures': the public Keras CPC code run unchanged by the maintainers on this "
           "project's 2-core CPU, same task and sizes (no artifact in this repository)")

CITED: tuple[CitedFigure, ...] = (
    CitedFigure("reference_contrastive_accuracy", 0.99, "fraction",
                "Keras reference: claimed contrastive (sequence-discrimination) accuracy", _BRIEF),
    CitedFigure("reference_published_mlp_probe", 0.90, "fraction",
                "Keras reference: its published MLP probe on MNIST test, with BatchNorm statistics moving "
                "while probing", _BRIEF),
    CitedFigure("reference_frozen_probe", 0.816, "fraction",
                "Keras reference: the same encoder truly frozen (parameters and buffers unchanged, BatchNorm in "
                "eval mode), MNIST test", _BRIEF),
    CitedFigure("reference_seconds_to_99", 2730.0, "s",
                "Keras reference: training time until 99% validation sequence-discrimination (epoch 6 of 455 s)",
                _ISSUE6),
    CitedFigure("reference_epoch_to_99", 6, "epoch",
                "Keras reference: first epoch at 99% validation sequence-discrimination", _ISSUE6),
    CitedFigure("reference_sequences_per_s", 33.0, "sequences/s",
                "Keras reference: training throughput (980 ms per batch of 32 sequences)", _ISSUE6),
)

BY_KEY = {figure.key: figure for figure in CITED}


def cited(key: str) -> CitedFigure:
    return BY_KEY[key]
