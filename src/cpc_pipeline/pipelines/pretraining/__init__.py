"""CPC pretraining: sequence data -> trained CPC model and encoder, history, MLflow model."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
