"""Fashion-MNIST, the second real dataset: Debian's ``dataset-fashion-mnist`` files, read in place.

The packaged files are installed by ``make test`` where it can (``make fashion-mnist``); CI sets
``CPC_REQUIRE_FASHION_MNIST=1``, so there a missing package fails instead of skipping."""

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cpc_pipeline.data import DataSourceError, load_digit_splits
from cpc_pipeline.data.sources import FASHION_MNIST_DEBIAN, MNIST_FILES, load_fashion_mnist

PACKAGED = Path(FASHION_MNIST_DEBIAN)


@pytest.fixture(scope="module")
def packaged() -> Path:
    if not all((PACKAGED / f"{n}.gz").exists() for n in MNIST_FILES):
        if os.environ.get("CPC_REQUIRE_FASHION_MNIST") == "1":
            pytest.fail(f"Debian's dataset-fashion-mnist expected in {PACKAGED} (make fashion-mnist)")
        pytest.skip(f"dataset-fashion-mnist is not installed ({PACKAGED}): apt-get install dataset-fashion-mnist")
    return PACKAGED


def test_packaged_files_are_split_as_mnist(packaged):
    splits = load_digit_splits("fashion_mnist", [packaged], download=False)
    assert splits.source == "fashion_mnist" and splits.location == str(packaged.resolve())
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (50_000, 10_000, 10_000)
    assert splits.train.images.dtype == np.uint8 and splits.train.images.shape[1:] == (28, 28)
    assert set(np.unique(splits.test.labels)) == set(range(10))
    # Fashion-MNIST's first training items are ankle boot, T-shirt, T-shirt, dress; its first test item an ankle boot
    assert list(splits.train.labels[:4]) == [9, 0, 0, 3] and splits.test.labels[0] == 9
    # clothes, not digits: far more ink than MNIST's mean pixel of about 33
    assert splits.train.images.mean() > 60


def test_a_folder_of_your_own_in_the_idx_layout(packaged, tmp_path):
    """Extracted files in a folder of one's own (torchvision's FashionMNIST/raw layout) are read the same."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        with gzip.open(packaged / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    mine = load_fashion_mnist([tmp_path / "empty", tmp_path], download=False, validation_size=5_000)
    theirs = load_fashion_mnist([packaged], download=False, validation_size=5_000)
    assert mine.location == str(raw.resolve()) and len(mine.train) == 55_000
    np.testing.assert_array_equal(mine.test.images, theirs.test.images)
    np.testing.assert_array_equal(mine.train.labels, theirs.train.labels)


def test_absent_files_are_a_clear_error_never_the_digit_fallback(tmp_path):
    with pytest.raises(
        DataSourceError, match="Fashion-MNIST files .* not found .*apt-get install dataset-fashion-mnist"
    ):
        load_digit_splits("fashion_mnist", [tmp_path], download=False)


def test_a_truncated_packaged_file_is_named(packaged, tmp_path):
    for name in MNIST_FILES:
        (tmp_path / f"{name}.gz").symlink_to(packaged / f"{name}.gz")
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 50))
    with pytest.raises(DataSourceError, match="t10k-labels-idx1-ubyte.gz is corrupt or truncated"):
        load_fashion_mnist([tmp_path], download=False)


def test_the_fashion_environment_reads_the_packaged_files(packaged, kedro_project):
    from tests.conftest import run_kedro

    run_kedro(kedro_project, "data_processing", env="fashion")
    source = json.loads((kedro_project / "data" / "02_intermediate" / "digit_source.json").read_text())
    assert source["source"] == "fashion_mnist" and source["location"] == str(packaged.resolve())
    assert source["train_images"] == 50_000
