"""Feature vectors for new pictures: a folder read as training reads one (:mod:`cpc_pipeline.data.folder`), every
picture encoded by a frozen encoder, one row per file: its path, its class folder's name (None in a flat folder)
and its embedding."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import torch
from pydantic import Field, model_validator

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.cifar import cifar_pictures
from cpc_pipeline.data.folder import FolderSourceConfig, read_folder
from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.evaluation.features import extract_features, freeze
from cpc_pipeline.models import EncoderSpec
from cpc_pipeline.training.loop import pick_device


class EmbedConfig(StrictModel):
    """``params:embed``: the pictures to embed (one folder: ``folder.root``, read as its bad-file settings say), the
    size and colour to give them (null: the run's ``rendering``, the pictures the encoders trained on) and how to
    run the encoder."""

    folder: FolderSourceConfig | None = None
    image_size: int | None = Field(None, ge=8)
    color: bool | None = None
    images_per_batch: int = Field(512, ge=1)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"

    @model_validator(mode="after")
    def _one_folder(self) -> EmbedConfig:
        if self.folder is None or self.folder.root is None:
            raise ValueError("folder.root must name the folder of pictures to embed (flat, or class folders)")
        if {"image_size", "color"} & self.folder.model_fields_set:
            raise ValueError("give the pictures' size and colour as embed.image_size and embed.color, not in folder")
        return self

    def pictures(self, image_size: int, color: bool) -> FolderSourceConfig:
        """The folder's settings with the pictures' size and colour: this config's, else the given ones."""
        size = self.image_size or image_size
        return self.folder.model_copy(update={"image_size": size, "color": color if self.color is None else self.color})


def embed_folder(
    encoder: EncoderSpec, weights: dict[str, torch.Tensor], folder: FolderSourceConfig, config: EmbedConfig
) -> pd.DataFrame:
    """The frozen encoder ``encoder`` with ``weights`` on every picture under ``folder.root``, made as ``folder``
    says: ``path``, ``label`` and ``embedding`` (a float32 vector) per file, in the folder's sorted order."""
    module = encoder.build(folder.channels, folder.image_size)
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        raise ConfigurationError(
            f"the encoder's weights do not fit {folder.channels}-channel {folder.image_size}px pictures "
            f"({str(err).splitlines()[0]}): set embed.image_size and embed.color to the pictures it was trained on"
        ) from err
    read = read_folder(folder.root, folder)
    features = extract_features(
        freeze(module), read.images, cifar_pictures, 0, config.images_per_batch, pick_device(config.device)
    )
    labels = [read.classes[label] if label >= 0 else None for label in read.labels]
    return pd.DataFrame({"path": read.paths, "label": labels, "embedding": list(features)})
