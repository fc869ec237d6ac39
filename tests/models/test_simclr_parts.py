import math

import pytest
import torch

from cpc_pipeline.losses import nt_xent
from cpc_pipeline.models.resnet import ResNetEncoder, SimCLRModel


def naive_nt_xent(a, b, tau):
    z = torch.nn.functional.normalize(torch.cat([a, b]).double(), dim=1)
    n2, total = len(z), 0.0
    for i in range(n2):
        pos = (i + n2 // 2) % n2
        num = math.exp(float(z[i] @ z[pos]) / tau)
        den = sum(math.exp(float(z[i] @ z[j]) / tau) for j in range(n2) if j != i)
        total += -math.log(num / den)
    return total / n2


def test_nt_xent_matches_a_naive_loop():
    torch.manual_seed(0)
    a, b = torch.randn(6, 16), torch.randn(6, 16)
    for tau in (0.1, 0.5, 1.0):
        assert float(nt_xent(a, b, tau).loss) == pytest.approx(naive_nt_xent(a, b, tau), rel=1e-5)


def test_nt_xent_extremes_and_bf16():
    a = torch.randn(32, 8)
    out = nt_xent(a, a + 1e-3 * torch.randn(32, 8), 0.1)
    assert out.correct.all() and float(out.loss) < 0.5  # identical views: each finds its partner
    same = torch.ones(32, 8)
    assert float(nt_xent(same, same, 0.5).loss) == pytest.approx(math.log(63), rel=1e-5)  # all tied: log(2N - 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = nt_xent(a.bfloat16(), a.bfloat16(), 0.05).loss
    assert low.dtype == torch.float32 and torch.isfinite(low)
    b = a + 0.1 * torch.randn(32, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # float32 views: the similarities stay float32
        cast = nt_xent(a, b, 0.1).loss
    torch.testing.assert_close(cast, nt_xent(a, b, 0.1).loss)


def test_resnet_encoder_shapes_with_the_cifar_stem():
    enc = ResNetEncoder("resnet18", in_channels=3, cifar_stem=True)
    assert enc.net.conv1.stride == (1, 1) and isinstance(enc.net.maxpool, torch.nn.Identity)
    model = SimCLRModel(enc, 128)
    x = torch.randn(2, 3, 32, 32)
    assert enc(x).shape == (2, 512) and model(x).shape == (2, 128)
    assert ResNetEncoder("resnet18", in_channels=1)(torch.randn(2, 1, 28, 28)).shape == (2, 512)
