"""One way to rebuild any encoder of the project from its parameters (to load saved weights into)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from torch import nn

from cpc_pipeline.models.cpc import CPCModelConfig, build_encoder
from cpc_pipeline.models.resnet import ResNetEncoder


class EncoderSpec(BaseModel):
    """``reference``: the CPC reference encoder (settings in ``reference``); ``resnet18``/``resnet50``:
    torchvision's ResNet, with the CIFAR stem when ``cifar_stem``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Literal["reference", "resnet18", "resnet50"] = "reference"
    reference: CPCModelConfig = CPCModelConfig()
    cifar_stem: bool = True


def build_any_encoder(spec: EncoderSpec | CPCModelConfig | dict[str, Any], channels: int, size: int) -> nn.Module:
    """``spec``: an :class:`EncoderSpec` (SimCLR) or a :class:`CPCModelConfig` (CPC), or either as a dict."""
    if isinstance(spec, dict):
        spec = EncoderSpec.model_validate(spec) if "arch" in spec else CPCModelConfig.model_validate(spec)
    if isinstance(spec, CPCModelConfig):
        return build_encoder(spec, channels, size)
    if spec.arch == "reference":
        return build_encoder(spec.reference, channels, size)
    return ResNetEncoder(spec.arch, channels, spec.cifar_stem)
