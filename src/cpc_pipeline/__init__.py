"""cpc_pipeline: Contrastive Predictive Coding as a reproducible Kedro pipeline."""

__version__ = "0.1.0"
