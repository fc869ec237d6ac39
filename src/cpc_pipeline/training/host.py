"""This process's host settings for training on the CPU: the memory allocator (:func:`reuse_freed_memory`) and
subnormal floats (:func:`flush_subnormals`). Both are per process and set once, at its start.

The allocator, set so that large tensors reuse memory instead of page-faulting it in again.

Why: glibc's ``malloc`` serves every block above its mmap threshold with a fresh ``mmap`` and unmaps it on
``free``. The threshold cannot be raised past 32 MiB on 64-bit Linux, and the activations of a training step
are larger: SimCLR's first feature map is 512 views x 64 channels x 31 x 31 floats, 126 MiB. So every step
asks the kernel for new pages for each of them, and the kernel zeroes every page on its first touch. Measured on
the 2-core CPU (a SimCLR step, 512 views, forward and backward): 0.73 s with glibc's defaults, 0.42 s with
:func:`reuse_freed_memory`; the difference is that page-fault and zeroing work, inside the element-wise kernels.
PyTorch's CPU performance guide gives the same advice in another form: preload jemalloc or TCMalloc. Doing it
with ``mallopt`` needs no library and no ``LD_PRELOAD`` before ``kedro run``.

What it changes: ``M_MMAP_MAX = 0`` serves every block from the heap, and ``M_TRIM_THRESHOLD`` keeps freed
memory there for the next step rather than giving it back at once. Numbers do not change, only where the bytes
live. The process keeps its peak memory until it exits (``benchmarks/end_to_end.py`` records peak RSS per
stage).

Set ``CPC_MALLOC_DEFAULTS=1`` to keep glibc's defaults; other C libraries (macOS, musl) are left alone.

Subnormal floats (below 1.2e-38 in fp32), read and written as zero: x86 cores compute with subnormal operands in
microcode, tens of times slower, and training makes them. Patch CPC's steps slowed from about 0.25 s to about
0.8 s over their first 300 steps on the 2-core CPU, and stayed at 0.25 s flushed (docs/performance.md). A
subnormal is zero to every purpose of training: CPC's weights after two short epochs were bit-identical either
way. The flag lives in each thread's MXCSR register, and a thread copies it from its creator, so it must be set
before the first parallel op creates the intra-op threads: ``torch.set_flush_denormal`` inside a training loop
would reach the calling thread only (measured: half of a two-thread op's output stayed subnormal).
Set ``CPC_KEEP_SUBNORMALS=1`` to keep them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

import numpy as np
import torch

OPT_OUT = "CPC_MALLOC_DEFAULTS"
KEEP_SUBNORMALS = "CPC_KEEP_SUBNORMALS"
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # <malloc.h>
KEEP_FREED = 1 << 30  # bytes at the top of the heap kept for reuse


def reuse_freed_memory() -> bool:
    """Make this process's glibc ``malloc`` keep large blocks in its heap (see the module's docstring).
    True when it did; False on another C library or when ``CPC_MALLOC_DEFAULTS`` is set. Idempotent."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED))


@functools.cache
def _glibc(name: str):
    """glibc's allocator function ``name``, looked up once (``find_library`` starts a subprocess); None on another
    C library (musl has no mallopt), another system, or with ``CPC_MALLOC_DEFAULTS`` set."""
    if os.environ.get(OPT_OUT) or not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Give the heap's free pages back to the kernel (glibc's ``malloc_trim``), where :func:`reuse_freed_memory`
    keeps them: between the nodes of a run, not between the steps of one. Kept, what one node freed stays in this
    process, and the next node's blocks do not always fit in it, so the peaks of a stage's nodes stack: the probing
    stage reached 4.6 GiB of RSS on the 2-core CPU (its feature extractions each left about 1 GiB behind), where its
    largest node needs about 1 GiB above the process's base. True when it trimmed; False where
    :func:`reuse_freed_memory` would do nothing."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


def flush_subnormals() -> bool:
    """Flush subnormal floats to zero in this process (see the module's docstring). True when every intra-op
    thread now does: checked on a subnormal tensor large enough to be split between the threads, so it is False
    when the threads existed before the call (they keep their own setting), on a CPU without the flag, or when
    ``CPC_KEEP_SUBNORMALS`` is set."""
    if os.environ.get(KEEP_SUBNORMALS):
        return False
    # made by numpy, with no torch op (which could start the threads), and before the flag (which would flush it)
    subnormal = torch.from_numpy(np.full(1 << 20, 1e-40, dtype=np.float32))
    return torch.set_flush_denormal(True) and bool(((subnormal * 1.0) == 0).all())
