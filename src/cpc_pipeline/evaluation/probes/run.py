"""Every configured probe at every label fraction on one encoder's features."""

from __future__ import annotations

import logging

import numpy as np

from cpc_pipeline.evaluation.probes.config import ProbeConfig
from cpc_pipeline.evaluation.probes.knn import fit_knn_probe
from cpc_pipeline.evaluation.probes.labels import label_subsets
from cpc_pipeline.evaluation.probes.linear import fit_linear_probe
from cpc_pipeline.evaluation.probes.mlp import fit_mlp_probe
from cpc_pipeline.evaluation.probes.results import ProbeResult

logger = logging.getLogger(__name__)


def run_probes(features: dict[str, np.ndarray], config: ProbeConfig, device="cpu") -> list[ProbeResult]:
    """Every configured probe at every label fraction on one encoder's features.

    ``features`` holds ``{split}_x`` (N, D) and ``{split}_y`` (N,) for train, validation and test.
    """
    results = []
    x_test, y_test = features["test_x"], features["test_y"]
    for fraction in config.label_fractions:
        keep, keep_val = label_subsets(features["train_y"], features["validation_y"], fraction, config.seed)
        x_train, y_train = features["train_x"][keep], features["train_y"][keep]
        x_val, y_val = features["validation_x"][keep_val], features["validation_y"][keep_val]
        for probe in config.probes:
            if probe == "mlp":
                chosen, val_acc, pred = fit_mlp_probe(
                    x_train, y_train, x_val, y_val, x_test, config.mlp, config.seed, device
                )
            elif probe == "linear":
                chosen, val_acc, pred = fit_linear_probe(
                    x_train, y_train, x_val, y_val, x_test, config.linear, config.seed, device
                )
            else:
                chosen, val_acc, pred = fit_knn_probe(x_train, y_train, x_val, y_val, x_test, config.knn)
            result = ProbeResult.score(probe, fraction, len(keep), len(keep_val), chosen, val_acc, y_test, pred)
            logger.info(
                "%s probe, %g of labels (%d train + %d selection): val %.4f, test %.4f (%s)",
                probe,
                fraction,
                len(keep),
                len(keep_val),
                val_acc,
                result.test_accuracy,
                chosen,
            )
            results.append(result)
    return results
