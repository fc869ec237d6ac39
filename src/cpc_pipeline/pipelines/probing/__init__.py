"""Probing: freeze each encoder (CPC, random init, supervised), extract features, fit probes, compare."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
