"""Thin node: a method's encoder weights and spec from the catalog, the pictures from ``params:embed``."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.evaluation.embed import EmbedConfig, embed_folder
from cpc_pipeline.models import EncoderSpec

logger = logging.getLogger(__name__)


def embed_pictures(
    encoder_weights: dict[str, torch.Tensor], encoder: dict[str, Any], rendering: RenderingConfig, embed: EmbedConfig
) -> pd.DataFrame:
    """One row per picture of ``embed.folder``: its path, its label (class folder) if any, its embedding; the
    pictures sized and coloured as ``embed`` says, else as the run's rendering (what the encoders trained on)."""
    folder = embed.pictures(rendering.image_size, rendering.color)
    table = embed_folder(EncoderSpec.model_validate(encoder), encoder_weights, folder, embed)
    logger.info("embedded %d pictures of %s: %d values each", len(table), folder.root, len(table.embedding[0]))
    return table
