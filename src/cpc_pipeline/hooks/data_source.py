"""A run on other data than MNIST says so again when it ends.

The data_processing stage warns when MNIST can be neither found nor downloaded and it falls back to
scikit-learn's 8x8 digits, but that warning scrolls away under minutes of training logs, and the last lines a
user reads are "Pipeline execution completed". :class:`DataSourceHook` remembers the digit source that any node
of the run wrote or read (the ``digit_source`` dataset) and, when it is not MNIST, ends the run with one warning
naming the source and pointing at the report, whose first line says the same.
"""

from __future__ import annotations

import logging

from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

logger = logging.getLogger(__name__)

DIGIT_SOURCE = "digit_source"  # the catalog dataset data_processing writes (catalog.yml)


def not_mnist_warning(source: dict) -> str | None:
    """The closing warning for a run on ``source`` (a ``digit_source`` record), or None for MNIST and for a folder
    of pictures (asked for by name: no fallback can have put it there)."""
    if source.get("source") in ("mnist", "folder"):
        return None
    return (
        f"This run did NOT use MNIST: its digits are {source.get('source')!r} from {source.get('location')}, so "
        "its figures do not compare with MNIST's (data/08_reporting/report.md says so on its first line). To use "
        "MNIST, list the folder that holds MNIST/raw/ under source.roots in conf/local/parameters_data_processing.yml."
    )


class DataSourceHook:
    def __init__(self) -> None:
        self.source: dict | None = None

    @hook_impl
    def after_node_run(self, node: Node, inputs: dict, outputs: dict) -> None:
        source = outputs.get(DIGIT_SOURCE, inputs.get(DIGIT_SOURCE))
        if source is not None:
            self.source = source

    @hook_impl
    def after_pipeline_run(self) -> None:
        warning = not_mnist_warning(self.source) if self.source is not None else None
        if warning:
            logger.warning(warning)
