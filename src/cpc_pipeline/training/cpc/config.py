"""CPC's parameters: ``params:pretraining`` and its objective."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cpc_pipeline.config import StrictModel
from cpc_pipeline.models import CPCModelConfig
from cpc_pipeline.training.loop import TrainerConfig


class CPCObjective(StrictModel):
    loss: Literal["infonce", "binary"] = "infonce"
    negatives: Literal["batch", "different_digit"] = "different_digit"  # infonce only
    binary_negatives: Literal["paired", "independent"] = "paired"  # binary only
    sequences_per_batch: int = Field(64, ge=2, le=65_536)  # sequences per training step
    images_per_batch: int | None = Field(64, ge=20)  # the step's pool of images; None = each sequence its own
    sequences_per_epoch: int = Field(390 * 32, ge=2)
    train_sampling: Literal["fresh", "fixed"] = "fresh"
    eval_sequences_per_batch: int = Field(256, ge=2)  # validation chunk: its distinct images are the candidates
    threshold_sequences: int = Field(1024, ge=2)  # train sequences that fix infonce's decision threshold

    @model_validator(mode="after")
    def _consistent(self) -> CPCObjective:
        if self.train_sampling == "fixed" and self.images_per_batch is not None:
            raise ValueError("images_per_batch (a shared image pool) needs train_sampling 'fresh'")
        return self


class PretrainingConfig(StrictModel):
    """``params:pretraining``: the CPC model, its objective and the training loop."""

    model: CPCModelConfig = CPCModelConfig()
    objective: CPCObjective = CPCObjective()
    trainer: TrainerConfig = TrainerConfig()
