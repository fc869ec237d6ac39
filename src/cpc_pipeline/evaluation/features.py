"""A frozen encoder as a feature extractor: ``eval()``, no gradients, parameters AND buffers unchanged."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import torch
from torch import nn

from cpc_pipeline.data.pictures import Pictures


def freeze(encoder: nn.Module) -> nn.Module:
    """``encoder`` in eval mode (BatchNorm uses its running statistics) with no trainable parameter.

    The module is changed in place and returned. Nothing run afterwards through :func:`extract_features`
    can alter it: eval mode stops BatchNorm's running statistics from moving (the reference's probe let
    them move, which inflated its figure), and ``requires_grad=False`` keeps optimisers off its weights.
    """
    encoder.eval()
    for p in encoder.parameters():
        p.requires_grad_(False)
    return encoder


@torch.no_grad()
def estimate_batchnorm_statistics(encoder: nn.Module, pictures: Iterable[torch.Tensor]) -> nn.Module:
    """Set every BatchNorm layer's running mean and variance to their averages over the batches of
    ``pictures`` (unlabelled, e.g. :func:`picture_batches`; no gradient, no weight changes), in place.

    A freshly built encoder's running statistics are mean 0 and variance 1, which no input has: frozen
    like that, a random-init baseline measures a mis-scaled network rather than what the architecture
    alone gives. Each layer's statistics are the cumulative average over all batches (``momentum=None``),
    taken in train mode as in training; the encoder is returned in eval mode.
    """
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return encoder.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts alike
    encoder.train()
    for batch in pictures:
        encoder(batch)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return encoder.eval()


def state_fingerprint(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter and buffer, to prove later that nothing moved."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@torch.inference_mode()
def extract_features(
    encoder: nn.Module,
    images: np.ndarray | torch.Tensor,
    to_pictures: Pictures,
    seed: int,
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    channels_last: bool = True,
) -> np.ndarray:
    """Turn stored ``images`` into pictures once, as in pretraining, and encode them: ``(N, D)`` float32.

    ``to_pictures`` is the digit renderer (its background crops and colour shifts drawn from ``seed``, so
    the same split always gets the same pictures) or a plain conversion for colour images
    (:func:`cpc_pipeline.data.pictures.pictures_for`). The encoder must already be frozen.

    ``channels_last`` runs the convolutions with the channels innermost, in place for the encoder's conv
    weights (their layout, not their values): on the CPU this is about twice as fast for the reference encoder
    (both weights and pictures must be in that layout), and the features differ from the contiguous layout's
    in the last bits only (~1e-7 relative), as any change of summation order does.
    """
    if encoder.training or any(p.requires_grad for p in encoder.parameters()):
        raise ValueError("extract_features needs a frozen encoder: call freeze(encoder) first")
    layout = torch.channels_last if channels_last else torch.contiguous_format
    encoder.to(memory_format=layout)
    out = [
        encoder(pictures.contiguous(memory_format=layout)).float().cpu()
        for pictures in picture_batches(images, to_pictures, seed, batch_size, device)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def picture_batches(
    images: np.ndarray | torch.Tensor, to_pictures: Pictures, seed: int, batch_size: int, device: torch.device | str
) -> Iterator[torch.Tensor]:
    """``images`` turned into pictures on ``device``, ``batch_size`` at a time, every random draw from one
    generator seeded with ``seed``: the same images and seed always give the same pictures."""
    device = torch.device(device)
    images = torch.as_tensor(images)
    generator = torch.Generator(device=device).manual_seed(seed)
    for start in range(0, len(images), batch_size):
        yield to_pictures(images[start : start + batch_size].to(device), generator)
