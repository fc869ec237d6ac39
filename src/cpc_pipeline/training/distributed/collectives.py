"""Collectives of data-parallel training: the autograd-aware gather of codes, BatchNorm over every rank, DDP
wrapping, and the checks that every rank holds the same weights and inputs.

Why gather *with* gradients: under ``DistributedDataParallel`` each rank encodes only its slice of the
batch. If InfoNCE's candidate pool or NT-Xent's similarity matrix were built from the local slice, each
rank would contrast against ``1/W`` of the negatives and the loss would change meaning with the number of
processes ``W``. Gathering every rank's codes restores the single-process loss; gathering them
*detached* (plain ``all_gather``) would also be wrong, because no gradient would reach the encoder
through the other ranks' negatives.

How the gradient comes out exact: every rank computes the same global loss ``L`` from the gathered
tensors (losses stay single-process functions of what they are given). The backward of PyTorch's
autograd-aware ``torch.distributed.nn.functional.all_gather`` sends each rank's slice the gradients that
all ``W`` ranks computed for it, summed: ``W * dL/dslice``; DDP then averages parameter gradients over the
``W`` ranks, which divides by ``W`` again. The result equals one process training on the global batch
(the tests check this to 1e-5 on two gloo processes).

Two things measured here decide how :func:`gather` calls it. On gloo its backward (an all-to-all) sends
each incoming gradient's memory as it lies, so a non-contiguous gradient (InfoNCE's, from the ``einsum``)
reached the wrong rows: the encoder's gradient was off by up to 0.28; :class:`_ContiguousGrad` hands it
a contiguous one. And the replacement its deprecation warning names, the asynchronous
``_functional_collectives.all_gather_single``, aborted a 2-process CPU run with heap corruption
(``malloc(): unaligned tcache chunk``) after a few hundred steps, so the synchronous collective stays.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from cpc_pipeline.errors import UserError
from cpc_pipeline.training.distributed.config import DistributedConfig
from cpc_pipeline.training.distributed.ranks import (
    is_distributed,
    world_size,
)


def data_parallel(model: nn.Module, config: DistributedConfig, device: torch.device) -> nn.Module:
    """``model`` wrapped in ``DistributedDataParallel`` in a launched worker (its BatchNorm layers synchronised
    first when ``config.batchnorm`` is ``sync``; in place, so ``model`` itself trains); ``model`` in one process."""
    if not is_distributed():
        return model
    from torch.nn.parallel import DistributedDataParallel

    if config.batchnorm == "sync" and device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    elif config.batchnorm == "sync":  # SyncBatchNorm's kernels and DDP's support for it are GPU-only
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.__class__ = GlobalBatchNorm  # same parameters and buffers; only forward differs
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """``SyncBatchNorm`` for devices its fused kernels (and DDP's support for it) do not cover, the CPU: the
    global batch's statistics from two autograd-aware all-reduces, so training equals one process on the
    global batch.

    Why it matters: per-rank BatchNorm normalises each process's slice with its own mean and variance, so every
    code carries a trace of the rank that made it, and a step is no longer one process's step on the global
    batch. With the statistics of the whole global batch no rank leaves a trace, and two processes follow one
    process epoch by epoch (``benchmarks/distributed.py``; the test of the loss, gradients and running
    statistics to 1e-5).

    ``mean = sum_r sum(x_r) / n`` then ``var = sum_r sum((x_r - mean)^2) / n`` (two passes, not
    ``E[x^2] - mean^2``, which cancels badly), ``n`` every rank's rows (times the spatial size). The
    backward of ``torch.distributed.nn.functional.all_reduce`` sums each rank's gradient of the statistics,
    which scales them by the same ``W`` as :func:`gather` (see the module docstring). Running statistics are
    updated from the global ones (unbiased variance, as ``BatchNorm``), the same on every rank. Evaluation
    and one process use ``BatchNorm``'s own forward; CUDA uses ``SyncBatchNorm``.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:  # noqa: A002 (torch's name)
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (torch's name)
        if not (self.training and is_distributed()):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        dims, shape = [0, *range(2, input.dim())], [1, -1] + [1] * (input.dim() - 2)
        count = torch.tensor(float(input.numel() // input.size(1)), dtype=torch.float64)
        dist.all_reduce(count)
        n = count.item()
        with warnings.catch_warnings():  # deprecated, but see the module docstring
            warnings.simplefilter("ignore", FutureWarning)
            mean = all_reduce(input.sum(dims)) / n
            centred = input - mean.view(shape)
            var = all_reduce(centred.pow(2).sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
                self.running_var.lerp_((var * n / max(n - 1, 1)).to(self.running_var.dtype), factor)
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        return out * self.weight.view(shape) + self.bias.view(shape) if self.affine else out


class _ContiguousGrad(torch.autograd.Function):
    """Identity forward; makes the gradient contiguous on its way back (see the module docstring)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad.contiguous()


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` concatenated along dim 0 in rank order, keeping the autograd graph.

    All ranks must pass the same shape. Integer tensors (digit labels) are gathered the same way and
    simply carry no gradient.
    """
    if not is_distributed():
        return tensor
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():  # deprecated, but its replacement is not safe on gloo (module docstring)
        warnings.simplefilter("ignore", FutureWarning)
        parts = all_gather(tensor.contiguous())
    return _ContiguousGrad.apply(torch.cat(parts, dim=0))


def check_same_on_every_rank(module: nn.Module) -> None:
    """Raise if any rank's parameters differ from rank 0's (DDP keeps them equal; this proves it)."""
    if not is_distributed():
        return
    mine = torch.cat([p.detach().flatten().float() for p in module.parameters()])
    ranks = [torch.empty_like(mine) for _ in range(world_size())]
    dist.all_gather(ranks, mine)
    differing = [r for r, theirs in enumerate(ranks) if not torch.equal(theirs, ranks[0])]
    if differing:
        raise RuntimeError(f"ranks {differing} ended with parameters different from rank 0's")


def check_same_inputs(*inputs: Any) -> None:
    """Raise if any rank's inputs (arrays, tables, configurations) differ from rank 0's: machines that built
    their data separately must have built the same, or the ranks would train on different tasks."""
    if not is_distributed():
        return
    import hashlib
    import json

    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    for item in inputs:
        if isinstance(item, pd.DataFrame):  # column by column: sequence tables hold arrays in their cells
            for name in item.columns:
                values = item[name].to_numpy()
                digest.update(f"{name}:{len(values)}".encode())
                digest.update(
                    np.ascontiguousarray(np.stack(values)).tobytes()
                    if values.dtype == object
                    else np.ascontiguousarray(values).tobytes()
                )
        elif isinstance(item, (np.ndarray, torch.Tensor)):
            digest.update(np.ascontiguousarray(np.asarray(item)).tobytes())
        else:  # configurations: as JSON with sorted keys (a pickle's sets would differ between processes)
            plain = item.model_dump(mode="json") if hasattr(item, "model_dump") else item
            digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    fingerprints: list[str | None] = [None] * world_size()
    dist.all_gather_object(fingerprints, digest.hexdigest())
    differing = [r for r, theirs in enumerate(fingerprints) if theirs != fingerprints[0]]
    if differing:
        raise UserError(
            f"ranks {differing} were given inputs different from rank 0's: every machine must have the "
            "same data (run data_processing with the same configuration on each, or share data/) and "
            "the same parameters"
        )


def broadcast_buffers(module: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank, so that evaluation agrees everywhere."""
    if is_distributed():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)
