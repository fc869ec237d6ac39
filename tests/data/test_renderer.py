import pytest
import torch

from cpc_pipeline.data import DigitRenderer, make_texture


@pytest.fixture(scope="module")
def digits(mnist_splits):
    return torch.as_tensor(mnist_splits.validation.images[:16])


def test_shape_and_range_of_modified_mnist(digits):
    out = DigitRenderer()(digits.view(2, 8, 28, 28), torch.Generator().manual_seed(0))
    assert out.shape == (2, 8, 3, 64, 64)
    assert out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert out.min() < -0.5 and out.max() > 0.5  # uses the range


def test_grey_28_is_the_digit_rescaled(digits):
    out = DigitRenderer(image_size=28, color=False)(digits)
    assert out.shape == (16, 1, 28, 28)
    torch.testing.assert_close(out[:, 0], digits.float() / 255 * 2 - 1)


def test_each_image_gets_its_own_background_and_colour(digits):
    same = digits[:1].expand(6, 28, 28)  # one digit image six times
    out = DigitRenderer()(same, torch.Generator().manual_seed(0))
    flat = out.flatten(1)
    distances = torch.cdist(flat, flat)
    assert (distances + torch.eye(6) * 1e9).min() > 1.0


def test_digit_pixels_are_inverted_against_the_background(digits):
    renderer = DigitRenderer(image_size=28)
    g = torch.Generator().manual_seed(1)
    out = (renderer(digits, g) + 1) / 2
    background = renderer._backgrounds(len(digits), torch.Generator().manual_seed(1))
    mask = (digits.float() / 255 >= 0.5).unsqueeze(1).expand_as(out)
    torch.testing.assert_close(out[mask], 1 - background[mask])
    torch.testing.assert_close(out[~mask], background[~mask])


def test_seeded(digits):
    r = DigitRenderer()
    a = r(digits, torch.Generator().manual_seed(5))
    b = r(digits, torch.Generator().manual_seed(5))
    c = r(digits, torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_texture_is_seeded_textured_and_in_unit_range():
    t = make_texture(128, seed=0)
    assert t.shape == (3, 128, 128)
    assert t.min() == 0 and t.max() == 1
    assert t.std() > 0.1
    torch.testing.assert_close(t, make_texture(128, seed=0))
    assert not torch.allclose(t, make_texture(128, seed=1))


def test_texture_must_hold_a_crop():
    with pytest.raises(ValueError, match="texture_size"):
        DigitRenderer(image_size=64, texture_size=32)
