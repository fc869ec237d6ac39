"""What patch CPC's training sees, each piece against a plain loop over patches: the spatially jittered
cut, the per-patch backgrounds, the colour and grey augmentations, the pooled image features, the offsets
from ``first_offset`` on, and the row causality of the whole augmented path."""

import pytest
import torch

from cpc_pipeline.data.renderer import DigitRenderer
from cpc_pipeline.losses.infonce import grid_info_nce
from cpc_pipeline.models.encoders import EncoderSpec
from cpc_pipeline.models.patch_cpc import PatchCPCModelConfig
from cpc_pipeline.models.patches import extract_patches, grid_size, pool_grid
from cpc_pipeline.training.patch_cpc import PatchAugment, PatchCPCConfig, augment_patches


def test_jittered_patches_are_the_crops_at_each_patchs_own_clamped_offset():
    images = torch.randn(3, 2, 20, 20)
    size, stride, jitter = 8, 4, 3
    patches = extract_patches(images, size, stride, jitter, torch.Generator().manual_seed(0))
    g = grid_size(20, size, stride)
    offsets = torch.randint(-jitter, jitter + 1, (2, 3, g, g), generator=torch.Generator().manual_seed(0))
    assert patches.shape == (3, g, g, 2, size, size)
    moved = 0
    for n in range(3):
        for r in range(g):
            for c in range(g):
                top = min(max(r * stride + int(offsets[0, n, r, c]), 0), 20 - size)
                left = min(max(c * stride + int(offsets[1, n, r, c]), 0), 20 - size)
                assert torch.equal(patches[n, r, c], images[n, :, top : top + size, left : left + size])
                moved += (top, left) != (r * stride, c * stride)
    assert moved > g * g  # most patches did move
    assert torch.equal(extract_patches(images, size, stride, 0), extract_patches(images, size, stride))


def test_patches_rendered_on_their_own_backgrounds_equal_a_loop_over_patches():
    renderer = DigitRenderer(image_size=32, texture_size=64)
    digits = torch.zeros(2, 28, 28, dtype=torch.uint8)
    digits[:, 6:22, 12:16] = 255  # a vertical stroke
    cut = lambda x: extract_patches(x, 16, 8)  # noqa: E731
    patches = renderer.render_patches(digits, cut, torch.Generator().manual_seed(3))
    assert patches.shape == (2, 3, 3, 3, 16, 16)

    g = torch.Generator().manual_seed(3)  # the draws, in the method's order: corners, then colour shifts
    corners = torch.randint(0, 64 - 16 + 1, (2, 18, 1, 1), generator=g)
    shifts = torch.rand(18, 3, 1, 1, generator=g)
    masks = cut(renderer._resize(digits)) >= 0.5
    for i, (n, r, c) in enumerate((n, r, c) for n in range(2) for r in range(3) for c in range(3)):
        y, x = int(corners[0, i]), int(corners[1, i])
        background = (renderer.texture[:, y : y + 16, x : x + 16] + shifts[i]) / 2
        expected = torch.where(masks[n, r, c], 1 - background, background) * 2 - 1
        torch.testing.assert_close(patches[n, r, c], expected, rtol=0, atol=1e-6)
    first = patches[0].flatten(0, 1)  # one image's 9 patches: no two share a background
    assert all(not torch.equal(first[a, :, 0, 0], first[b, :, 0, 0]) for a in range(9) for b in range(a))


def test_without_colour_patches_rendered_alone_are_the_rendered_image_cut():
    renderer = DigitRenderer(image_size=28, color=False)
    digits = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8)
    cut = lambda x: extract_patches(x, 10, 6)  # noqa: E731
    assert torch.equal(renderer.render_patches(digits, cut), cut(renderer(digits)))


