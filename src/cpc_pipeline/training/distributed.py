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
from pydantic import Field, model_validator
from torch import nn

from cpc_pipeline.config import StrictModel
from cpc_pipeline.errors import UserError
from cpc_pipeline.training.host import flush_subnormals, reuse_freed_memory

T = TypeVar("T")


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """This process's index on its machine (0 for the first; the one that writes the machine's checkpoint)."""
    return int(os.environ.get("LOCAL_RANK", 0)) if is_distributed() else 0


def shared_generator(generator: torch.Generator, own_stream: bool = True) -> torch.Generator:
    """A generator that draws the same on every rank, seeded from rank 0's fresh ``generator``: for what the
    ranks must agree on (how an epoch's images are split between them). ``own_stream``: a stream apart from
    rank 0's, which rank 0 keeps drawing its own randomness from; otherwise rank 0's stream itself, for a
    draw that is all there is (rank 0, and so every rank, draws exactly what one process would). In one
    process, ``generator`` itself, so a single process draws exactly as it would without it."""
    if not is_distributed():
        return generator
    seed = [generator.initial_seed()]
    dist.broadcast_object_list(seed, src=0)
    return torch.Generator(device=generator.device).manual_seed(seed[0] ^ (1 << 62) if own_stream else seed[0])


def shard(step: int, size: int) -> slice:
    """This rank's ``size`` items of an epoch's shared order at ``step``: ranks take consecutive blocks, so
    step ``i`` of ``W`` ranks covers what steps ``i*W .. i*W+W-1`` of one process would."""
    start = (step * world_size() + rank()) * size
    return slice(start, start + size)


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


def global_index(local_index: torch.Tensor, local_size: int) -> torch.Tensor:
    """Indices into this rank's ``local_size`` rows, as indices into the gathered rows (rank-major)."""
    return local_index + rank() * local_size


# ------------------------------------------------------------------ launching
class DistributedConfig(StrictModel):
    """``trainer.distributed``: how many processes train together. The default is one process, as without it.

    Processes are started by torch's elastic launcher (the API ``torchrun`` wraps) from inside the Kedro node,
    ``nproc_per_node`` on each of ``nnodes`` machines; they meet at ``rdzv_endpoint`` (c10d rendezvous: port 0
    picks a free one on this machine, for one machine only) under the name ``rdzv_id``, and use ``nccl`` on
    CUDA, ``gloo`` on the CPU (``backend: auto``). ``batchnorm``: ``sync`` (the default) normalises over the
    global batch, so N processes train what one process would on their global batch (PyTorch's
    ``SyncBatchNorm`` on CUDA, :class:`GlobalBatchNorm` elsewhere); ``per_rank`` normalises each process's own
    batch: no collective per BatchNorm layer, but each rank's statistics mark its codes (see
    :class:`GlobalBatchNorm`).
    """

    nproc_per_node: int = Field(1, ge=1, le=1024)
    nnodes: int = Field(1, ge=1, le=1024)
    rdzv_endpoint: str = Field("127.0.0.1:0", pattern=r"^[^:\s]+:\d+$")  # host:port; port 0: a free one here
    rdzv_id: str = Field("cpc-pipeline", pattern=r"^[A-Za-z0-9_.-]+$")  # the same on every machine of one run
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    batchnorm: Literal["sync", "per_rank"] = "sync"
    timeout_s: int = Field(300, ge=1)  # rendezvous and every collective: a missing rank fails the run, no hang

    @model_validator(mode="after")
    def _reachable(self) -> DistributedConfig:
        if self.nnodes > 1 and self.rdzv_endpoint.endswith(":0"):
            raise ValueError("rdzv_endpoint needs a fixed port when nnodes > 1: every machine must meet at the "
                             "same host:port (for example 10.0.0.1:29400)")
        return self

    @property
    def enabled(self) -> bool:
        return self.nproc_per_node * self.nnodes > 1

    def backend_for(self, device: torch.device) -> str:
        return ("nccl" if device.type == "cuda" else "gloo") if self.backend == "auto" else self.backend


