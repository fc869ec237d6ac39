"""CPC on image patches: the grid, the row-causal context, and the grid InfoNCE against a loop."""

import math

import pytest
import torch

from cpc_pipeline.losses.infonce import grid_info_nce
from cpc_pipeline.models.patch_cpc import RowCausalContext
from cpc_pipeline.models import patches as patches_module
from cpc_pipeline.models.encoders import EncoderSpec
from cpc_pipeline.models.patches import extract_patches, grid_size


def test_patches_form_the_grid_and_equal_the_image_crops():
    images = torch.randn(2, 3, 20, 20)
    patches = extract_patches(images, size=8, stride=4)
    g = grid_size(20, 8, 4)
    assert g == 4 and patches.shape == (2, g, g, 3, 8, 8)
    for n in range(2):
        for r in range(g):
            for c in range(g):
                assert torch.equal(patches[n, r, c], images[n, :, r * 4 : r * 4 + 8, c * 4 : c * 4 + 8])
    with pytest.raises(ValueError, match="do not fit"):
        extract_patches(images, size=24, stride=4)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_frozen_patch_features_in_parts_equal_the_whole_batch_bit_for_bit(monkeypatch, norm):
    torch.manual_seed(0)
    spec = {
        "arch": "patches",
        "size": 16,
        "stride": 8,
        "patch_encoder": {"arch": "reference", "code_size": 16, "norm": norm, "width": 8, "hidden": 32},
    }
    encoder = EncoderSpec.model_validate(spec).build(3, 64)  # 49 patches per image
    images = torch.randn(6, 3, 64, 64)
    encoder.train()
    encoder(images)  # BatchNorm statistics that are not the initial ones
    encoder.eval()
    with torch.no_grad():
        whole = encoder(images)
        monkeypatch.setattr(patches_module, "PATCHES_PER_CALL", 50)  # 294 patches: 6 calls, across images
        calls = []
        hook = encoder.patch_encoder.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
        parts = encoder(images)
        hook.remove()
    assert calls == [50] * 5 + [44]
    assert torch.equal(parts, whole)
    encoder.train()  # train mode: BatchNorm's statistics are the whole batch's, so the batch stays whole
    with torch.no_grad():
        calls.clear()
        encoder.patch_encoder.register_forward_hook(lambda m, i, o: calls.append(len(i[0])))
        encoder(images)
    assert calls == [294]


def test_the_context_at_row_r_never_sees_the_rows_below():
    torch.manual_seed(0)
    g, layers = 7, 3
    context = RowCausalContext(code_size=5, channels=8, layers=layers)
    for r in range(g):
        codes = torch.randn(2, 5, g, g, requires_grad=True)
        context(codes)[:, :, r].sum().backward()
        row_gradient = codes.grad.abs().sum((0, 1, 3))  # (G,)
        assert torch.all(row_gradient[r + 1 :] == 0), (r, row_gradient)  # rows below: no dependence at all
        assert row_gradient[r] > 0  # the row itself ...
        assert torch.all(row_gradient[max(0, r - layers) : r] > 0)  # ... and the rows above within reach


def test_grid_info_nce_equals_a_loop_over_positions():
    torch.manual_seed(1)
    n, d, g, k_max = 2, 4, 4, 2
    codes, predictions = torch.randn(n, d, g, g), torch.randn(n, k_max, d, g, g)
    out = grid_info_nce(codes, predictions)
    pool = [(m, r, c) for m in range(n) for r in range(g) for c in range(g)]
    losses, correct = [], 0
    for k in range(1, k_max + 1):
        for m in range(n):
            for r in range(g - k):
                for c in range(g):
                    p = predictions[m, k - 1, :, r, c]
                    scores = torch.stack([p @ codes[i, :, rr, cc] for i, rr, cc in pool])
                    target = pool.index((m, r + k, c))
                    losses.append(-torch.log_softmax(scores, 0)[target])
                    correct += int(scores.argmax() == target)
    assert out.terms == [n * (g - k) * g for k in range(1, k_max + 1)]
    torch.testing.assert_close(out.loss, torch.stack(losses).mean(), atol=1e-5, rtol=0)
    assert sum(int(o.correct.sum()) for o in out.per_offset) == correct
    assert math.isclose(float(out.per_offset[0].log_candidates[0, 0].exp()), n * g * g, rel_tol=1e-6)