def _augment_loop(patches, config, generator):
    """The augmentation, one patch at a time, with the same draws as the vectorised code."""
    flat = patches.reshape(-1, *patches.shape[-3:])
    n, ch = len(flat), flat.shape[1]
    flips = torch.rand(n, generator=generator) < config.flip
    shuffles, orders, signs = torch.zeros(n, dtype=torch.bool), None, None
    if config.shuffle > 0:
        shuffles = torch.rand(n, generator=generator) < config.shuffle
        orders = torch.rand(n, ch, generator=generator).argsort(1)
        signs = torch.where(torch.rand(n, ch, generator=generator) < 0.5, -1.0, 1.0)
    colour_scale, colour_shift = torch.ones(n, ch, 1, 1), torch.zeros(n, ch, 1, 1)
    if config.colour > 0:  # a step at 0 draws nothing (so earlier settings keep their random draws)
        colour_scale = 1 + config.colour * (2 * torch.rand(n, ch, 1, 1, generator=generator) - 1)
        colour_shift = config.colour * (2 * torch.rand(n, ch, 1, 1, generator=generator) - 1)
    greys = torch.rand(n, generator=generator) < config.grey if config.grey > 0 else torch.zeros(n, dtype=torch.bool)
    scales = 1 + config.jitter * (2 * torch.rand(n, 1, 1, 1, generator=generator) - 1)
    shifts = config.jitter * (2 * torch.rand(n, 1, 1, 1, generator=generator) - 1)
    out = []
    for i in range(n):
        x = flat[i].flip(-1) if flips[i] else flat[i]
        if shuffles[i]:
            x = torch.stack([x[int(orders[i, c])] * signs[i, c] for c in range(ch)])
        for c in range(ch):
            m = x[c].mean()
            x = torch.cat([x[:c], ((x[c] - m) * colour_scale[i, c] + m + colour_shift[i, c])[None], x[c + 1 :]])
        if greys[i]:
            x = x.mean(0, keepdim=True).expand(ch, -1, -1)
        m = x.mean()
        out.append(((x - m) * scales[i] + m + shifts[i]).clamp(-1, 1))
    return torch.stack(out).view_as(patches)


def test_colour_and_grey_augmentations_equal_a_loop_over_patches():
    patches = torch.rand(2, 3, 3, 3, 6, 6) * 2 - 1
    config = PatchAugment(flip=0.5, shuffle=0.5, colour=0.6, grey=0.5, jitter=0.3)
    out = augment_patches(patches, config, torch.Generator().manual_seed(5))
    torch.testing.assert_close(out, _augment_loop(patches, config, torch.Generator().manual_seed(5)), rtol=0, atol=1e-6)
    flat = out.reshape(-1, 3, 6, 6)
    grey = [bool((p[0] == p[1]).all() and (p[1] == p[2]).all()) for p in flat]
    assert 0 < sum(grey) < len(grey)  # some patches dropped to grey, some kept their colour


def test_augmentations_off_draw_nothing_and_change_nothing_new():
    """shuffle, colour and grey at 0 leave the earlier augmentation (and its random draws) as it was."""
    patches = torch.rand(2, 2, 2, 3, 5, 5) * 2 - 1
    old = augment_patches(patches, PatchAugment(flip=0.5, jitter=0.2), torch.Generator().manual_seed(1))
    config = PatchAugment(flip=0.5, jitter=0.2, shuffle=0.0, colour=0.0, grey=0.0)
    torch.testing.assert_close(old, _augment_loop(patches, config, torch.Generator().manual_seed(1)), rtol=0, atol=1e-6)


