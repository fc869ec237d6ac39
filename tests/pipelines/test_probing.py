"""The probing stage's nodes on pictures of your own (a folder's labels, or none)."""

import numpy as np


def test_the_probing_node_fits_nothing_on_pictures_without_labels_and_says_so(caplog):
    from cpc_pipeline.evaluation import ProbingConfig
    from cpc_pipeline.pipelines.probing.nodes import probe_features

    rng = np.random.default_rng(0)
    features = {f"{s}_x": rng.normal(size=(30, 4)).astype(np.float32) for s in ("train", "validation", "test")}
    probing = ProbingConfig.model_validate({"probes": {"probes": ["linear"], "label_fractions": [1.0]}})
    results, predictions = probe_features(
        features | {f"{s}_y": np.full(30, -1) for s in ("train", "validation", "test")}, probing
    )
    assert results.empty and predictions.empty and "test_accuracy" in results.columns
    assert "no labels" in caplog.text
    labelled = features | {f"{s}_y": np.arange(30) % 3 for s in ("train", "validation", "test")}
    results, _ = probe_features(labelled, probing)
    empty = probe_features(features | {f"{s}_y": np.full(30, -1) for s in ("train", "validation", "test")}, probing)
    assert list(results.columns) == list(empty[0].columns) and len(results) == 1  # the same table, with rows
