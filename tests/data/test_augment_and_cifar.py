import pickle

import numpy as np
import pytest
import torch

from cpc_pipeline.data.augment import COLOUR_OPS, AugmentConfig, BatchAugment, hsv_to_rgb, rgb_to_hsv
from cpc_pipeline.data.cifar import FOLDER, load_cifar10
from cpc_pipeline.data.sources import DataSourceError
from tests.conftest import write_cifar

PLAIN = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_strength=0.0, grey_p=0.0)


def test_every_image_gets_its_own_augmentation():
    x = torch.rand(1, 3, 32, 32).expand(16, 3, 32, 32).contiguous()  # 16 copies of one image
    out = BatchAugment()(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    flat = out.flatten(1)
    distinct = {tuple(np.round(r.numpy(), 4)) for r in flat}
    assert len(distinct) == 16  # a batch-wide draw (torchvision v2 on a batch tensor) would give 1


def test_identity_flip_and_grey_settings_do_exactly_that():
    x = torch.rand(4, 3, 32, 32)
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(BatchAugment(AugmentConfig(**PLAIN))(x, g), x)
    flipped = BatchAugment(AugmentConfig(**PLAIN | {"flip_p": 1.0}))(x, g)
    torch.testing.assert_close(flipped, x.flip(-1))
    grey = BatchAugment(AugmentConfig(**PLAIN | {"grey_p": 1.0}))(x, g)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    resized = BatchAugment(AugmentConfig(**PLAIN), output_size=16)(x, g)
    assert resized.shape == (4, 3, 16, 16)


def test_crops_follow_the_scale_and_ratio_bounds():
    aug = BatchAugment(AugmentConfig(crop_scale=(0.2, 0.5)))
    boxes = aug.crop_boxes(2000, 32, 32, torch.Generator().manual_seed(1), "cpu")
    x0, y0, w, h = boxes.unbind(1)
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x0 + w <= 32).all() and (y0 + h <= 32).all()
    area = w * h / 1024
    assert 0.15 < area.min() and area.max() < 0.56  # rounding of w, h moves the bounds slightly
    assert 0.6 < (w / h).min() and (w / h).max() < 1.6


def test_hsv_round_trip_and_single_channel_jitter():
    x = torch.rand(8, 3, 5, 5)
    torch.testing.assert_close(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5, rtol=0)
    grey = BatchAugment(AugmentConfig(**PLAIN | {"jitter_strength": 0.5, "jitter_p": 1.0}))(
        torch.rand(8, 1, 28, 28), torch.Generator().manual_seed(0)
    )
    assert grey.shape == (8, 1, 28, 28)


@pytest.mark.parametrize("subset", [True, False])
def test_colour_jitter_equals_a_loop_over_images(subset):
    """Each image gets its own operations in its own order, whether the batch computes each operation on
    the chosen images only (CPU) or on all of them, kept by torch.where (no host sync)."""
    x = torch.rand(32, 3, 8, 8)
    aug = BatchAugment(AugmentConfig(jitter_p=0.7, grey_p=0.3))
    draw = aug.draw_colour(len(x), 3, torch.Generator().manual_seed(3), "cpu")
    assert 0 < int(draw.apply.sum()) < len(x) and 0 < int(draw.grey.sum()) < len(x)
    assert len({tuple(o.tolist()) for o in draw.order[draw.apply]}) > 4  # many different orders
    expected = []
    for i in range(len(x)):
        y = x[i : i + 1]
        if draw.apply[i]:
            for k in draw.order[i].tolist():
                y = COLOUR_OPS[k](y, draw.factors[i, k].view(1, 1, 1, 1))
        if draw.grey[i]:
            y = (0.299 * y[:, 0:1] + 0.587 * y[:, 1:2] + 0.114 * y[:, 2:3]).expand_as(y)
        expected.append(y)
    out = aug.colour(x, torch.Generator().manual_seed(3), subset=subset)
    torch.testing.assert_close(out, torch.cat(expected), rtol=0, atol=1e-6)
    assert not torch.equal(out, x)


def test_cifar_loader_reads_the_real_format(tmp_path):
    folder = write_cifar(tmp_path)
    splits = load_cifar10(
        [tmp_path / "elsewhere", tmp_path], download=False, validation_size=10, verify_checksums=False
    )
    assert splits.train[0].shape == (50, 32, 32, 3) and splits.validation[0].shape == (10, 32, 32, 3)
    assert splits.test[0].shape == (12, 32, 32, 3) and splits.test[0].dtype == np.uint8
    # pixels land where CIFAR-10's layout puts them: 1024 red, then green, then blue values, row-major
    with open(folder / "test_batch", "rb") as fh:
        raw = pickle.load(fh)
    np.testing.assert_array_equal(splits.test[0][3, :, :, 1], raw["data"][3, 1024:2048].reshape(32, 32))
    np.testing.assert_array_equal(splits.test[1], raw["labels"])
    assert splits.location.endswith(FOLDER)


def test_cifar_loader_errors_say_what_to_do(tmp_path):
    with pytest.raises(DataSourceError, match="cifar-10-python.tar.gz"):
        load_cifar10([tmp_path], download=False)
    write_cifar(tmp_path)
    with pytest.raises(DataSourceError, match="incomplete or corrupt"):  # md5s of made-up files never match
        load_cifar10([tmp_path], download=False, verify_checksums=True)
