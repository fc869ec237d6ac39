import numpy as np
import pytest
import torch

from cpc_pipeline.data import DigitRenderer
from cpc_pipeline.evaluation import (
    ProbeConfig,
    ProbeResult,
    SupervisedConfig,
    estimate_batchnorm_statistics,
    extract_features,
    freeze,
    label_subset,
    picture_batches,
    run_probes,
    select_on_validation,
    state_fingerprint,
    train_end_to_end,
)
from cpc_pipeline.models import EncoderSpec, ReferenceEncoderSpec

TINY = ProbeConfig(label_fractions=[0.1, 1.0], mlp={"epochs": 3}, linear={"c_grid": [0.1]}, knn={"k_grid": [1, 5]})


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
        # the label budget: a fraction of the train labels to fit, the same fraction of validation to choose
        assert abs(r.train_labels - 2000 * fraction) <= 5 and abs(r.selection_labels - 500 * fraction) <= 5
        assert r.labels_used == r.train_labels + r.selection_labels
        assert r.test_accuracy > (0.8 if fraction == 1.0 else 0.6), (probe, fraction, r.test_accuracy)
        assert 0 < r.test_macro_f1 <= 1 and len(r.test_predictions) == 500
    assert results[("knn", 1.0)].chosen in {"k=1", "k=5"}

    rng = np.random.default_rng(0)
    shuffled = features | {"train_y": rng.permutation(features["train_y"])}
    for r in run_probes(shuffled, TINY.model_copy(update={"label_fractions": [1.0]})):
        assert r.test_accuracy < 0.25, (r.probe, r.test_accuracy)  # no signal left: near 10% chance


