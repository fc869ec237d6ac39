"""Feature vectors for new pictures: a folder read as training reads one (:mod:`cpc_pipeline.data.folder`), every
picture encoded by a frozen encoder, one row per file: its path, its class folder's name (None in a flat folder)
and its embedding; and :class:`PictureEmbedder`, the same encoder taking picture arrays as they come (the model
the embed stage registers in MLflow)."""

from __future__ import annotations

from typing import Literal

import pandas as pd
import torch
from pydantic import Field, model_validator
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.data.cifar import cifar_pictures
from cpc_pipeline.data.folder import FolderSourceConfig, read_folder, to_picture
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


class PictureEmbedder(nn.Module):
    """A frozen encoder that takes pictures as arrays come: uint8 ``(N, H, W, C)`` with C 1 or 3 (or ``(N, H, W)``
    grey), any size; each batch is made as the folder source makes its pictures (short side resized to
    ``image_size``, centre crop, colour or grey as the encoder trained) and encoded: ``(N, D)`` float32. Its
    outputs equal :func:`embed_folder`'s for the same decoded pictures."""

    def __init__(self, encoder: nn.Module, image_size: int, channels: int) -> None:
        super().__init__()
        self.encoder, self.image_size, self.channels = freeze(encoder), image_size, channels

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(images)
        x = x.unsqueeze(-1) if x.ndim == 3 else x
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"pictures must be (N, H, W), (N, H, W, 1) or (N, H, W, 3), got {tuple(x.shape)}")
        x = to_picture(x.to(torch.uint8).permute(0, 3, 1, 2), self.image_size, self.channels)
        return self.encoder(cifar_pictures(x.permute(0, 2, 3, 1))).float()


def load_encoder(encoder: EncoderSpec, weights: dict[str, torch.Tensor], folder: FolderSourceConfig) -> nn.Module:
    """The encoder ``encoder`` with ``weights``, frozen, for pictures made as ``folder`` says, or one line saying
    what to set when the weights were trained on pictures of another size or colour."""
    module = encoder.build(folder.channels, folder.image_size)
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        raise ConfigurationError(
            f"the encoder's weights do not fit {folder.channels}-channel {folder.image_size}px pictures "
            f"({str(err).splitlines()[0]}): set embed.image_size and embed.color to the pictures it was trained on"
        ) from err
    return freeze(module)


def embed_folder(encoder: nn.Module, folder: FolderSourceConfig, config: EmbedConfig) -> pd.DataFrame:
    """The frozen ``encoder`` on every picture under ``folder.root``, made as ``folder`` says: ``path``, ``label``
    and ``embedding`` (a float32 vector) per file, in the folder's sorted order."""
    read = read_folder(folder.root, folder)
    features = extract_features(
        encoder, read.images, cifar_pictures, 0, config.images_per_batch, pick_device(config.device)
    )
    labels = [read.classes[label] if label >= 0 else None for label in read.labels]
    return pd.DataFrame({"path": read.paths, "label": labels, "embedding": list(features)})
