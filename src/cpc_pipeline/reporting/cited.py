"""Figures this project did not measure, each with its source: the public Keras CPC reference's, and published
Fashion-MNIST results that put the project's Fashion-MNIST numbers beside outside anchors: supervised classifiers,
and CLIP's zero-shot accuracy, the nearest published label-free figures that could be checked in their source.

They are the one place such numbers live. The report prints the reference's as "cited, not measured by this run",
and the generated tables of README.md and docs/ mark them the same way; everything else in both comes from a run.
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
    labels: str = ""  # the labels it used on the dataset it is reported for, as the result tables' "labels" column says


_BRIEF = "the project brief (cpc_pipeline developers' guide, 'The reference task')"
_KERAS_RUN = ("the public Keras CPC code, run unchanged by the project's maintainers on a 2-core CPU of the kind "
              "docs/performance.md reports, same task and sizes (no artifact in this repository)")

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
                _KERAS_RUN),
    CitedFigure("reference_epoch_to_99", 6, "epoch",
                "Keras reference: first epoch at 99% validation sequence-discrimination", _KERAS_RUN),
    CitedFigure("reference_sequences_per_s", 33.0, "sequences/s",
                "Keras reference: training throughput (980 ms per batch of 32 sequences)", _KERAS_RUN),
)

_FASHION = ("the Fashion-MNIST repository's benchmark table (github.com/zalandoresearch/fashion-mnist, README, "
            "'Benchmark'; results submitted by their authors, not re-run by the dataset's maintainers; dataset: Xiao, "
            "Rasul & Vollgraf, 2017, arXiv 1708.07747)")

_FUSION_BENCH = ("FusionBench's CLIP page (github.com/tanganke/fusion_bench, docs/modelpool/clip_vit.md, the "
                 "'Pre-trained' rows of its fine-tuned-model tables, commit 54c9e8c; the ViT-L/14 figure is also the "
                 "'pre-trained' test accuracy on the model card huggingface.co/tanganke/"
                 "clip-vit-large-patch14_fashion_mnist; benchmark: Tang et al., 2024, arXiv 2406.03280; CLIP: "
                 "Radford et al., 2021, arXiv 2103.00020)")
_ZERO_SHOT = ("contrastive image-text pretraining (OpenAI's checkpoint), no Fashion-MNIST image or label seen, "
              "zero-shot: each class scored by its name's text embedding, test accuracy")

FASHION_MNIST_CITED: tuple[CitedFigure, ...] = (
    CitedFigure("fashion_mlp_256_128_64", 0.900, "fraction",
                "Fashion-MNIST: an MLP (256-128-64) trained with all 60,000 labels, supervised, test accuracy", _FASHION,
                "full"),
    CitedFigure("fashion_resnet18_augmented", 0.949, "fraction",
                "Fashion-MNIST: ResNet18 with augmentation (normalisation, random flips, translation and "
                "rotation), supervised, test accuracy", _FASHION, "full"),
    CitedFigure("fashion_clip_vit_b32_zero_shot", 0.6301, "fraction",
                f"Fashion-MNIST: CLIP ViT-B/32, {_ZERO_SHOT}", _FUSION_BENCH, "class names"),
    CitedFigure("fashion_clip_vit_l14_zero_shot", 0.6696, "fraction",
                f"Fashion-MNIST: CLIP ViT-L/14, {_ZERO_SHOT}", _FUSION_BENCH, "class names"),
    CitedFigure("fashion_human", 0.835, "fraction",
                "Fashion-MNIST: human performance (crowd-sourced, 1,000 test images, majority of 3 labels)", _FASHION),
)

BY_KEY = {figure.key: figure for figure in CITED + FASHION_MNIST_CITED}


def cited(key: str) -> CitedFigure:
    return BY_KEY[key]
