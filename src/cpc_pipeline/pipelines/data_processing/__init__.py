"""Digit sources -> train/validation/test digits and the fixed sequence tables, plus a preview."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
