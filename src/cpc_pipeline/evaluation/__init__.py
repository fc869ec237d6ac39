"""Evaluation of frozen representations: freezing, feature extraction, probes, supervised baseline."""

from cpc_pipeline.evaluation.features import (
    estimate_batchnorm_statistics,
    extract_features,
    freeze,
    state_fingerprint,
)
from cpc_pipeline.evaluation.probes import (
    ProbeConfig,
    ProbeResult,
    label_subset,
    label_subsets,
    run_probes,
    select_on_validation,
)
from cpc_pipeline.evaluation.supervised import SupervisedConfig, train_end_to_end

__all__ = [
    "ProbeConfig",
    "ProbeResult",
    "SupervisedConfig",
    "estimate_batchnorm_statistics",
    "extract_features",
    "freeze",
    "label_subset",
    "label_subsets",
    "run_probes",
    "select_on_validation",
    "state_fingerprint",
    "train_end_to_end",
]
