"""embed: a trained encoder, frozen, turns a folder of new pictures into one feature vector per file."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
