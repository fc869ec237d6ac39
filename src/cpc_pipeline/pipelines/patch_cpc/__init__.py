"""CPC on image patches (the paper's vision experiment, CPC v2's refinements), label-free, probed like CPC."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