@pytest.mark.parametrize("pool", ["mean", "max", "grid"])
def test_pooled_image_features_equal_a_loop_over_the_grid(pool):
    codes = torch.randn(2, 4, 7, 7)
    out = pool_grid(codes, pool, cells=3)
    if pool == "grid":
        assert out.shape == (2, 4 * 9)
        regions = [(0, 3), (2, 5), (4, 7)]  # adaptive pooling's overlapping regions of a 7-wide grid in 3
        expected = torch.stack([codes[:, :, r0:r1, c0:c1].mean((2, 3)) for r0, r1 in regions for c0, c1 in regions], 2)
        torch.testing.assert_close(out, expected.flatten(1), rtol=0, atol=1e-6)
    else:
        expected = torch.stack(
            [getattr(codes[n].flatten(1), "mean" if pool == "mean" else "amax")(1) for n in range(2)]
        )
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    spec = {
        "arch": "patches",
        "pool": pool,
        "patch_encoder": {"code_size": 8, "width": 8, "hidden": 16, "norm": "layer"},
    }
    encoder = EncoderSpec.model_validate(spec).build(3, 64)
    assert encoder(torch.randn(2, 3, 64, 64)).shape == (2, encoder.feature_size)


def test_grid_info_nce_from_a_later_offset_equals_the_loop_over_those_offsets():
    torch.manual_seed(2)
    n, d, g = 2, 4, 5
    codes, predictions = torch.randn(n, d, g, g), torch.randn(n, 2, d, g, g)  # offsets 2 and 3
    out = grid_info_nce(codes, predictions, first_offset=2)
    pool = [(m, r, c) for m in range(n) for r in range(g) for c in range(g)]
    losses = []
    for i, k in enumerate((2, 3)):
        for m in range(n):
            for r in range(g - k):
                for c in range(g):
                    scores = torch.stack([predictions[m, i, :, r, c] @ codes[j, :, rr, cc] for j, rr, cc in pool])
                    losses.append(-torch.log_softmax(scores, 0)[pool.index((m, r + k, c))])
    assert out.offsets == [2, 3] and out.terms == [n * (g - 2) * g, n * (g - 3) * g]
    torch.testing.assert_close(out.loss, torch.stack(losses).mean(), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="first_offset"):
        grid_info_nce(codes, predictions, first_offset=4)  # 4 and 5: beyond the grid


def test_bad_offsets_and_per_patch_backgrounds_without_rendering_fail_validation():
    with pytest.raises(ValueError, match="first_offset"):
        PatchCPCModelConfig(predict_rows=2, first_offset=3)
    with pytest.raises(ValueError, match="backgrounds"):
        PatchCPCConfig.model_validate({"dataset": "cifar10", "objective": {"backgrounds": "patch"}})


@pytest.mark.parametrize("augment", [{"spatial_jitter": 4, "grey": 1.0, "colour": 0.5}, {"spatial_jitter": 0}])
def test_the_augmented_path_keeps_each_context_row_blind_to_what_lies_below(augment):
    """Pixels -> jittered, per-patch-augmented patches -> codes -> row contexts: the context of row r depends on
    no pixel below the lowest one its rows' patches can reach (rows r*stride + jitter + size and further)."""
    torch.manual_seed(0)
    cfg = PatchCPCModelConfig.model_validate(
        {
            "encoder": {
                "size": 16,
                "stride": 8,
                "patch_encoder": {"code_size": 8, "width": 8, "hidden": 16, "norm": "layer"},
            },
            "predict_rows": 3,
            "first_offset": 2,
            "context_channels": 8,
            "context_layers": 2,
            "directions": ["down"],
        }
    )
    model = cfg.build(3, 64)
    config = PatchAugment(flip=0.0, **augment)
    for r in (0, 3, 5):
        images = torch.randn(2, 3, 64, 64, requires_grad=True)
        g = torch.Generator().manual_seed(r)
        patches = augment_patches(extract_patches(images, 16, 8, config.spatial_jitter, g), config, g)
        codes = model.encoder.encode_grid(patches)
        model.contexts["down"](codes)[:, :, r].sum().backward()
        rows = images.grad.abs().sum((0, 1, 3))  # (64,)
        reach = r * 8 + config.spatial_jitter + 16
        assert torch.all(rows[reach:] == 0), (r, rows.nonzero().max())
        assert rows[:reach].sum() > 0
