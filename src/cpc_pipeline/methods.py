"""The method registry: one entry per encoder the project probes, and everything the rest of the project needs
to know about it (plain Python: no Kedro, no MLflow).

Probing builds one freeze -> features -> probes chain per entry; the report, the plots, the run checks, the
stage list, ``kedro join``, the MLflow hooks and the generated tables all iterate over :data:`METHODS`, so none
of them lists method names. Adding a method or a baseline is: its library code, its parameters file and
pipeline (when it trains), and one :func:`register` call here.

What supervision each encoder's own training used is part of its entry and stated beside every result. Sequence
CPC on the reference task is *weakly* supervised (its training sequences count upward, so they are built from the
digit labels); only the label-free methods compare with each other as self-supervised learning.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from cpc_pipeline.evaluation import ProbingConfig
from cpc_pipeline.training.cpc import PretrainingConfig
from cpc_pipeline.training.patch_cpc import PatchCPCConfig
from cpc_pipeline.training.simclr import SimCLRConfig

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Supervision:
    level: Literal["none", "weak", "full"]
    pretext: str  # what the encoder was trained to do, and which labels that touched


@dataclass(frozen=True)
class Method:
    """An encoder the probing stage freezes and probes.

    ``key`` is its Kedro namespace in probing and its value in the ``encoder`` column of every results table;
    ``stage`` the pipeline that produces its weights (the catalog dataset ``weights``), reading the parameter
    block of the same name, validated by ``config``; ``encoder_spec`` the parameters key of the spec that rebuilds
    the encoder; ``pictures`` the catalog datasets it is probed on, ``{split}`` standing for each split.
    ``training_node`` (the node that trains it, which ``kedro join`` runs on other machines) and ``history`` (its
    per-epoch table) are set for methods that train; an encoder that is trained is ``registered`` in MLflow's
    model registry too (its stage writes the catalog dataset ``<key>_encoder_mlflow_model``).
    """

    key: str
    name: str  # for plots, the report's text and MLflow's run and metric names
    supervision: Supervision
    colour: str  # a Matplotlib colour, the same in every plot
    stage: str
    config: type[BaseModel] | None
    weights: str
    encoder_spec: str
    table_label: str = ""  # the generated tables' row, where it says more than ``name``
    pictures: str = "{split}_digits"
    training_node: str | None = None
    history: str | None = None
    registered: bool = False

    @property
    def parameters(self) -> str:  # its parameter block: its stage's
        return self.stage

    label = property(lambda self: self.table_label or self.name)

    @property
    def registered_model(self) -> str | None:
        """Its name in MLflow's model registry (catalog.yml's ``{method}_encoder_mlflow_model``)."""
        return f"cpc_pipeline.{self.key}_encoder" if self.registered else None

    @property
    def slug(self) -> str:
        """``name`` as MLflow metric names spell it: ``sequence_cpc``."""
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    @property
    def picture_datasets(self) -> list[str]:
        return [self.pictures.format(split=split) for split in SPLITS]

    @property
    def trains(self) -> bool:
        """Whether a stage of its own trains it (a pretraining method), rather than the probing stage."""
        return self.training_node is not None

    @property
    def label_free(self) -> bool:
        return self.supervision.level == "none" and self.trains


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (after the ones there): the next pipeline build probes and reports it."""
    if method.key in METHODS:
        raise ValueError(f"a method {method.key!r} is registered already")
    METHODS[method.key] = method
    return method


@contextlib.contextmanager
def temporarily_registered(method: Method) -> Iterator[Method]:
    """``method`` in the registry for the length of a ``with`` block (tests, studies)."""
    register(method)
    try:
        yield method
    finally:
        del METHODS[method.key]


def training_stages() -> list[str]:
    """The stages that train a method, in registry order (each once)."""
    return list(dict.fromkeys(m.stage for m in METHODS.values() if m.trains))


