"""The host settings: large tensors come from the heap, subnormal floats are flushed on every thread, and the
opt-outs leave both alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys, torch
from cpc_pipeline.training.host import reuse_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [
        (f, ctypes.c_size_t)
        for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                  "keepcost")
    ]

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
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return out.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_large_tensors_are_served_from_the_heap_once_set():
    assert probe() == ["True", "True", "False"]  # mmap'd before, from the heap after


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_the_opt_out_keeps_glibcs_defaults():
    assert probe(CPC_MALLOC_DEFAULTS="1") == ["False", "True", "True"]


SUBNORMALS = """
import sys, numpy as np, torch
from cpc_pipeline.training.host import flush_subnormals

if sys.argv[1] == "threads_first":
    torch.full((1 << 22,), 2.0).mul_(3)  # a parallel op: the intra-op threads exist before the flag
x = torch.from_numpy(np.full(1 << 22, 1e-40, dtype=np.float32))  # subnormal, split between the threads below
done = flush_subnormals()
print(done, float(((x * 1.0) == 0).float().mean()))
"""


def subnormals(case: str, **env) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SUBNORMALS, case],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "2", **env},
        check=True,
    )
    return out.stdout.split()


def test_subnormal_floats_are_flushed_on_every_thread_when_set_first():
    assert subnormals("fresh") == ["True", "1.0"]  # every thread's share of the product is 0


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs an intra-op thread besides the main one")
def test_flushing_after_the_threads_exist_is_reported_as_incomplete():
    done, flushed = subnormals("threads_first")
    assert done == "False" and float(flushed) < 1.0  # the worker thread kept its own setting


def test_the_opt_out_keeps_subnormal_floats():
    assert subnormals("fresh", CPC_KEEP_SUBNORMALS="1") == ["False", "0.0"]


RELEASE = """
import os, torch
from cpc_pipeline.training.host import release_freed_memory, reuse_freed_memory

def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

reuse_freed_memory()
t = torch.empty(256 << 20, dtype=torch.uint8)
t.fill_(1)  # resident
held = rss_mib()
del t
kept = rss_mib()  # freed, but kept in the heap for the next step's blocks
released = release_freed_memory()
print(released, round(held - kept), round(kept - rss_mib()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_kept_for_reuse_goes_back_to_the_kernel_between_nodes():
    out = subprocess.run([sys.executable, "-c", RELEASE], capture_output=True, text=True, check=True).stdout.split()
    released, dropped_on_free, dropped_on_release = out[0], float(out[1]), float(out[2])
    assert released == "True"
    assert dropped_on_free < 16  # reuse_freed_memory keeps it ...
    assert dropped_on_release > 240  # ... until it is released


def test_the_host_hook_releases_freed_memory_after_every_node(monkeypatch):
    from cpc_pipeline.hooks import host_settings

    calls = []
    monkeypatch.setattr(host_settings, "release_freed_memory", lambda: calls.append(1) or True)
    host_settings.HostSettingsHook().after_node_run(node=None)
    assert calls == [1]
