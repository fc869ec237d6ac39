"""The CUDA paths, checked on a GPU: ``pytest -m cuda`` (``benchmarks/gpu_check.sh`` runs them).

Each test compares the CUDA result with the CPU's where the two must agree (bf16 autocast, the on-device
renderer, the losses), or trains a few steps there (channels_last, bf16, ``torch.compile``). On a machine
without CUDA every test here skips, saying so; CI has no GPU."""

import pytest
import torch

from cpc_pipeline.data import DigitRenderer
from cpc_pipeline.losses.infonce import grid_info_nce, info_nce
from cpc_pipeline.losses.ntxent import nt_xent
from cpc_pipeline.models import ReferenceEncoderSpec, SimCLRModel
from cpc_pipeline.training.images import knn_predict
from cpc_pipeline.training.loop import TrainerConfig, seed_everything, train
from cpc_pipeline.training.simclr import SimCLRMethod, SimCLRObjective

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]
CUDA = torch.device("cuda")


def bf16():
    return torch.autocast("cuda", dtype=torch.bfloat16)


def test_knn_votes_under_bf16_autocast_equal_the_cpu_ones():
    """scatter_add_ needs the votes and the similarities in one dtype: under autocast they are float32."""
    g = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(500, 32, generator=g), torch.randn(100, 32, generator=g)
    labels = torch.randint(0, 10, (500,), generator=g)
    expected = knn_predict(bank, labels, queries, k=20, temperature=0.1, classes=10)
    with bf16():
        got = knn_predict(bank.to(CUDA), labels.to(CUDA), queries.to(CUDA), k=20, temperature=0.1, classes=10)
    assert got.device.type == "cuda"
    assert (got.cpu() == expected).float().mean() > 0.98  # float32 on both sides; ties may differ in the last bit


def test_infonce_under_bf16_autocast_is_float32_and_close_to_the_cpu_loss():
    g = torch.Generator().manual_seed(0)
    predictions, pool = torch.randn(8, 4, 64, generator=g), torch.randn(40, 64, generator=g)
    target = torch.randint(0, 40, (8, 4), generator=g)
    expected = info_nce(predictions, pool, target).loss
    with bf16():
        got = info_nce(predictions.to(CUDA), pool.to(CUDA), target.to(CUDA)).loss
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.cpu(), expected, rtol=2e-2, atol=2e-2)


def test_grid_infonce_and_ntxent_on_cuda_equal_the_cpu_ones():
    g = torch.Generator().manual_seed(0)
    codes, predictions = torch.randn(4, 16, 5, 5, generator=g), torch.randn(4, 2, 16, 5, 5, generator=g)
    a, b = torch.randn(16, 32, generator=g), torch.randn(16, 32, generator=g)
    torch.testing.assert_close(
        grid_info_nce(codes.to(CUDA), predictions.to(CUDA)).loss.cpu(),
        grid_info_nce(codes, predictions).loss,
        rtol=1e-4,
        atol=1e-4,
    )
    torch.testing.assert_close(nt_xent(a.to(CUDA), b.to(CUDA)).loss.cpu(), nt_xent(a, b).loss, rtol=1e-4, atol=1e-4)


def test_the_renderer_on_cuda_draws_the_cpu_pictures():
    digits = (torch.rand(16, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    grey_cpu, grey_cuda = DigitRenderer(64, color=False), DigitRenderer(64, color=False, device=CUDA)
    torch.testing.assert_close(grey_cuda(digits).cpu(), grey_cpu(digits), rtol=0, atol=1e-5)
    colour = DigitRenderer(64, color=True, device=CUDA)
    torch.testing.assert_close(colour.texture.cpu(), DigitRenderer(64, color=True).texture)
    first = colour(digits, torch.Generator(CUDA).manual_seed(3))
    again = colour(digits, torch.Generator(CUDA).manual_seed(3))
    assert first.device.type == "cuda" and first.shape == (16, 3, 64, 64)
    assert torch.equal(first, again) and first.min() >= -1 and first.max() <= 1


@pytest.mark.parametrize("compile_model", [False, True])
def test_simclr_trains_on_cuda_in_bf16_and_channels_last(compile_model):
    seed_everything(0)
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(512, 28, 28, generator=g) * 255).to(torch.uint8)
    labels = torch.randint(0, 10, (512,), generator=g)
    model = SimCLRModel(ReferenceEncoderSpec(padding=1).build(1, 28), 32)
    objective = SimCLRObjective(images_per_batch=64, images_per_epoch=256, knn_k=5, knn_bank_images=256)
    method = SimCLRMethod(
        model, objective, DigitRenderer(28, color=False, device=CUDA), images, labels, images[:128], labels[:128]
    )
    config = TrainerConfig(
        epochs=2,
        bf16=True,
        channels_last=True,
        compile=compile_model,
        optimizer="sgd",
        learning_rate=0.1,
        checkpoint_path=None,
        progress=False,
    )
    history = train(method, config, CUDA).history
    assert next(model.parameters()).device.type == "cuda"
    assert all(torch.isfinite(torch.tensor([h["train_loss"], h["val_loss"]])).all() for h in history)
    assert 0.0 <= history[-1]["val_knn_accuracy"] <= 1.0
