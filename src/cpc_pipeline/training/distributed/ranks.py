"""Where this process stands in a distributed run: its rank, the world size, its share of a step."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


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


def global_index(local_index: torch.Tensor, local_size: int) -> torch.Tensor:
    """Indices into this rank's ``local_size`` rows, as indices into the gathered rows (rank-major)."""
    return local_index + rank() * local_size
