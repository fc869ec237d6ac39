"""``trainer.distributed``: how many processes train together, and their rendezvous."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from cpc_pipeline.config import StrictModel


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
            raise ValueError(
                "rdzv_endpoint needs a fixed port when nnodes > 1: every machine must meet at the "
                "same host:port (for example 10.0.0.1:29400)"
            )
        return self

    @property
    def enabled(self) -> bool:
        return self.nproc_per_node * self.nnodes > 1

    def backend_for(self, device: torch.device) -> str:
        return ("nccl" if device.type == "cuda" else "gloo") if self.backend == "auto" else self.backend
