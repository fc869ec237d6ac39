"""Models: the reference CPC encoder, the CPC model (encoder + GRU + one W_k per future step), heads."""

from cpc_pipeline.models.cpc import (
    CPCModel,
    CPCModelConfig,
    ReferenceEncoder,
    build_cpc_model,
    build_encoder,
    make_norm,
)
from cpc_pipeline.models.encoders import EncoderSpec, build_any_encoder
from cpc_pipeline.models.heads import mlp_head

__all__ = [
    "CPCModel",
    "CPCModelConfig",
    "EncoderSpec",
    "ReferenceEncoder",
    "build_any_encoder",
    "build_cpc_model",
    "build_encoder",
    "make_norm",
    "mlp_head",
]
