import math

import pytest
import torch
import torch.nn.functional as F

from cpc_pipeline.losses import binary_sequence_loss, info_nce


def naive_info_nce(pred, pool, target, digits, negatives):
    """One sample at a time, straight from the formula."""
    losses, correct = [], []
    for s in range(pred.shape[0]):
        for k in range(pred.shape[1]):
            t = int(target[s, k])
            cands = [p for p in range(pool.shape[0]) if negatives == "batch" or p == t or digits[p] != digits[t]]
            scores = torch.stack([pred[s, k] @ pool[p] for p in cands])
            pos = cands.index(t)
            losses.append(-(scores[pos] - torch.logsumexp(scores, 0)))
            correct.append(int(scores.argmax()) == pos)
    return torch.stack(losses).mean(), torch.tensor(correct).view(pred.shape[:2])


@pytest.mark.parametrize("negatives", ["batch", "different_digit"])
def test_info_nce_matches_a_naive_loop(negatives):
    g = torch.Generator().manual_seed(0)
    pred, pool = torch.randn(6, 3, 8, generator=g), torch.randn(20, 8, generator=g)
    target = torch.randint(0, 20, (6, 3), generator=g)
    digits = torch.randint(0, 10, (20,), generator=g)
    out = info_nce(pred, pool, target, digits, negatives)
    loss, correct = naive_info_nce(pred, pool, target, digits, negatives)
    torch.testing.assert_close(out.loss, loss)
    assert torch.equal(out.correct, correct)


def test_info_nce_at_initialisation_is_near_log_n():
    g = torch.Generator().manual_seed(1)
    n = 256
    pred, pool = 1e-3 * torch.randn(32, 4, 128, generator=g), torch.randn(n, 128, generator=g)
    out = info_nce(pred, pool, torch.randint(0, n, (32, 4), generator=g))
    assert out.loss.item() == pytest.approx(math.log(n), abs=0.01)
    torch.testing.assert_close(out.log_candidates, torch.full((32, 4), math.log(n)))


def test_different_digit_masks_exactly_the_false_negatives():
    pool = torch.eye(4)
    digits = torch.tensor([0, 0, 1, 2])
    out = info_nce(torch.eye(4)[None, :1] * 5, pool, torch.tensor([[0]]), digits, "different_digit")
    assert torch.isinf(out.logits[0, 0, 1]) and torch.isfinite(out.logits[0, 0, [0, 2, 3]]).all()
    assert out.log_candidates.item() == pytest.approx(math.log(3))


def test_info_nce_is_float32_and_finite_under_bf16_autocast():
    g = torch.Generator().manual_seed(2)
    pred = (30 * torch.randn(8, 4, 64, generator=g)).bfloat16()
    pool = (30 * torch.randn(512, 64, generator=g)).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = info_nce(pred, pool, torch.randint(0, 512, (8, 4), generator=g))
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)


def test_info_nce_scores_are_computed_in_float32_under_autocast():
    """``.float()`` inputs are not enough: autocast runs the einsum in bf16 unless it is turned off."""
    g = torch.Generator().manual_seed(3)
    pred, pool = torch.randn(8, 4, 64, generator=g), torch.randn(512, 64, generator=g)
    target = torch.randint(0, 512, (8, 4), generator=g)
    plain = info_nce(pred, pool, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = info_nce(pred, pool, target)
    assert cast.logits.dtype == torch.float32
    torch.testing.assert_close(cast.logits, plain.logits)  # bf16 scores would be off by ~1e-2
    torch.testing.assert_close(cast.loss, plain.loss)


def test_binary_loss_by_hand():
    pred = torch.tensor([[[1.0, 2.0], [3.0, 0.0]], [[1.0, -1.0], [0.0, -2.0]]])  # (2, 2, 2)
    fut = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [2.0, 2.0]]])
    labels = torch.tensor([1, 0])
    # scores: mean of [1, 2, 3, 0] = 1.5 ; mean of [1, -1, 0, -4] = -1
    expected = -(math.log(1 / (1 + math.exp(-1.5))) + math.log(1 - 1 / (1 + math.exp(1.0)))) / 2
    out = binary_sequence_loss(pred, fut, labels)
    assert out.loss.item() == pytest.approx(expected, rel=1e-6)
    torch.testing.assert_close(out.scores, torch.tensor([1.5, -1.0]))
    assert out.correct.tolist() == [True, True]


def test_binary_loss_is_safe_for_huge_scores_in_bf16():
    pred = torch.full((2, 4, 8), 100.0).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = binary_sequence_loss(pred, pred, torch.tensor([1, 0]))
    assert torch.isfinite(out.loss)
    assert out.loss.item() == pytest.approx(F.softplus(torch.tensor(10_000.0)).item() / 2, rel=1e-3)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="predictions must be"):
        info_nce(torch.zeros(2, 8), torch.zeros(4, 8), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="negatives must be one of"):
        info_nce(torch.zeros(2, 1, 8), torch.zeros(4, 8), torch.zeros(2, 1, dtype=torch.long), negatives="x")
