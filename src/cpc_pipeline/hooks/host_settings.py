"""This process's allocator and subnormal-float settings, before the first node and after each."""

from __future__ import annotations

import logging
import os
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from cpc_pipeline.training.host import KEEP_SUBNORMALS, flush_subnormals, release_freed_memory, reuse_freed_memory

logger = logging.getLogger(__name__)


class HostSettingsHook:
    """Sets this process's allocator and subnormal floats before the first node (:mod:`cpc_pipeline.training.host`).

    Why a hook: both settings are per process and must precede the training and extraction nodes, whichever
    pipeline runs, and flushing subnormals reaches the intra-op threads only when it comes before the first
    parallel op creates them; launched distributed workers set both themselves. On the 2-core CPU the allocator
    took a SimCLR step from 0.73 to 0.42 s (the kernel's page faulting and zeroing of fresh pages for every large
    activation), and flushing kept patch CPC's steps at 0.25 s instead of slowing to 0.8 s. After each node, the
    memory it freed goes back to the kernel, so a stage's peak is its largest node's (probing: 4.6 GiB of RSS
    before, when each feature extraction left about 1 GiB in the heap).
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog: DataCatalog) -> None:
        if reuse_freed_memory():
            logger.info("malloc: large blocks from the heap, freed memory kept for reuse (CPC_MALLOC_DEFAULTS=1: off)")
        if flush_subnormals():
            logger.info("subnormal floats flushed to zero on every CPU thread (CPC_KEEP_SUBNORMALS=1: off)")
        elif not os.environ.get(KEEP_SUBNORMALS):
            logger.warning(
                "subnormal floats could not be flushed on every CPU thread: CPU training can slow down "
                "several times as they accumulate"
            )

    @hook_impl
    def after_node_run(self, node) -> None:
        """What the node freed goes back to the kernel: a stage's peak memory is its largest node's, not the sum
        of what its nodes left in the heap (:func:`cpc_pipeline.training.host.release_freed_memory`)."""
        release_freed_memory()
