"""Catalog dataset types the project adds to kedro-datasets.

Kedro-Viz shows a dataset's contents in its side panel when the dataset's class has a ``preview`` method
whose return annotation names a preview kind (``TablePreview``, ``ImagePreview``, ``JSONPreview``,
``HTMLPreview``, ...). kedro-datasets gives tables, plots and JSON one, but not ``text.TextDataset``, so
the run's report, markdown, would be the one output a reviewer cannot read in Kedro-Viz.
:class:`MarkdownDataset` is the same text file with an HTML preview.
"""

from __future__ import annotations

from typing import NewType

from kedro_datasets.text import TextDataset
from markdown_it import MarkdownIt

# Kedro-Viz picks a preview's kind by the name of the return annotation (kedro_viz.models.flowchart.node_metadata,
# ``preview_type``), so the project names its own type rather than import kedro-datasets' private ``_typing``.
HTMLPreview = NewType("HTMLPreview", str)


class MarkdownDataset(TextDataset):
    """A markdown text file (``TextDataset``: load and save a ``str``), previewed in Kedro-Viz as HTML."""

    def preview(self) -> HTMLPreview:
        renderer = MarkdownIt("commonmark", {"html": False}).enable("table")  # the report's tables; no raw HTML
        return HTMLPreview(renderer.render(self.load()))
