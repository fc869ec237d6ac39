"""SimCLR pretraining on the project's digits (default) or CIFAR-10, probed like CPC."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
