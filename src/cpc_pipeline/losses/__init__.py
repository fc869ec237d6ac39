"""Contrastive losses, one per file, each with its formula in the docstring."""

from cpc_pipeline.losses.binary import BinaryOutput, binary_sequence_loss
from cpc_pipeline.losses.infonce import InfoNCEOutput, info_nce

__all__ = ["BinaryOutput", "InfoNCEOutput", "binary_sequence_loss", "info_nce"]
