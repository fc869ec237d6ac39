"""Catalog dataset types the project adds to kedro-datasets.

Kedro-Viz shows a dataset's contents in its side panel when the dataset's class has a ``preview`` method
whose return annotation names a preview kind (``TablePreview``, ``ImagePreview``, ``JSONPreview``,
``HTMLPreview``, ...). kedro-datasets gives tables, plots and JSON one, but not ``text.TextDataset``, so
the run's report, markdown, would be the one output a reviewer cannot read in Kedro-Viz.
:class:`MarkdownDataset` is the same text file with an HTML preview.
"""

from __future__ import annotations

from kedro_datasets._typing import HTMLPreview
from kedro_datasets.text import TextDataset
from markdown_it import MarkdownIt


class MarkdownDataset(TextDataset):
    """A markdown text file (``TextDataset``: load and save a ``str``), previewed in Kedro-Viz as HTML."""

    def preview(self) -> HTMLPreview:
        renderer = MarkdownIt("commonmark", {"html": False}).enable("table")  # the report's tables; no raw HTML
        return HTMLPreview(renderer.render(self.load()))
