"""The 2-D map of an encoder's test features: t-SNE (over a 50-d PCA) or PCA of a seeded subsample."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE


def embed_2d(features: np.ndarray, labels: np.ndarray, method: str, points: int, seed: int) -> pd.DataFrame:
    """A seeded subsample of ``features`` mapped to 2-D by t-SNE (over a 50-d PCA) or PCA."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(features), min(points, len(features)), replace=False))
    x = features[idx].astype(np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    if method == "tsne":
        x = PCA(min(50, x.shape[1], len(x)), random_state=seed).fit_transform(x)
        xy = TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, (len(x) - 1) / 3)).fit_transform(x)
    else:
        xy = PCA(2, random_state=seed).fit_transform(x)
    return pd.DataFrame({"index": idx, "x": xy[:, 0], "y": xy[:, 1], "digit": labels[idx]})