@pytest.mark.parametrize("classes", [3, 12])
def test_every_probe_takes_the_labels_classes_not_ten(classes):
    """A folder's class count, fewer or more than MNIST's ten: separable clusters every probe must find."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(classes, 16)) * 4

    def split(n):
        y = np.arange(n) % classes
        return (centres[y] + rng.normal(size=(n, 16))).astype(np.float32), y

    features = {}
    for name, n in (("train", 40 * classes), ("validation", 10 * classes), ("test", 10 * classes)):
        features[f"{name}_x"], features[f"{name}_y"] = split(n)
    for r in run_probes(features, TINY.model_copy(update={"label_fractions": [1.0]})):
        assert r.test_accuracy > 0.9 and set(np.unique(r.test_predictions)) <= set(range(classes)), r.probe


def test_test_labels_choose_nothing(mnist_splits):
    """Permuting the test labels moves no selected hyperparameter, no validation figure and no choice of
    probe: test labels only score predictions made before they are read."""
    features = pixel_features(mnist_splits, n=1000)
    permuted = features | {"test_y": np.random.default_rng(0).permutation(features["test_y"])}
    config = ProbeConfig(
        label_fractions=[0.1, 1.0], mlp={"epochs": 3}, linear={"c_grid": [0.01, 1.0]}, knn={"k_grid": [1, 5, 20]}
    )
    honest, shuffled = run_probes(features, config), run_probes(permuted, config)
    for a, b in zip(honest, shuffled):
        assert (a.probe, a.label_fraction, a.chosen, a.val_accuracy) == (
            b.probe,
            b.label_fraction,
            b.chosen,
            b.val_accuracy,
        )
        np.testing.assert_array_equal(a.test_predictions, b.test_predictions)
    assert [r.test_accuracy for r in honest] != [r.test_accuracy for r in shuffled]  # the scores did move
    full = lambda results: [r for r in results if r.label_fraction == 1.0]  # noqa: E731
    assert select_on_validation(full(honest)).probe == select_on_validation(full(shuffled)).probe


def test_select_on_validation_ignores_test_accuracy():
    make = lambda probe, val, test: ProbeResult(probe, 1.0, 10, 10, "", val, test, test, np.zeros(1))  # noqa: E731
    results = [make("mlp", 0.90, 0.99), make("linear", 0.95, 0.50), make("knn", 0.95, 0.10)]
    assert select_on_validation(results).probe == "linear"  # best validation, first on ties


def test_batchnorm_statistics_are_estimated_without_labels_or_weight_changes(mnist_splits):
    torch.manual_seed(0)
    encoder = ReferenceEncoderSpec(padding=1).build(1, 28)
    weights = {k: v.clone() for k, v in encoder.named_parameters()}
    bn = encoder.features[1]
    assert torch.equal(bn.running_mean, torch.zeros(64)) and torch.equal(bn.running_var, torch.ones(64))
    images = mnist_splits.train.images[:600]
    renderer = DigitRenderer(28, color=False)
    estimate_batchnorm_statistics(encoder, picture_batches(images, renderer, seed=0, batch_size=200, device="cpu"))
    assert not encoder.training and bn.momentum == 0.1  # eval mode, momentum restored
    for name, value in encoder.named_parameters():
        assert torch.equal(value, weights[name]), name
    # the running statistics are the averages of the three batches' statistics of the first conv's output
    with torch.no_grad():
        pre = encoder.features[0](renderer(torch.as_tensor(images)))
        batches = pre.split(200)
    torch.testing.assert_close(bn.running_mean, torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0))
    unbiased = [b.transpose(0, 1).flatten(1).var(1) for b in batches]
    torch.testing.assert_close(bn.running_var, torch.stack(unbiased).mean(0))


def test_probing_leaves_the_frozen_encoder_bit_for_bit_unchanged(mnist_splits):
    torch.manual_seed(0)
    encoder = ReferenceEncoderSpec(padding=1).build(1, 28)
    renderer = DigitRenderer(28, color=False)
    with torch.no_grad():  # move BatchNorm's running statistics away from their initial values
        encoder.train()(renderer(torch.as_tensor(mnist_splits.train.images[:256])))
    before = state_fingerprint(encoder)
    with pytest.raises(ValueError, match="frozen"):
        extract_features(encoder, mnist_splits.train.images[:8], renderer, seed=0)

    freeze(encoder)
    features = {}
    for i, (name, split) in enumerate(
        (("train", mnist_splits.train), ("validation", mnist_splits.validation), ("test", mnist_splits.test))
    ):
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
        small(mnist_splits.train, 3000),
        small(mnist_splits.validation, 500),
        small(mnist_splits.test, 500),
        DigitRenderer(28, color=False),
        EncoderSpec(ReferenceEncoderSpec(padding=1)),
        1.0,
        SupervisedConfig(epochs=2, min_steps=1, images_per_batch=64),
        seed=0,
        test_render_seed=2,
        device=torch.device("cpu"),
    )
    assert (
        used == (3000, 500) and len(history) == 2
    )  # trained on 3,000 labels, the epoch chosen on 500 and sum(r["selected"] for r in history) == 1
    assert (predictions == mnist_splits.test.labels[:500]).mean() > 0.8
    assert not encoder.training
    # trained in the layout pretraining trains in (SupervisedConfig.channels_last), 1.45x faster a step on the CPU
    last_conv = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)][-1]  # 64 input channels
    assert last_conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not last_conv.weight.is_contiguous()


def test_supervised_augmentation_changes_training_batches_only(mnist_splits):
    from cpc_pipeline.evaluation.supervised import supervised_method

    small = lambda s, n: type(s)(s.images[:n], s.labels[:n])  # noqa: E731
    args = (small(mnist_splits.train, 200), small(mnist_splits.validation, 50), DigitRenderer(28, color=False))
    spec = EncoderSpec(ReferenceEncoderSpec(padding=1))
    plain, augmented = (
        supervised_method(*args, spec, 1.0, SupervisedConfig(augment=augment), 0, torch.device("cpu"))[0]
        for augment in (None, {"crop_scale": [0.5, 0.6], "flip_p": 1.0, "jitter_p": 0.0, "grey_p": 0.0})
    )
    batches = [next(m.train_batches(0, torch.Generator().manual_seed(1))) for m in (plain, augmented)]
    assert torch.equal(batches[0][1], batches[1][1])  # the same images and labels drawn...
    assert (batches[0][0] - batches[1][0]).abs().mean() > 0.05  # ...cropped and mirrored for training only
    x = torch.as_tensor(mnist_splits.validation.images[:8])
    assert torch.equal(plain.transform(x, None), augmented.transform(x, None))  # validation and test as rendered


def test_extraction_in_channels_last_gives_the_contiguous_layouts_features(mnist_splits):
    torch.manual_seed(0)
    encoder = freeze(ReferenceEncoderSpec().build(3, 64))
    renderer = DigitRenderer(64, color=True)
    images = mnist_splits.test.images[:64]
    before = state_fingerprint(encoder)
    contiguous = extract_features(encoder, images, renderer, seed=0, batch_size=32, channels_last=False)
    assert encoder.features[0].weight.is_contiguous()
    fast = extract_features(encoder, images, renderer, seed=0, batch_size=32, channels_last=True)
    assert encoder.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(fast, contiguous, rtol=1e-4, atol=1e-5 * np.abs(contiguous).max())
    for key, value in encoder.state_dict().items():  # the layout changed, not one value
        assert torch.equal(before[key], value), key


def test_knn_probe_equals_scikit_learns_classifier_fitted_per_k():
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    from cpc_pipeline.evaluation.probes import KNNProbeConfig, fit_knn_probe

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 16))

    def split(n):
        y = rng.integers(0, 10, n)
        return (centres[y] + 1.5 * rng.normal(size=(n, 16))).astype(np.float32), y + 3  # labels need not be 0..9

    (x_train, y_train), (x_val, y_val), (x_test, _) = split(600), split(300), split(300)
    config = KNNProbeConfig(k_grid=[1, 4, 10, 20])
    chosen, acc, pred = fit_knn_probe(x_train, y_train, x_val, y_val, x_test, config)

    loop = []
    for k in config.k_grid:  # what the probe did before: a classifier per k (even k: tied votes happen)
        model = make_pipeline(Normalizer(), KNeighborsClassifier(n_neighbors=k, algorithm="brute")).fit(
            x_train, y_train
        )
        loop.append((float((model.predict(x_val) == y_val).mean()), -k, model))
    best_acc, minus_k, model = max(loop, key=lambda t: (t[0], t[1]))  # best, the first (smallest) k on ties
    assert (chosen, acc) == (f"k={-minus_k}", best_acc)
    np.testing.assert_array_equal(pred, model.predict(x_test))
    for k in config.k_grid:  # every k's votes, not only the chosen one's
        c = KNNProbeConfig(k_grid=[k])
        _, acc_k, pred_k = fit_knn_probe(x_train, y_train, x_val, y_val, x_test, c)
        reference = make_pipeline(Normalizer(), KNeighborsClassifier(n_neighbors=k, algorithm="brute")).fit(
            x_train, y_train
        )
        np.testing.assert_array_equal(pred_k, reference.predict(x_test))


def test_the_torch_linear_probe_solves_scikit_learns_problem(mnist_splits):
    """Full-batch L-BFGS, warm-started along the grid, reaches scikit-learn's optimum of the same objective: the
    same C chosen and the same test predictions on all but a handful of MNIST's pixels' test images."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from cpc_pipeline.evaluation.probes import LinearProbeConfig, fit_linear_probe

    f = pixel_features(mnist_splits, n=2000)
    args = (f["train_x"], f["train_y"], f["validation_x"], f["validation_y"], f["test_x"])
    grid = [0.001, 0.01, 0.1]
    ours = fit_linear_probe(*args, LinearProbeConfig(c_grid=grid, max_iter=1000), seed=0)
    reference = fit_linear_probe(*args, LinearProbeConfig(c_grid=grid, max_iter=1000, solver="sklearn"), seed=0)
    assert ours[0] == reference[0] and abs(ours[1] - reference[1]) <= 0.004
    assert (ours[2] == reference[2]).mean() >= 0.99

    # the optimum itself: at scikit-learn's solution of one C, run to a tight tolerance, the objective is no lower
    from cpc_pipeline.evaluation.probes.linear import logistic_regression

    x = torch.as_tensor(StandardScaler().fit_transform(f["train_x"]), dtype=torch.float32)
    y = torch.as_tensor(f["train_y"])
    sk = LogisticRegression(C=0.01, max_iter=5000, tol=1e-8).fit(x.numpy(), y.numpy())
    weight, bias = logistic_regression(x, y, 10, LinearProbeConfig(c_grid=[0.001, 0.01], max_iter=1000))[0.01]

    def objective(weight, bias, c=0.01):
        ce = torch.nn.functional.cross_entropy(x.double() @ weight.double() + bias.double(), y)
        return float(ce + weight.double().square().sum() / (2 * c * len(x)))

    reached, optimum = objective(weight, bias), objective(torch.as_tensor(sk.coef_.T), torch.as_tensor(sk.intercept_))
    assert reached <= optimum + 1e-5, (reached, optimum)


def test_a_c_grid_must_hold_distinct_positive_strengths():
    from pydantic import ValidationError

    from cpc_pipeline.evaluation.probes import LinearProbeConfig

    with pytest.raises(ValidationError, match=r"c_grid must hold distinct positive strengths, got \[0.0, 1.0\]"):
        LinearProbeConfig(c_grid=[0.0, 1.0])


def test_the_wilson_interval_matches_its_textbook_values():
    from cpc_pipeline.evaluation import wilson_interval

    low, high = wilson_interval(0.5, 100)  # Brown, Cai and DasGupta (2001): 0.4038 .. 0.5962
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    low, high = wilson_interval(0.981, 10_000)  # a typical MNIST figure: about +-0.27 points
    assert 0.978 < low < 0.981 < high < 0.984 and abs((high - 0.981) - (0.981 - low)) < 1e-3
    assert wilson_interval(1.0, 50)[1] == pytest.approx(1.0) and wilson_interval(1.0, 50)[0] < 0.93
