"""Evaluation of frozen representations: freezing, feature extraction, probes, supervised baseline."""

from cpc_pipeline.evaluation.features import extract_features, freeze, state_fingerprint
from cpc_pipeline.evaluation.probes import ProbeConfig, ProbeResult, label_subset, run_probes
from cpc_pipeline.evaluation.supervised import SupervisedConfig, train_end_to_end

__all__ = [
    "ProbeConfig",
    "ProbeResult",
    "SupervisedConfig",
    "extract_features",
    "freeze",
    "label_subset",
    "run_probes",
    "state_fingerprint",
    "train_end_to_end",
]