def launch(config: DistributedConfig, entrypoint: Callable[..., T], *args: Any) -> T:
    """Run ``entrypoint(*args)`` in this machine's ``config.nproc_per_node`` processes (which meet those of
    the other ``nnodes - 1`` machines) and return the result of this machine's first process.

    ``entrypoint`` must be a module-level function (the workers are spawned, not forked) that calls
    :func:`init_worker` first. A worker that fails ends the run with one error naming its rank and its
    message (the launcher logs the traceback); a rendezvous that does not complete within ``timeout_s``
    (a machine that never joins, an endpoint nobody answers) ends it with one error naming the endpoint.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    host, port = config.rdzv_endpoint.rsplit(":", 1)
    endpoint = f"{host}:{free_port(host) if port == '0' else port}"
    launch_config = LaunchConfig(
        min_nodes=config.nnodes, max_nodes=config.nnodes, nproc_per_node=config.nproc_per_node,
        run_id=config.rdzv_id, rdzv_backend="c10d", rdzv_endpoint=endpoint,
        rdzv_configs={"join_timeout": config.timeout_s, "read_timeout": config.timeout_s},
        max_restarts=0, monitor_interval=0.5, start_method="spawn",
    )
    processes = config.nproc_per_node * config.nnodes
    try:
        results = elastic_launch(launch_config, entrypoint)(*args)
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        message = failure.message if isinstance(failure.message, str) else failure.message.get("message", "")
        reason = _first_line(message) or f"exit code {failure.exitcode}"
        raise RuntimeError(f"distributed training failed in rank {rank} of {processes}: {reason}") from err
    except RendezvousError as err:
        raise RuntimeError(
            f"the rendezvous at {endpoint} (run {config.rdzv_id!r}) did not gather {config.nnodes} machine(s) within "
            f"trainer.distributed.timeout_s={config.timeout_s} s ({': '.join(filter(None, (type(err).__name__, _first_line(str(err)))))}). "
            "Start the other machines with the same rdzv_endpoint, rdzv_id and nnodes, and check that this host "
            "and port can be reached from each of them"
        ) from err
    return next(result for result in results.values() if result is not None)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def run(fit: Callable[..., tuple[nn.Module, list[dict[str, float]]]], config: DistributedConfig, *args: Any,
        on_epoch_end: Callable[[int, dict[str, float]], None] | None = None) -> tuple[nn.Module, list[dict[str, float]]]:
    """``fit(*args, on_epoch_end=...) -> (model, history)`` in this process, or in ``config``'s processes.

    In several processes ``fit`` runs in each (it joins the process group through :func:`init_worker`) and
    this machine's first process hands back its model and history; ``on_epoch_end`` then sees each epoch once
    training has ended (the workers cannot reach this process's MLflow run). Every rank ends with the same
    weights and history (DDP, global metrics), so which machine collects them does not matter.
    """
    if not config.enabled:
        return fit(*args, on_epoch_end=on_epoch_end)
    model, history = launch(config, _fit_in_worker, fit, *args)
    for row in history if on_epoch_end is not None else ():
        on_epoch_end(int(row["epoch"]), row)
    return model, history


def _fit_in_worker(fit: Callable[..., T], *args: Any) -> T | None:
    try:
        result = fit(*args)
        return result if local_rank() == 0 else None  # one copy per machine crosses back
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


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
                digest.update(np.ascontiguousarray(np.stack(values)).tobytes() if values.dtype == object
                              else np.ascontiguousarray(values).tobytes())
        elif isinstance(item, (np.ndarray, torch.Tensor)):
            digest.update(np.ascontiguousarray(np.asarray(item)).tobytes())
        else:  # configurations: as JSON with sorted keys (a pickle's sets would differ between processes)
            plain = item.model_dump(mode="json") if hasattr(item, "model_dump") else item
            digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    fingerprints: list[str | None] = [None] * world_size()
    dist.all_gather_object(fingerprints, digest.hexdigest())
    differing = [r for r, theirs in enumerate(fingerprints) if theirs != fingerprints[0]]
    if differing:
        raise UserError(f"ranks {differing} were given inputs different from rank 0's: every machine must have the "
                        "same data (run data_processing with the same configuration on each, or share data/) and "
                        "the same parameters")


def init_worker(config: DistributedConfig, device: torch.device) -> torch.device:
    """Join the process group from inside a launched worker; returns this rank's device. On the CPU the
    cores are shared out between the processes (``trainer.num_threads`` overrides). Its allocator and subnormal
    floats are set as the launching process's are (:mod:`cpc_pipeline.training.host`)."""
    reuse_freed_memory()
    flush_subnormals()
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
