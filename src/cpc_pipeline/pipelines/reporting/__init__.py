"""Reporting: plots, a 2-D map of the features and the Markdown report, all in data/08_reporting."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
