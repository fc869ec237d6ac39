"""Models: the reference CPC encoder and the CPC model (encoder + GRU + one W_k per future step)."""

from cpc_pipeline.models.cpc import (
    CPCModel,
    CPCModelConfig,
    ReferenceEncoder,
    build_cpc_model,
    build_encoder,
    make_norm,
)

__all__ = ["CPCModel", "CPCModelConfig", "ReferenceEncoder", "build_cpc_model", "build_encoder", "make_norm"]
