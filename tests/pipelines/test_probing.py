"""The probing stage's nodes on pictures of your own (a folder's labels, or none)."""

import logging

import numpy as np


def test_the_probing_node_fits_nothing_on_pictures_without_labels_and_says_so(caplog):
    caplog.set_level(logging.INFO)
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


def test_an_encoder_that_was_not_trained_goes_through_probing_as_its_reason(tmp_path, caplog):
    """Weights file -> frozen -> features -> probes: each node hands the stand-in on, and nothing is fitted."""
    caplog.set_level(logging.INFO)
    import torch
    from kedro_datasets_experimental.pytorch import PyTorchDataset

    from cpc_pipeline.data.config import RenderingConfig
    from cpc_pipeline.evaluation import ProbingConfig
    from cpc_pipeline.models.not_trained import NotTrained, not_trained_reason
    from cpc_pipeline.pipelines.probing.nodes import extract_split_features, freeze_encoder, probe_features

    weights = PyTorchDataset(filepath=str(tmp_path / "cpc_encoder.pt"))
    weights.save(NotTrained("sequence CPC skipped: no labels"))
    loaded = weights.load()  # a state dict, as every weights file loads
    assert not_trained_reason(loaded) == "sequence CPC skipped: no labels"
    assert not_trained_reason({}) is None and not_trained_reason(torch.nn.Linear(2, 2).state_dict()) is None
    images = {"images": np.zeros((4, 28, 28), np.uint8), "labels": np.arange(4)}
    frozen = freeze_encoder(loaded, images, RenderingConfig(), {"arch": "reference"})
    assert isinstance(frozen, NotTrained)
    probing = ProbingConfig()
    features = extract_split_features(frozen, images, images, images, RenderingConfig(), probing)
    assert features == {"not_trained": "sequence CPC skipped: no labels"}
    results, predictions = probe_features(features, probing)
    assert results.empty and predictions.empty and "no probe: sequence CPC skipped" in caplog.text


def test_chance_is_one_over_the_folders_classes_and_no_labels_give_no_rows():
    import pandas as pd

    from cpc_pipeline.pipelines.probing.nodes import RESULT_COLUMNS, collect_probe_metrics

    empty = pd.DataFrame(columns=["encoder", *RESULT_COLUMNS])
    test = {"images": np.zeros((6, 8, 8, 3), np.uint8), "labels": np.array([0, 0, 1, 1, 0, 1])}
    table, _ = collect_probe_metrics(empty, test | {"classes": ["a", "b", "c"]})  # class c: none in test
    assert table.set_index("encoder").test_accuracy["chance"] == 1 / 3
    table, metrics = collect_probe_metrics(empty, test | {"labels": np.full(6, -1)})
    assert table.empty and metrics == {} and "test_accuracy" in table.columns
