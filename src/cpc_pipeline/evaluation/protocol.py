"""The evaluation protocol's settings: probes, the supervised baseline, the random encoder, and which
seed renders each split (so every encoder, and every benchmark, sees the very same pictures)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.config import SPLITS, RenderingConfig
from cpc_pipeline.data.pictures import pictures_for
from cpc_pipeline.evaluation.features import extract_features
from cpc_pipeline.evaluation.probes import ProbeConfig
from cpc_pipeline.evaluation.supervised import SupervisedConfig
from cpc_pipeline.models.encoders import PixelsSpec


class ProbingConfig(StrictModel):
    """``params:probing``."""

    probes: ProbeConfig = ProbeConfig()
    supervised: SupervisedConfig = SupervisedConfig()
    random_encoder_seed: int = Field(0, ge=0)  # = pretraining's seed: the random encoder is CPC's starting point
    random_encoder_statistics_images: int = Field(10_000, ge=0)  # unlabelled train images for its BatchNorm
    render_seed: int = Field(2024, ge=0)  # split i of SPLITS is rendered once, from render_seed + i
    extraction_images_per_batch: int = Field(512, ge=1)
    extraction_channels_last: bool = True
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    pixels: PixelsSpec = PixelsSpec()  # the raw-pixel baseline's "encoder": the pictures themselves, flattened

    def split_render_seed(self, split: str) -> int:
        return split_render_seed(self.render_seed, split)


def split_render_seed(render_seed: int, split: str) -> int:
    """The seed that renders ``split``'s pictures for evaluation: ``render_seed`` + its place in SPLITS."""
    return render_seed + SPLITS.index(split)


def split_features(
    encoder: nn.Module,
    splits: tuple[dict, dict, dict],
    rendering: RenderingConfig,
    probing: ProbingConfig,
    device: torch.device | str,
) -> dict[str, np.ndarray]:
    """Features ``{split}_x`` and labels ``{split}_y`` of the train, validation and test splits (``{"images",
    "labels"}`` each), each turned into pictures once, from the split's own seed: what every probe is fitted on."""
    out = {}
    for name, split in zip(SPLITS, splits):
        images = np.asarray(split["images"])
        out[f"{name}_x"] = extract_features(
            encoder,
            images,
            pictures_for(images, rendering, device),
            probing.split_render_seed(name),
            probing.extraction_images_per_batch,
            device,
            probing.extraction_channels_last,
        )
        out[f"{name}_y"] = np.asarray(split["labels"], dtype=np.int64)
    return out
