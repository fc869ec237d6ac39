"""Data-parallel training across processes: rank helpers and the autograd-aware gather of codes.

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

import os
import socket
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

import torch
import torch.distributed as dist
from pydantic import Field
from torch import nn

from cpc_pipeline.config import StrictModel

T = TypeVar("T")


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


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


def global_index(local_index: torch.Tensor, local_size: int) -> torch.Tensor:
    """Indices into this rank's ``local_size`` rows, as indices into the gathered rows (rank-major)."""
    return local_index + rank() * local_size


# ------------------------------------------------------------------ launching
class DistributedConfig(StrictModel):
    """``trainer.distributed``: how many processes train together. The default is one process, as without it.

    Processes are started by torch's elastic launcher (the API ``torchrun`` wraps) from inside the Kedro node;
    they meet at ``rdzv_endpoint`` (c10d rendezvous, a free port on this machine) and use ``nccl`` on CUDA,
    ``gloo`` on the CPU (``backend: auto``).
    """

    nproc_per_node: int = Field(1, ge=1, le=1024)
    rdzv_endpoint: str = Field("127.0.0.1:0", pattern=r"^[^:\s]+:\d+$")  # port 0: pick a free one
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    timeout_s: int = Field(300, ge=1)  # a rank that does not answer within this fails the run, no hang

    @property
    def enabled(self) -> bool:
        return self.nproc_per_node > 1

    def backend_for(self, device: torch.device) -> str:
        return ("nccl" if device.type == "cuda" else "gloo") if self.backend == "auto" else self.backend


def launch(config: DistributedConfig, entrypoint: Callable[..., T], *args: Any) -> T:
    """Run ``entrypoint(*args)`` in ``config.nproc_per_node`` processes and return rank 0's result.

    ``entrypoint`` must be a module-level function (the workers are spawned, not forked) that calls
    :func:`init_worker` first. A worker that fails ends the run with one error naming its rank and its
    message (the launcher logs the traceback).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    host, port = config.rdzv_endpoint.rsplit(":", 1)
    launch_config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=config.nproc_per_node, run_id=f"cpc-{os.getpid()}",
        rdzv_backend="c10d", rdzv_endpoint=f"{host}:{free_port(host) if port == '0' else port}",
        rdzv_timeout=config.timeout_s, max_restarts=0, monitor_interval=0.5, start_method="spawn",
    )
    try:
        return elastic_launch(launch_config, entrypoint)(*args)[0]
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        message = failure.message if isinstance(failure.message, str) else failure.message.get("message", "")
        reason = message.strip().splitlines()[0] if message.strip() else f"exit code {failure.exitcode}"
        raise RuntimeError(f"distributed training failed in rank {rank} of {config.nproc_per_node}: {reason}") from err


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


def init_worker(config: DistributedConfig, device: torch.device) -> torch.device:
    """Join the process group from inside a launched worker; returns this rank's device. On the CPU the
    cores are shared out between the processes (``trainer.num_threads`` overrides)."""
    if device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.nproc_per_node))
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group(config.backend_for(device), timeout=timedelta(seconds=config.timeout_s))
    return device


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def broadcast_buffers(module: nn.Module) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank, so that evaluation agrees everywhere."""
    if is_distributed():
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)
