"""SimCLR's encoder and projection head (Chen et al., 2020).

The encoder is torchvision's ResNet (18 by default, 50 selectable) without its classifier; with the
CIFAR stem (``cifar_stem=True``, the paper's CIFAR-10 variant) the first conv is 3x3 stride 1 and the
max-pool is removed, so 32x32 images are not downsampled 4x before the first block. The projection head
is the paper's 2-layer MLP (hidden = encoder width, ReLU, 128 out). Probes use the encoder output ``h``,
never the projection ``z``.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn


class ResNetEncoder(nn.Module):
    """Images ``(N, C, H, W)`` -> features ``(N, 512)`` (resnet18) or ``(N, 2048)`` (resnet50)."""

    def __init__(self, arch: str = "resnet18", in_channels: int = 3, cifar_stem: bool = True) -> None:
        super().__init__()
        net = getattr(torchvision.models, arch)(weights=None)  # random init: nothing is downloaded
        if cifar_stem:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.code_size = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


def projection_head(in_features: int, out_features: int = 128) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, in_features), nn.ReLU(inplace=True), nn.Linear(in_features, out_features)
    )


class SimCLRModel(nn.Module):
    def __init__(self, encoder: nn.Module, projection_dim: int = 128) -> None:
        super().__init__()
        self.encoder = encoder
        self.projector = projection_head(encoder.code_size, projection_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> projections ``z`` (the loss's input)."""
        return self.projector(self.encoder(images))
