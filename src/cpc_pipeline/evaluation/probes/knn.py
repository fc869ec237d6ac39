"""The k-NN probe: cosine nearest neighbours, k chosen on validation."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import normalize

from cpc_pipeline.evaluation.probes.config import KNNProbeConfig


def fit_knn_probe(x_train, y_train, x_val, y_val, x_test, config: KNNProbeConfig) -> tuple:
    """Cosine k-NN, k chosen on validation (first on ties), as scikit-learn's ``KNeighborsClassifier`` on
    L2-normalised features with uniform votes (a tie goes to the smallest class), with one neighbour search
    per split for the whole grid: the k nearest neighbours are the first k of the largest k's."""
    classes, codes = np.unique(y_train, return_inverse=True)
    index = KNeighborsClassifier(n_neighbors=min(max(config.k_grid), len(x_train)), algorithm="brute")
    index.fit(normalize(x_train), codes)

    def votes(neighbours: np.ndarray, k: int) -> np.ndarray:
        counts = np.zeros((len(neighbours), len(classes)), dtype=np.int64)
        np.add.at(counts, (np.arange(len(neighbours))[:, None], codes[neighbours[:, :k]]), 1)
        return classes[counts.argmax(1)]

    val_neighbours = index.kneighbors(normalize(x_val), return_distance=False)
    best = None
    for k in config.k_grid:
        acc = float((votes(val_neighbours, min(k, len(x_train))) == y_val).mean())
        if best is None or acc > best[1]:
            best = (k, acc)
    k, acc = best
    test_neighbours = index.kneighbors(normalize(x_test), n_neighbors=min(k, len(x_train)), return_distance=False)
    return f"k={k}", acc, votes(test_neighbours, min(k, len(x_train)))
