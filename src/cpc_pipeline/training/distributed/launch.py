"""Launching workers (torch.distributed's elastic launcher) and joining the process group from inside one."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from cpc_pipeline.errors import UserError
from cpc_pipeline.training.distributed.config import DistributedConfig
from cpc_pipeline.training.distributed.ranks import local_rank
from cpc_pipeline.training.host import flush_subnormals, reuse_freed_memory

T = TypeVar("T")


class DistributedError(UserError):
    """A launched run that failed: a worker raised or was killed, or the machines never met."""


def launch(config: DistributedConfig, entrypoint: Callable[..., T], *args: Any) -> T:
    """Run ``entrypoint(*args)`` in this machine's ``config.nproc_per_node`` processes (which meet those of
    the other ``nnodes - 1`` machines) and return the result of this machine's first process.

    ``entrypoint`` must be a module-level function (the workers are spawned, not forked) that calls
    :func:`init_worker` first. A worker that fails ends the run with one :class:`DistributedError`, its first
    line naming the rank and its error or signal, the worker's traceback after it; a rendezvous that does not
    complete within ``timeout_s`` (a machine that never joins, an endpoint nobody answers) ends it with one error
    naming the endpoint.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    host, port = config.rdzv_endpoint.rsplit(":", 1)
    endpoint = f"{host}:{free_port(host) if port == '0' else port}"
    launch_config = LaunchConfig(
        min_nodes=config.nnodes,
        max_nodes=config.nnodes,
        nproc_per_node=config.nproc_per_node,
        run_id=config.rdzv_id,
        rdzv_backend="c10d",
        rdzv_endpoint=endpoint,
        rdzv_configs={"join_timeout": config.timeout_s, "read_timeout": config.timeout_s},
        max_restarts=0,
        monitor_interval=0.5,
        start_method="spawn",
    )
    processes = config.nproc_per_node * config.nnodes
    try:
        with _quiet_launcher():
            results = elastic_launch(launch_config, entrypoint)(*args)
    except ChildFailedError as err:
        raise DistributedError(failure_report(*err.get_first_failure(), processes)) from err
    except RendezvousError as err:
        raise DistributedError(
            f"the rendezvous at {endpoint} (run {config.rdzv_id!r}) did not gather {config.nnodes} machine(s) within "
            f"trainer.distributed.timeout_s={config.timeout_s} s "
            f"({': '.join(filter(None, (type(err).__name__, _first_line(str(err)))))}). "
            "Start the other machines with the same rdzv_endpoint, rdzv_id and nnodes, and check that this host "
            "and port can be reached from each of them"
        ) from err
    return next(result for result in results.values() if result is not None)


# The launcher logs each failure as a paragraph (and its SIGTERM to the other workers) before it raises: the
# report below says it first, in one line, with the paragraph's details after it.
LAUNCHER_LOGGERS = ("torch.distributed.elastic", "torch.multiprocessing")
SIGNAL_HINTS = {
    "SIGKILL": "killed from outside, most often by the kernel's out-of-memory killer (dmesg says): fewer images per "
    "batch or fewer processes",
    "SIGTERM": "stopped from outside (a scheduler, a time limit, or kill)",
    "SIGINT": "interrupted (Ctrl-C)",
    "SIGSEGV": "crashed inside native code (a driver, a library build)",
}


@contextlib.contextmanager
def _quiet_launcher():
    loggers = [logging.getLogger(name) for name in LAUNCHER_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def failure_report(rank: int, failure, processes: int) -> str:
    """One line naming the rank and what ended it (its signal, or its error's last line), then the details: the
    worker's traceback, or its pid and exit code."""
    raised = failure.message if isinstance(failure.message, dict) else {"message": failure.message}
    message = raised.get("message") or ""
    if failure.exitcode < 0:
        name = failure.signal_name()
        hint = SIGNAL_HINTS.get(name, "ended by a signal")
        head = f"distributed training lost rank {rank} of {processes}: signal {-failure.exitcode} ({name}), {hint}"
        details = f"rank {rank} (pid {failure.pid}) exited with code {failure.exitcode}: {message}"
    else:
        reason = _first_line(message) or f"exit code {failure.exitcode}"
        head = f"distributed training failed in rank {rank} of {processes}: {reason}"
        details = raised.get("extraInfo", {}).get("py_callstack") or f"rank {rank} (pid {failure.pid}): {message}"
    return f"{head}\nDetails:\n{details}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def run(
    fit: Callable[..., tuple[nn.Module, list[dict[str, float]]]],
    config: DistributedConfig,
    *args: Any,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
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


def worker_logging() -> None:
    """The project's log lines in a spawned worker, which inherits none of the launching process's logging: rank 0's
    INFO lines (an epoch line each) and every rank's warnings, on stderr, prefixed with the rank."""
    global_rank = int(os.environ.get("RANK", 0))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[rank {global_rank}] %(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    project = logging.getLogger("cpc_pipeline")
    project.handlers = [handler]
    project.setLevel(logging.INFO if global_rank == 0 else logging.WARNING)
    project.propagate = False


def _fit_in_worker(fit: Callable[..., T], *args: Any) -> T | None:
    worker_logging()
    try:
        result = fit(*args)
        return result if local_rank() == 0 else None  # one copy per machine crosses back
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


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
