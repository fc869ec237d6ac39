"""Evaluation of frozen representations: freezing, feature extraction, probes, supervised baseline."""

from cpc_pipeline.evaluation.features import (
    estimate_batchnorm_statistics,
    extract_features,
    freeze,
    picture_batches,
    state_fingerprint,
)
from cpc_pipeline.evaluation.probes import (
    ProbeConfig,
    ProbeResult,
    label_subset,
    label_subsets,
    run_probes,
    select_on_validation,
    wilson_interval,
)
from cpc_pipeline.evaluation.protocol import ProbingConfig, split_features, split_render_seed
from cpc_pipeline.evaluation.supervised import SupervisedConfig, train_end_to_end

__all__ = [
    "ProbeConfig",
    "ProbingConfig",
    "ProbeResult",
    "SupervisedConfig",
    "estimate_batchnorm_statistics",
    "extract_features",
    "freeze",
    "picture_batches",
    "label_subset",
    "label_subsets",
    "run_probes",
    "select_on_validation",
    "split_features",
    "split_render_seed",
    "state_fingerprint",
    "train_end_to_end",
    "wilson_interval",
]
