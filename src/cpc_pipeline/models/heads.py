"""Classification heads put on top of an encoder."""

from __future__ import annotations

from torch import nn

from cpc_pipeline.models.encoders import make_norm


def mlp_head(in_features: int, hidden: int = 128, norm: str = "batch", classes: int = 10) -> nn.Sequential:
    """The reference's probe: dense ``hidden``, norm, LeakyReLU(0.3), dense ``classes`` (logits)."""
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        make_norm(norm, hidden, conv=False),
        nn.LeakyReLU(0.3),
        nn.Linear(hidden, classes),
    )
