"""Thin node: a method's encoder weights and spec from the catalog, the pictures from ``params:embed``."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from cpc_pipeline.data.config import RenderingConfig
from cpc_pipeline.evaluation.embed import EmbedConfig, PictureEmbedder, embed_folder, load_encoder
from cpc_pipeline.models import EncoderSpec

logger = logging.getLogger(__name__)


def embed_pictures(
    encoder_weights: dict[str, torch.Tensor], encoder: dict[str, Any], rendering: RenderingConfig, embed: EmbedConfig
) -> tuple[pd.DataFrame, PictureEmbedder]:
    """One row per picture of ``embed.folder``: its path, its label (class folder) if any, its embedding; the
    pictures sized and coloured as ``embed`` says, else as the run's rendering (what the encoders trained on).
    Also the encoder as a :class:`PictureEmbedder` (uint8 picture arrays in, embeddings out) for MLflow."""
    folder = embed.pictures(rendering.image_size, rendering.color)
    frozen = load_encoder(EncoderSpec.model_validate(encoder), encoder_weights, folder)
    table = embed_folder(frozen, folder, embed)
    logger.info("embedded %d pictures of %s: %d values each", len(table), folder.root, len(table.embedding[0]))
    return table, PictureEmbedder(
        frozen.cpu().to(memory_format=torch.contiguous_format), folder.image_size, folder.channels
    )
