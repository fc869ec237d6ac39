import numpy as np
import pytest
import torch

from cpc_pipeline.data import (
    DigitIndex,
    make_sequence_table,
    paired_negatives,
    sample_sequences,
    table_to_sequences,
)

TERMS, PREDICT = 4, 4


@pytest.fixture(scope="module")
def labels():
    return np.random.default_rng(0).integers(0, 10, size=2_000)


@pytest.fixture(scope="module")
def table(labels):
    return make_sequence_table(labels, 4_000, TERMS, PREDICT, seed=3)


def test_positives_count_up_mod_10(table):
    pos = np.stack(table.loc[table.label == 1, "digits"].to_numpy())
    assert len(pos) > 0
    assert (np.diff(pos, axis=1) % 10 == 1).all()


def test_negatives_keep_sorted_context_and_every_future_digit_is_wrong(table):
    neg = np.stack(table.loc[table.label == 0, "digits"].to_numpy())
    assert (np.diff(neg[:, :TERMS], axis=1) % 10 == 1).all()
    expected_future = (neg[:, TERMS - 1 : TERMS] + np.arange(1, PREDICT + 1)) % 10
    assert (neg[:, TERMS:] != expected_future).all()


def test_negative_futures_cover_all_nine_wrong_digits_uniformly(table):
    neg = np.stack(table.loc[table.label == 0, "digits"].to_numpy())
    expected_future = (neg[:, TERMS - 1 : TERMS] + np.arange(1, PREDICT + 1)) % 10
    offsets = ((neg[:, TERMS:] - expected_future) % 10).ravel()
    counts = np.bincount(offsets, minlength=10)
    assert counts[0] == 0
    assert counts[1:].min() > 0.8 * counts[1:].mean()


def test_exactly_half_positive_in_random_order(table):
    assert table.label.sum() == len(table) // 2
    assert 0 < table.label.head(100).sum() < 100  # not all positives first


def test_images_show_their_digit(labels, table):
    digits = np.stack(table.digits.to_numpy())
    indices = np.stack(table.image_indices.to_numpy())
    assert (labels[indices] == digits).all()


def test_same_seed_same_table_other_seed_other_table(labels, table):
    again = make_sequence_table(labels, 4_000, TERMS, PREDICT, seed=3)
    other = make_sequence_table(labels, 4_000, TERMS, PREDICT, seed=4)
    assert table.equals(again)
    assert not np.array_equal(np.stack(table.digits.to_numpy()), np.stack(other.digits.to_numpy()))


def test_table_round_trip(table):
    batch = table_to_sequences(table)
    assert batch.digits.shape == (len(table), TERMS + PREDICT)
    assert batch.labels.dtype == torch.int64
    np.testing.assert_array_equal(batch.image_indices.numpy(), np.stack(table.image_indices.to_numpy()))


def test_sampling_on_device_matches_the_rule(labels):
    index = DigitIndex.from_labels(labels)
    g = torch.Generator().manual_seed(0)
    batch = sample_sequences(33, 2, 3, index, g)
    assert batch.digits.shape == (33, 5)
    assert batch.labels.sum() == 16


def test_every_digit_must_be_present():
    with pytest.raises(ValueError, match="missing \\[7\\]"):
        DigitIndex.from_labels(np.array([d for d in range(10) if d != 7]))


@pytest.mark.parametrize("bad", [(0, 4, 4), (8, 0, 4), (8, 4, 0)])
def test_sizes_must_be_positive(labels, bad):
    n, terms, predict = bad
    with pytest.raises(ValueError):
        sample_sequences(n, terms, predict, DigitIndex.from_labels(labels))


def test_paired_negatives_keep_the_context_images_and_draw_every_future_wrong(labels):
    index = DigitIndex.from_labels(labels)
    g = torch.Generator().manual_seed(0)
    positives = sample_sequences(500, TERMS, PREDICT, index, g, n_positive=500)
    negatives = paired_negatives(positives, TERMS, index, g)
    assert (negatives.labels == 0).all()
    assert torch.equal(negatives.image_indices[:, :TERMS], positives.image_indices[:, :TERMS])
    assert torch.equal(negatives.digits[:, :TERMS], positives.digits[:, :TERMS])
    assert (negatives.digits[:, TERMS:] != positives.digits[:, TERMS:]).all()
    # each future image shows its (wrong) digit
    assert torch.equal(torch.as_tensor(labels)[negatives.image_indices], negatives.digits)
    offsets = ((negatives.digits[:, TERMS:] - positives.digits[:, TERMS:]) % 10).flatten()
    assert set(offsets.tolist()) == set(range(1, 10))
