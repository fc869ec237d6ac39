"""Figures this project did not measure, each with a source a reader can open: the public Keras CPC reference's
README, and published Fashion-MNIST results that put the project's Fashion-MNIST numbers beside outside anchors:
supervised classifiers, and CLIP's zero-shot accuracy, the nearest published label-free figures that could be checked
in their source.

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


_KERAS = (
    "the Keras CPC reference's README, 'Results' (github.com/davidtellez/contrastive-predictive-coding, commit 67657aa)"
)

CITED: tuple[CitedFigure, ...] = (
    CitedFigure(
        "reference_contrastive_accuracy",
        0.99,
        "fraction",
        "Keras reference: contrastive (sequence-discrimination) accuracy after 10 epochs",
        _KERAS,
        "weak",
    ),
    CitedFigure(
        "reference_published_mlp_probe",
        0.90,
        "fraction",
        "Keras reference: an MLP on its encoder, on MNIST images it held out for validation (its "
        "benchmark_model.py), not a test set; the encoder's layers set trainable=False, which in the Keras 2.0 "
        "it names leaves BatchNorm's moving statistics updating while the MLP trains",
        _KERAS,
        "weak",
    ),
)

_FASHION = (
    "the Fashion-MNIST repository's benchmark table (github.com/zalandoresearch/fashion-mnist, README, "
    "'Benchmark', commit b2617bb; results submitted by their authors, not re-run by the dataset's maintainers; "
    "dataset: Xiao, Rasul & Vollgraf, 2017, arXiv 1708.07747)"
)
# Xiao et al.'s own Table 3 (scikit-learn classifiers on the raw pixels) could not be read here: the paper's text
# in the searchable pages stops before it and the repository's benchmark/baselines.json holds only the grids, so
# the raw-pixel anchors on the results pages are this project's own pixel rows (docs/results.md).

_FUSION_BENCH = (
    "FusionBench's CLIP page (github.com/tanganke/fusion_bench, docs/modelpool/clip_vit.md, the "
    "'Pre-trained' rows of its fine-tuned-model tables, commit 54c9e8c; the ViT-L/14 figure is also the "
    "'pre-trained' test accuracy on the model card huggingface.co/tanganke/"
    "clip-vit-large-patch14_fashion_mnist; benchmark: Tang et al., 2024, arXiv 2406.03280; CLIP: "
    "Radford et al., 2021, arXiv 2103.00020)"
)
_ZERO_SHOT = (
    "contrastive image-text pretraining (OpenAI's checkpoint), no Fashion-MNIST image or label seen, "
    "zero-shot: each class scored by its name's text embedding, test accuracy"
)

FASHION_MNIST_CITED: tuple[CitedFigure, ...] = (
    CitedFigure(
        "fashion_mlp_256_128_64",
        0.900,
        "fraction",
        "Fashion-MNIST: an MLP (256-128-64) trained with all 60,000 labels, supervised, test accuracy",
        _FASHION,
        "full",
    ),
    CitedFigure(
        "fashion_resnet18_augmented",
        0.949,
        "fraction",
        "Fashion-MNIST: ResNet18 with augmentation (normalisation, random flips, translation and "
        "rotation), supervised, test accuracy",
        _FASHION,
        "full",
    ),
    CitedFigure(
        "fashion_clip_vit_b32_zero_shot",
        0.6301,
        "fraction",
        f"Fashion-MNIST: CLIP ViT-B/32, {_ZERO_SHOT}",
        _FUSION_BENCH,
        "class names",
    ),
    CitedFigure(
        "fashion_clip_vit_l14_zero_shot",
        0.6696,
        "fraction",
        f"Fashion-MNIST: CLIP ViT-L/14, {_ZERO_SHOT}",
        _FUSION_BENCH,
        "class names",
    ),
    CitedFigure(
        "fashion_human",
        0.835,
        "fraction",
        "Fashion-MNIST: human performance (crowd-sourced, 1,000 test images, majority of 3 labels)",
        _FASHION,
    ),
)

# small CNNs trained with every label, from the same table: the rows that give both datasets
_SMALL_CNNS = (
    ("cnn_2conv_100k", "two conv layers, under 100K parameters, no preprocessing", 0.925, 0.992),
    (
        "cnn_2conv_3fc_augmented",
        "two conv and three dense layers, about 500K parameters, augmentation and batch normalisation",
        0.934,
        0.994,
    ),
)
FASHION_MNIST_CITED += tuple(
    CitedFigure(
        f"fashion_{key}",
        fashion,
        "fraction",
        f"Fashion-MNIST: a CNN ({what}), supervised, test accuracy",
        _FASHION,
        "full",
    )
    for key, what, fashion, _ in _SMALL_CNNS
)
MNIST_CITED: tuple[CitedFigure, ...] = tuple(
    CitedFigure(
        f"mnist_{key}", mnist, "fraction", f"MNIST: a CNN ({what}), supervised, test accuracy", _FASHION, "full"
    )
    for key, what, _, mnist in _SMALL_CNNS
)

BY_KEY = {figure.key: figure for figure in CITED + FASHION_MNIST_CITED + MNIST_CITED}


def cited(key: str) -> CitedFigure:
    return BY_KEY[key]
