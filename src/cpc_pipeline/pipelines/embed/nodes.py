"""Thin node: a method's encoder weights and spec from the catalog, the pictures from ``params:embed``."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from cpc_pipeline.data.config import RenderingConfig, SourceConfig
from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.evaluation.embed import EmbedConfig, PictureEmbedder, embed_folder, load_encoder
from cpc_pipeline.models import EncoderSpec
from cpc_pipeline.models.not_trained import not_trained_reason

logger = logging.getLogger(__name__)


def embed_pictures(
    encoder_weights: dict[str, torch.Tensor],
    encoder: dict[str, Any],
    source: SourceConfig,
    rendering: RenderingConfig,
    embed: EmbedConfig,
) -> tuple[pd.DataFrame, PictureEmbedder]:
    """One row per picture of ``embed.folder``: its path, its label (class folder) if any, its embedding; the
    pictures sized and coloured as ``embed`` says, else as the encoders trained on them (the run's folder source,
    or its rendering). Also the encoder as a :class:`PictureEmbedder` (uint8 picture arrays in, embeddings out)
    for MLflow."""
    reason = not_trained_reason(encoder_weights)
    if reason is not None:
        raise ConfigurationError(f"this encoder was not trained ({reason}): embed with another (embed.simclr, ...)")
    trained_on = source.folder if source.name == "folder" else rendering
    folder = embed.pictures(trained_on.image_size, trained_on.color)
    frozen = load_encoder(EncoderSpec.model_validate(encoder), encoder_weights, folder)
    table = embed_folder(frozen, folder, embed)
    logger.info("embedded %d pictures of %s: %d values each", len(table), folder.root, len(table.embedding[0]))
    return table, PictureEmbedder(
        frozen.cpu().to(memory_format=torch.contiguous_format), folder.image_size, folder.channels
    )
