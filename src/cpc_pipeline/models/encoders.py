"""The project's encoders, and the one validated spec that rebuilds any of them.

- :class:`ReferenceEncoder` is the public Keras CPC code's encoder: 4 x [conv 3x3 stride 2, 64 filters,
  no padding, norm, LeakyReLU], then dense 256, norm, LeakyReLU, dense to ``code_size`` (128).
- torchvision's ResNet (:class:`~cpc_pipeline.models.resnet.ResNetEncoder`), SimCLR's CIFAR-10 encoder.
- :class:`Pixels`: no encoder at all, the picture's pixels as its feature (the raw-pixel baseline).

:class:`EncoderSpec` is discriminated by ``arch`` (``reference`` when absent): its ``build(channels,
size)`` is the only way the project rebuilds an encoder, in training and when saved weights are loaded
back, so every rebuilt encoder went through the same validation.

Normalisation is a parameter: ``batch`` (the reference), ``layer`` (GroupNorm with one group over each
conv map, LayerNorm after the dense layer), ``group`` (8 groups) or ``none``. BatchNorm in train mode
normalises with statistics of the whole batch, i.e. of the very samples being contrasted, so a sample's
code depends on the others in the batch: a channel through which the contrastive task can be solved
without learning the digit, and whose statistics drift when a probe later runs the encoder.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import torch
from pydantic import ConfigDict, Discriminator, Field, RootModel, Tag
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.models.patches import PatchGridEncoder, grid_size
from cpc_pipeline.models.resnet import ResNetEncoder

NORMS = ("batch", "layer", "group", "none")
REFERENCE_CONVS = 4


def make_norm(kind: str, channels: int, conv: bool) -> nn.Module:
    """The normalisation layer ``kind`` for ``channels`` features of a conv map or a dense layer."""
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    if kind == "group":
        return nn.GroupNorm(8, channels)  # (N, C, *) and (N, C) alike
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def activation() -> nn.Module:
    """The reference's LeakyReLU (Keras' default slope, 0.3), in place.

    Why in place: the layer before it (a norm, or a conv or dense layer when ``norm`` is ``none``) does not
    keep its output for the backward pass, so overwriting that output changes no value and no gradient (a
    test checks this bit for bit), and the activation no longer writes a new tensor the size of the layer's
    output. The first feature map of 2,048 images is 500 MB: in place, encoding them took 0.43 s instead of
    1.03 s on the 2-core CPU (CPC's validation encodes chunks of that size).
    """
    return nn.LeakyReLU(0.3, inplace=True)


def conv_output_size(size: int, layers: int, padding: int) -> int:
    for _ in range(layers):
        size = (size + 2 * padding - 3) // 2 + 1
    return size


class ReferenceEncoder(nn.Module):
    """Images ``(N, C, S, S)`` -> codes ``(N, code_size)``."""

    def __init__(
        self,
        in_channels: int = 3,
        image_size: int = 64,
        code_size: int = 128,
        norm: str = "layer",
        width: int = 64,
        hidden: int = 256,
        padding: int = 0,
        layers: int = REFERENCE_CONVS,
    ) -> None:
        super().__init__()
        side = conv_output_size(image_size, layers, padding)
        if side < 1:
            raise ValueError(
                f"{layers} unpadded 3x3 stride-2 convs do not fit a {image_size}px image: "
                "use encoder padding 1 (or auto) for images smaller than 31px"
            )
        blocks: list[nn.Module] = []
        channels = in_channels
        for _ in range(layers):
            blocks += [
                nn.Conv2d(channels, width, 3, stride=2, padding=padding, bias=norm == "none"),
                make_norm(norm, width, conv=True),
                activation(),
            ]
            channels = width
        self.features = nn.Sequential(*blocks, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(width * side * side, hidden),
            make_norm(norm, hidden, conv=False),
            activation(),
            nn.Linear(hidden, code_size),
        )
        self.code_size = code_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class ReferenceEncoderSpec(StrictModel):
    arch: Literal["reference"] = "reference"
    code_size: int = Field(128, ge=1, le=8192)
    norm: Literal["batch", "layer", "group", "none"] = "batch"
    width: int = Field(64, ge=8, le=1024)
    hidden: int = Field(256, ge=8, le=8192)
    padding: Literal[0, 1, "auto"] = "auto"  # auto: 0 (the reference) where the convs fit, 1 below 31px

    def padding_for(self, size: int) -> int:
        if self.padding != "auto":
            return self.padding
        return 0 if conv_output_size(size, REFERENCE_CONVS, 0) >= 1 else 1

    def build(self, channels: int, size: int) -> ReferenceEncoder:
        return ReferenceEncoder(
            channels, size, self.code_size, self.norm, self.width, self.hidden, self.padding_for(size)
        )


class ResNetEncoderSpec(StrictModel):
    arch: Literal["resnet18", "resnet50"]
    cifar_stem: bool = True  # 3x3 stride-1 first conv, no max-pool (the paper's CIFAR-10 variant)

    def build(self, channels: int, size: int) -> ResNetEncoder:
        return ResNetEncoder(self.arch, channels, self.cifar_stem)


class Pixels(nn.Module):
    """The picture itself as its feature: ``(N, C, H, W)`` -> ``(N, C * (H / pool) * (W / pool))``, averaged over
    ``pool`` x ``pool`` blocks first when ``pool`` > 1; no parameter."""

    def __init__(self, channels: int, size: int, pool: int = 1) -> None:
        super().__init__()
        self.pool, self.code_size = pool, channels * (size // pool) ** 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images if self.pool == 1 else nn.functional.avg_pool2d(images, self.pool)).flatten(1)


class PixelsSpec(StrictModel):
    """The raw-pixel baseline: the pictures, average-pooled by the smallest factor that leaves at most ``max_values``
    values (a 28x28 grey or 32x32 colour picture as it is; a 64x64 colour one at 32x32), so that its probes cost what
    an encoder's do."""

    arch: Literal["pixels"] = "pixels"
    max_values: int = Field(4096, ge=1)

    def pool(self, channels: int, size: int) -> int:
        return next(p for p in range(1, size + 1) if channels * (size // p) ** 2 <= self.max_values)

    def build(self, channels: int, size: int) -> Pixels:
        return Pixels(channels, size, self.pool(channels, size))


# the specs' union tags (_family), which pydantic puts in error paths
ENCODER_TAGS = ("reference", "resnet", "patches", "pixels")


def _family(value: Any) -> str:
    arch = value.get("arch", "reference") if isinstance(value, dict) else getattr(value, "arch", "reference")
    return arch if arch in ("reference", "patches", "pixels") else "resnet"


ImageEncoderSpec = Annotated[
    Annotated[ReferenceEncoderSpec, Tag("reference")] | Annotated[ResNetEncoderSpec, Tag("resnet")],
    Discriminator(_family),
]


class PatchEncoderSpec(StrictModel):
    """An encoder of image patches on a grid: the image's feature is its patch codes pooled over the grid
    (:class:`~cpc_pipeline.models.patches.PatchGridEncoder`: ``mean``, ``max``, or ``grid``, the mean over
    ``cells x cells`` regions). Layer norm by default, as CPC v2: batch statistics would mix the patches
    being contrasted."""

    arch: Literal["patches"] = "patches"
    size: int = Field(16, ge=4, le=512)  # patch side in pixels (the paper: 64 of 256; here 16 of 64)
    stride: int = Field(8, ge=1, le=512)  # half a patch: overlapping, as the paper
    patch_encoder: ImageEncoderSpec = ReferenceEncoderSpec(norm="layer")
    pool: Literal["mean", "max", "grid"] = "mean"  # the image feature the probes see
    cells: int = Field(3, ge=1, le=16)  # pool: grid, regions per side

    def grid_size(self, image_size: int) -> int:
        return grid_size(image_size, self.size, self.stride)

    def build(self, channels: int, size: int) -> PatchGridEncoder:
        if self.grid_size(size) < 2:
            raise ValueError(
                f"{self.size}px patches with stride {self.stride} give fewer than 2 rows on {size}px images"
            )
        if self.pool == "grid" and self.cells > self.grid_size(size):
            raise ValueError(f"cells ({self.cells}) must be at most the grid's {self.grid_size(size)} patches per side")
        return PatchGridEncoder(
            self.patch_encoder.build(channels, self.size), self.size, self.stride, self.pool, self.cells
        )


class EncoderSpec(
    RootModel[
        Annotated[
            Annotated[ReferenceEncoderSpec, Tag("reference")]
            | Annotated[ResNetEncoderSpec, Tag("resnet")]
            | Annotated[PatchEncoderSpec, Tag("patches")]
            | Annotated[PixelsSpec, Tag("pixels")],
            Discriminator(_family),
        ]
    ]
):
    """Any encoder of the project, by ``arch``: ``reference`` (the default), ``resnet18``/``resnet50``,
    ``patches`` (a patch encoder on a grid, image CPC's), or ``pixels`` (none: the pictures themselves)."""

    model_config = ConfigDict(frozen=True)

    @property
    def arch(self) -> str:
        return self.root.arch

    def build(self, channels: int, size: int) -> nn.Module:
        """A freshly initialised encoder for pictures of ``channels`` x ``size`` x ``size``."""
        return self.root.build(channels, size)
