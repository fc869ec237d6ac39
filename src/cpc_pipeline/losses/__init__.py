"""Contrastive losses, one per file, each with its formula in the docstring."""

from cpc_pipeline.losses.binary import BinaryOutput, binary_sequence_loss
from cpc_pipeline.losses.infonce import InfoNCEOutput, info_nce
from cpc_pipeline.losses.ntxent import NTXentOutput, nt_xent

__all__ = ["BinaryOutput", "InfoNCEOutput", "NTXentOutput", "binary_sequence_loss", "info_nce", "nt_xent"]
