"""The host's memory allocator, set so that large tensors reuse memory instead of page-faulting it in again.

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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

OPT_OUT = "CPC_MALLOC_DEFAULTS"
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # <malloc.h>
KEEP_FREED = 1 << 30  # bytes at the top of the heap kept for reuse


def reuse_freed_memory() -> bool:
    """Make this process's glibc ``malloc`` keep large blocks in its heap (see the module's docstring).
    True when it did; False on another C library or when ``CPC_MALLOC_DEFAULTS`` is set. Idempotent."""
    if os.environ.get(OPT_OUT) or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # no glibc (musl has no mallopt)
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED))
