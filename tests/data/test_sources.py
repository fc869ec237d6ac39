import gzip
import logging

import numpy as np
import pytest

from cpc_pipeline.data import DataSourceError, load_digit_splits
from cpc_pipeline.data.sources import MNIST_FILES


def test_genuine_mnist_is_split_as_the_reference(mnist_splits):
    assert mnist_splits.source == "mnist"
    assert (len(mnist_splits.train), len(mnist_splits.validation), len(mnist_splits.test)) == (
        50_000,
        10_000,
        10_000,
    )
    assert mnist_splits.train.images.dtype == np.uint8
    assert mnist_splits.train.images.shape[1:] == (28, 28)
    assert set(np.unique(mnist_splits.test.labels)) == set(range(10))
    # MNIST's first training label is 5, its first test label 7: the files are read, not invented
    assert mnist_splits.train.labels[0] == 5 and mnist_splits.test.labels[0] == 7


def _partial_copy(mnist_root, tmp_path, skip=()):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        if name not in skip:
            (raw / name).symlink_to(mnist_root / "MNIST" / "raw" / name)
    return raw


def test_missing_mnist_falls_back_to_sklearn_digits_loudly(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        splits = load_digit_splits("mnist", [tmp_path / "nothing_here"], download=False)
    assert splits.source == "sklearn_digits"
    assert "FALLING BACK" in caplog.text and "MNIST/raw" in caplog.text and "roots" in caplog.text
    assert splits.train.images.shape[1:] == (28, 28)
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 1797
    assert splits.train.images.max() > 200  # scaled to MNIST's 0..255


def test_a_report_on_the_fallback_says_so_before_anything_else(tmp_path):
    from cpc_pipeline.reporting.report import source_warning

    splits = load_digit_splits("mnist", [tmp_path / "nothing_here"], download=False)
    warning = source_warning(splits.summary())
    assert "NOT on MNIST" in warning[0] and "sklearn_digits" in warning[0]
    assert source_warning({"source": "mnist", "location": "data/01_raw/MNIST/raw"}) == []


def test_a_run_on_the_fallback_ends_with_a_warning_that_says_so(tmp_path, caplog):
    from cpc_pipeline.hooks import DataSourceHook

    fallback = load_digit_splits("mnist", [tmp_path / "nothing_here"], download=False).summary()
    for source, warned in ((fallback, True), ({"source": "mnist", "location": "data/01_raw/MNIST/raw"}, False)):
        hook = DataSourceHook()
        hook.after_node_run(node=None, inputs={}, outputs={"digit_source": source})
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cpc_pipeline.hooks.data_source"):
            hook.after_pipeline_run()
        assert ("did NOT use MNIST" in caplog.text and "sklearn_digits" in caplog.text) is warned, caplog.text
        assert bool(caplog.text) is warned


def test_missing_mnist_without_fallback_is_a_clear_error(tmp_path):
    with pytest.raises(DataSourceError, match="not found.*download is disabled"):
        load_digit_splits("mnist", [tmp_path], download=False, fallback=False)


def test_truncated_file_is_named(mnist_root, tmp_path):
    raw = _partial_copy(mnist_root, tmp_path, skip={"t10k-images-idx3-ubyte"})
    good = (mnist_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").read_bytes()
    (raw / "t10k-images-idx3-ubyte").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataSourceError, match="t10k-images-idx3-ubyte is corrupt or truncated"):
        load_digit_splits("mnist", [tmp_path], download=False)  # corrupt: never a silent fallback


def test_wrong_header_is_named(mnist_root, tmp_path):
    raw = _partial_copy(mnist_root, tmp_path, skip={"train-labels-idx1-ubyte"})
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 100)
    with pytest.raises(DataSourceError, match="train-labels-idx1-ubyte is corrupt"):
        load_digit_splits("mnist", [tmp_path], download=False)


def test_corrupt_archive_is_named(mnist_root, tmp_path):
    raw = _partial_copy(mnist_root, tmp_path, skip={"t10k-labels-idx1-ubyte"})
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(DataSourceError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        load_digit_splits("mnist", [tmp_path], download=False)


def test_good_archive_is_extracted(mnist_root, tmp_path):
    raw = _partial_copy(mnist_root, tmp_path, skip={"t10k-labels-idx1-ubyte"})
    (raw / "t10k-labels-idx1-ubyte.gz").symlink_to(mnist_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz")
    splits = load_digit_splits("mnist", [tmp_path], download=False)
    assert splits.test.labels[0] == 7


def test_first_root_holding_mnist_wins(mnist_root, tmp_path):
    splits = load_digit_splits("mnist", [tmp_path / "empty", mnist_root], download=False, fallback=False)
    assert splits.source == "mnist"
    assert splits.location.endswith("MNIST/raw")


def test_unknown_source():
    with pytest.raises(ValueError, match="source must be one of"):
        load_digit_splits("imagenet", [])
