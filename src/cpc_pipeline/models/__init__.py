"""Models: the encoders and their spec, the CPC model (encoder + GRU + one W_k per future step), SimCLR's
projection, the probe head."""

from cpc_pipeline.models.cpc import CPCModel, CPCModelConfig, CPCOutput
from cpc_pipeline.models.encoders import (
    EncoderSpec,
    ReferenceEncoder,
    ReferenceEncoderSpec,
    ResNetEncoderSpec,
    make_norm,
)
from cpc_pipeline.models.heads import mlp_head
from cpc_pipeline.models.resnet import ResNetEncoder, SimCLRModel

__all__ = [
    "CPCModel",
    "CPCModelConfig",
    "CPCOutput",
    "EncoderSpec",
    "ReferenceEncoder",
    "ReferenceEncoderSpec",
    "ResNetEncoder",
    "ResNetEncoderSpec",
    "SimCLRModel",
    "make_norm",
    "mlp_head",
]
