"""NT-Xent, SimCLR's loss (Chen et al., 2020, eq. 1), over one similarity matrix.

For a batch of N images, two augmented views give 2N embeddings ``z``, L2-normalised. With
``sim = z z^T / tau`` and the diagonal (a view with itself) masked out, the positive of row ``i`` is the
other view of the same image, ``i +- N``::

    L = - 1/(2N) sum_i log( exp(sim[i, pos(i)]) / sum_{j != i} exp(sim[i, j]) )

i.e. cross-entropy over the 2N - 1 candidates of each row; chance accuracy is 1/(2N - 1) and, as for
InfoNCE, log(2N - 1) - L is a lower bound on the views' mutual information. Computed in float32 even
under bf16 autocast (:func:`~cpc_pipeline.losses.precision.float32_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cpc_pipeline.losses.precision import float32_scores


@dataclass
class NTXentOutput:
    loss: torch.Tensor  # scalar
    correct: torch.Tensor  # (2N,) bool: the other view is the most similar candidate


def nt_xent(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float = 0.5) -> NTXentOutput:
    """``view_a``, ``view_b``: ``(N, D)`` projections of the two views of the same N images."""
    if view_a.shape != view_b.shape or view_a.ndim != 2 or len(view_a) < 2:
        raise ValueError(f"views must both be (N >= 2, D), got {tuple(view_a.shape)} and {tuple(view_b.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = len(view_a)
    z = F.normalize(torch.cat([view_a, view_b]).float(), dim=1)
    with float32_scores(z):
        sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    loss = F.cross_entropy(sim, positive)
    return NTXentOutput(loss, sim.argmax(1) == positive)
