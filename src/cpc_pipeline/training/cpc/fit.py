"""Fitting CPC from the pretraining stage's inputs, in one process or several."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from cpc_pipeline.data import DigitRenderer, DigitSplit
from cpc_pipeline.data.config import RenderingConfig, SequenceConfig
from cpc_pipeline.models import CPCModel
from cpc_pipeline.training import distributed
from cpc_pipeline.training.cpc.config import PretrainingConfig
from cpc_pipeline.training.cpc.data import CPCData
from cpc_pipeline.training.cpc.method import CPCMethod, make_cpc_method
from cpc_pipeline.training.loop import Compute, start_process, train


@dataclass
class CPCInputs:
    """The pretraining stage's inputs, as the catalog gives them (picklable, for spawned workers)."""

    train: DigitSplit
    validation: DigitSplit
    train_table: pd.DataFrame
    validation_table: pd.DataFrame
    sequences: SequenceConfig
    rendering: RenderingConfig


def fit_cpc(inputs: CPCInputs, cfg: PretrainingConfig, on_epoch_end=None) -> tuple[CPCModel, list[dict[str, float]]]:
    """Build and train CPC -> the model (CPU, eval mode) and its epoch history, in this process or, with
    ``trainer.distributed``, in launched workers (:func:`cpc_pipeline.training.distributed.run`)."""
    return distributed.run(_fit_cpc, cfg.trainer.distributed, inputs, cfg, on_epoch_end=on_epoch_end)


def build_cpc(inputs: CPCInputs, cfg: PretrainingConfig) -> tuple[CPCMethod, torch.device]:
    """The CPC method ready to train on this process's device (a worker: in the process group, through DDP)."""
    device = start_process(
        cfg.trainer,
        inputs.train.images,
        inputs.train.labels,
        inputs.validation.images,
        inputs.validation.labels,
        inputs.train_table,
        inputs.validation_table,
        inputs.sequences,
        inputs.rendering,
        cfg.model_dump(exclude={"trainer": {"distributed"}}),
    )
    rendering, sequences = inputs.rendering, inputs.sequences
    compute = Compute.of(cfg.trainer, device)
    model = compute.place(cfg.model.build(rendering.channels, rendering.image_size, sequences.predict_terms))
    data = CPCData.from_tables(
        inputs.train,
        inputs.validation,
        inputs.train_table,
        inputs.validation_table,
        cfg.objective.threshold_sequences,
        device,
    )
    method = make_cpc_method(
        model, cfg.objective, data, DigitRenderer.from_config(rendering, device), sequences.terms, compute.layout
    )
    method.forward = distributed.data_parallel(model, cfg.trainer.distributed, device)
    return method, device


def _fit_cpc(inputs: CPCInputs, cfg: PretrainingConfig, on_epoch_end=None) -> tuple[CPCModel, list[dict[str, float]]]:
    method, device = build_cpc(inputs, cfg)
    result = train(method, cfg.trainer, device, on_epoch_end=on_epoch_end)
    distributed.check_same_on_every_rank(method.model)
    return method.model.cpu().eval(), result.history
