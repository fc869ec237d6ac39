"""The k-NN probe: cosine nearest neighbours, k chosen on validation."""

from __future__ import annotations

import logging

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import normalize

from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.evaluation.probes.config import KNNProbeConfig

logger = logging.getLogger(__name__)


def feasible_k(k_grid: list[int], labelled: int) -> list[int]:
    """The k of ``k_grid`` that ``labelled`` train images can vote with. A run checks its grid before any node
    (:func:`cpc_pipeline.checks.check_knn_grid`) when its labels are on the machine; the source it fell back to
    at run time is known only here, so a k it cannot serve is dropped with a warning (never silently capped, never
    reported as used), and a grid with none left is an error."""
    kept = [k for k in k_grid if k <= labelled]
    if not kept:
        raise ConfigurationError(
            f"probing.probes.knn.k_grid: every k of {k_grid} exceeds the {labelled:,} labelled train images; "
            f"use k values up to {labelled:,}"
        )
    if len(kept) < len(k_grid):
        logger.warning(
            "probing.probes.knn.k_grid: k=%s dropped, above the %d labelled train images; k chosen among %s",
            ", ".join(str(k) for k in k_grid if k > labelled),
            labelled,
            kept,
        )
    return kept


def fit_knn_probe(x_train, y_train, x_val, y_val, x_test, config: KNNProbeConfig) -> tuple:
    """Cosine k-NN, k chosen on validation (first on ties) among the grid's k that the labelled images can
    serve (:func:`feasible_k`), as scikit-learn's ``KNeighborsClassifier`` on L2-normalised features with uniform
    votes (a tie goes to the smallest class), with one neighbour search per split for the whole grid: the k
    nearest neighbours are the first k of the largest k's."""
    grid = feasible_k(config.k_grid, len(x_train))
    classes, codes = np.unique(y_train, return_inverse=True)
    index = KNeighborsClassifier(n_neighbors=max(grid), algorithm="brute")
    index.fit(normalize(x_train), codes)

    def votes(neighbours: np.ndarray, k: int) -> np.ndarray:
        counts = np.zeros((len(neighbours), len(classes)), dtype=np.int64)
        np.add.at(counts, (np.arange(len(neighbours))[:, None], codes[neighbours[:, :k]]), 1)
        return classes[counts.argmax(1)]

    val_neighbours = index.kneighbors(normalize(x_val), return_distance=False)
    best = None
    for k in grid:
        acc = float((votes(val_neighbours, k) == y_val).mean())
        if best is None or acc > best[1]:
            best = (k, acc)
    k, acc = best
    test_neighbours = index.kneighbors(normalize(x_test), n_neighbors=k, return_distance=False)
    return f"k={k}", acc, votes(test_neighbours, k)
