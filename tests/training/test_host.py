"""The allocator setting: large tensors come from the heap, and the opt-out leaves glibc alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys, torch
from cpc_pipeline.training.host import reuse_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def mapped_while_holding(nbytes):
    t = torch.empty(nbytes, dtype=torch.uint8)
    t.fill_(1)
    return libc.mallinfo2().hblkhd

big = 64 << 20
before = mapped_while_holding(big)
done = reuse_freed_memory()
after = mapped_while_holding(big)
print(done, before >= big, after >= big)
"""


def probe(**env) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_large_tensors_are_served_from_the_heap_once_set():
    assert probe() == ["True", "True", "False"]  # mmap'd before, from the heap after


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_the_opt_out_keeps_glibcs_defaults():
    assert probe(CPC_MALLOC_DEFAULTS="1") == ["False", "True", "True"]