def stages() -> tuple[str, ...]:
    """The pipeline's stages in run order: the data, each method's training stage, probing, the report."""
    return ("data_processing", *training_stages(), "probing", "reporting")


def in_table_order() -> list[Method]:
    """The methods as result tables list them: the trained ones first, then the baselines (registry order in each)."""
    return sorted(METHODS.values(), key=lambda m: not m.trains)


def headline_method() -> Method:
    """The project's main method (the registry's first): its confusion matrix and embedding are plotted."""
    return next(iter(METHODS.values()))


def supervision_level(encoder: str) -> str:
    """What labels ``encoder``'s own training used: none, weak or full (chance, a uniform guess: none)."""
    if encoder == "chance":
        return "none"
    return METHODS[encoder].supervision.level if encoder in METHODS else "unknown"


_KNN_MONITOR = "labels only feed a k-NN monitor, which selects nothing"
REFERENCE_ENCODER = "pretraining.model.encoder"

# In this order: the probing stage, the results tables and the plots list the methods so.
register(
    Method(
        key="cpc",
        name="sequence CPC",
        colour="tab:blue",
        stage="pretraining",
        config=PretrainingConfig,
        weights="cpc_encoder",
        encoder_spec=REFERENCE_ENCODER,
        training_node="pretrain_cpc",
        history="pretraining_history",
        registered=True,
        supervision=Supervision(
            "weak",
            "sequence CPC: the digit labels of the training images order the training "
            "sequences (they count up) and pick the negatives' wrong digits; validation sequences "
            "built the same way drive its learning-rate schedule",
        ),
    )
)
register(
    Method(
        key="random",
        name="random init",
        colour="tab:gray",
        stage="probing",
        config=ProbingConfig,
        weights="random_encoder",
        encoder_spec=REFERENCE_ENCODER,
        table_label="reference encoder, random init (BatchNorm statistics estimated)",
        supervision=Supervision(
            "none",
            "no training: the initial weights, with BatchNorm statistics averaged over unlabelled training images",
        ),
    )
)
register(
    Method(
        key="supervised",
        name="supervised",
        colour="tab:green",
        stage="probing",
        config=ProbingConfig,
        weights="supervised_encoder",
        encoder_spec=REFERENCE_ENCODER,
        history="supervised_history",
        registered=True,
        table_label="reference encoder trained with the labels",
        supervision=Supervision(
            "full", "classification trained end to end on the training labels, its epoch chosen on validation labels"
        ),
    )
)
register(
    Method(
        key="simclr",
        name="SimCLR",
        colour="tab:orange",
        stage="simclr",
        config=SimCLRConfig,
        weights="simclr_encoder",
        encoder_spec="simclr.encoder",
        pictures="simclr_{split}_images",
        training_node="pretrain_simclr",
        history="simclr_history",
        registered=True,
        supervision=Supervision("none", f"SimCLR: two augmented views of each image; {_KNN_MONITOR}"),
    )
)
register(
    Method(
        key="patch_cpc",
        name="patch CPC",
        colour="tab:purple",
        stage="patch_cpc",
        config=PatchCPCConfig,
        weights="patch_cpc_encoder",
        encoder_spec="patch_cpc.model.encoder",
        pictures="patch_cpc_{split}_images",
        training_node="pretrain_patch_cpc",
        history="patch_cpc_history",
        registered=True,
        supervision=Supervision(
            "none",
            "CPC on image patches: each image alone predicts its own patches rows below "
            "(and above) from the rows it has seen; every other patch in the batch is a negative; "
            f"{_KNN_MONITOR}",
        ),
    )
)
register(
    Method(
        key="pixels",
        name="raw pixels",
        colour="tab:brown",
        stage="probing",
        config=ProbingConfig,
        weights="pixels_encoder",
        encoder_spec="probing.pixels",
        table_label="raw pixels (no encoder; pooled to at most 4,096 values)",
        supervision=Supervision("none", "no encoder and no training: the probes read the pictures' pixels"),
    )
)
