import numpy as np
import pytest
import torch

from cpc_pipeline.data import DigitRenderer
from cpc_pipeline.evaluation import (
    ProbeConfig,
    SupervisedConfig,
    extract_features,
    freeze,
    label_subset,
    run_probes,
    state_fingerprint,
    train_end_to_end,
)
from cpc_pipeline.models import CPCModelConfig, build_encoder

TINY = ProbeConfig(
    label_fractions=[0.1, 1.0], mlp={"epochs": 3}, linear={"c_grid": [0.1]}, knn={"k_grid": [1, 5]}
)


def pixel_features(splits, n=2000):
    """Raw pixels of genuine MNIST: features on which every probe must do far better than chance."""
    out = {}
    for name, split in (("train", splits.train), ("validation", splits.validation), ("test", splits.test)):
        m = n if name == "train" else n // 4
        out[f"{name}_x"] = split.images[:m].reshape(m, -1).astype(np.float32) / 255
        out[f"{name}_y"] = split.labels[:m]
    return out


def test_label_subset_is_stratified_and_seeded():
    labels = np.repeat(np.arange(10), [100 + 10 * c for c in range(10)])
    keep = label_subset(labels, 0.1, seed=3)
    assert np.array_equal(np.bincount(labels[keep]), [10 + c for c in range(10)])
    assert np.array_equal(keep, label_subset(labels, 0.1, seed=3))
    assert not np.array_equal(keep, label_subset(labels, 0.1, seed=4))
    assert len(label_subset(labels, 1.0, seed=0)) == len(labels)
    assert np.array_equal(np.bincount(labels[label_subset(labels, 0.0001, 0)]), np.ones(10))  # one per class


def test_probes_learn_pixels_and_stay_at_chance_on_shuffled_labels(mnist_splits):
    features = pixel_features(mnist_splits)
    results = {(r.probe, r.label_fraction): r for r in run_probes(features, TINY)}
    assert set(results) == {(p, f) for p in ("mlp", "linear", "knn") for f in (0.1, 1.0)}
    for (probe, fraction), r in results.items():
        assert abs(r.labels_used - 2000 * fraction) <= 5  # stratified: rounded per class
        assert r.test_accuracy > (0.8 if fraction == 1.0 else 0.6), (probe, fraction, r.test_accuracy)
        assert 0 < r.test_macro_f1 <= 1 and len(r.test_predictions) == 500
    assert results[("knn", 1.0)].chosen in {"k=1", "k=5"}

    rng = np.random.default_rng(0)
    shuffled = features | {"train_y": rng.permutation(features["train_y"])}
    for r in run_probes(shuffled, TINY.model_copy(update={"label_fractions": [1.0]})):
        assert r.test_accuracy < 0.25, (r.probe, r.test_accuracy)  # no signal left: near 10% chance


def test_probing_leaves_the_frozen_encoder_bit_for_bit_unchanged(mnist_splits):
    torch.manual_seed(0)
    encoder = build_encoder(CPCModelConfig(padding=1), 1, 28)
    renderer = DigitRenderer(28, color=False)
    with torch.no_grad():  # move BatchNorm's running statistics away from their initial values
        encoder.train()(renderer(torch.as_tensor(mnist_splits.train.images[:256])))
    before = state_fingerprint(encoder)
    with pytest.raises(ValueError, match="frozen"):
        extract_features(encoder, mnist_splits.train.images[:8], renderer, seed=0)

    freeze(encoder)
    features = {}
    for i, (name, split) in enumerate((("train", mnist_splits.train), ("validation", mnist_splits.validation),
                                       ("test", mnist_splits.test))):
        n = 1000 if name == "train" else 300
        features[f"{name}_x"] = extract_features(encoder, split.images[:n], renderer, seed=i, batch_size=128)
        features[f"{name}_y"] = split.labels[:n]
    again = extract_features(encoder, mnist_splits.test.images[:300], renderer, seed=2, batch_size=128)
    np.testing.assert_array_equal(again, features["test_x"])  # same seed, same pictures, same features
    run_probes(features, TINY)

    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())
    after = encoder.state_dict()
    assert before.keys() == after.keys()
    for key in before:  # parameters AND buffers (BatchNorm running mean/var, batch counter)
        assert torch.equal(before[key], after[key]), key


@pytest.mark.slow
def test_supervised_end_to_end_learns_digits(mnist_splits):
    small = lambda s, n: type(s)(s.images[:n], s.labels[:n])  # noqa: E731
    encoder, history, predictions, used = train_end_to_end(
        small(mnist_splits.train, 3000), small(mnist_splits.validation, 500), small(mnist_splits.test, 500),
        DigitRenderer(28, color=False), CPCModelConfig(padding=1), 1.0,
        SupervisedConfig(epochs=2, min_steps=1, batch_size=64), seed=0, test_render_seed=2, device=torch.device("cpu"),
    )
    assert used == 3000 and len(history) == 2 and sum(r["selected"] for r in history) == 1
    assert (predictions == mnist_splits.test.labels[:500]).mean() > 0.8
    assert not encoder.training
