"""Data-parallel training across processes (``trainer.distributed``): its configuration, rank helpers, the
collectives (gather with gradients, BatchNorm over every rank) and the launcher. Methods call these through
this package (``distributed.gather``, ``distributed.run``); in one process every helper is the identity.
"""

from cpc_pipeline.training.distributed.config import DistributedConfig
from cpc_pipeline.training.distributed.ranks import (
    is_distributed,
    rank,
    world_size,
    local_rank,
    shared_generator,
    shard,
    global_index,
)
from cpc_pipeline.training.distributed.collectives import (
    data_parallel,
    GlobalBatchNorm,
    gather,
    broadcast_buffers,
    check_same_on_every_rank,
    check_same_inputs,
)
from cpc_pipeline.training.distributed.launch import DistributedError, launch, run, init_worker, free_port

__all__ = [
    "DistributedConfig",
    "is_distributed",
    "rank",
    "world_size",
    "local_rank",
    "shared_generator",
    "shard",
    "global_index",
    "data_parallel",
    "GlobalBatchNorm",
    "gather",
    "broadcast_buffers",
    "check_same_on_every_rank",
    "check_same_inputs",
    "DistributedError",
    "launch",
    "run",
    "init_worker",
    "free_port",
]
