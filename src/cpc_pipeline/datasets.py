"""Catalog dataset types the project adds to kedro-datasets.

Kedro-Viz shows a dataset's contents in its side panel when the dataset's class has a ``preview`` method
whose return annotation names a preview kind (``TablePreview``, ``ImagePreview``, ``JSONPreview``,
``HTMLPreview``, ...). kedro-datasets gives tables, plots and JSON one, but not ``text.TextDataset``, so
the run's report, markdown, would be the one output a reviewer cannot read in Kedro-Viz.
:class:`MarkdownDataset` is the same text file with an HTML preview.

:class:`EncoderModelDataset` is kedro-mlflow's model dataset, which leaves out an encoder that was not trained.
"""

from __future__ import annotations

import logging
from typing import Any, NewType

from kedro_datasets.text import TextDataset
from kedro_mlflow.io.models import MlflowModelTrackingDataset
from markdown_it import MarkdownIt

from cpc_pipeline.models.not_trained import not_trained_reason

logger = logging.getLogger(__name__)

# Kedro-Viz picks a preview's kind by the name of the return annotation (kedro_viz.models.flowchart.node_metadata,
# ``preview_type``), so the project names its own type rather than import kedro-datasets' private ``_typing``.
HTMLPreview = NewType("HTMLPreview", str)


class MarkdownDataset(TextDataset):
    """A markdown text file (``TextDataset``: load and save a ``str``), previewed in Kedro-Viz as HTML."""

    def preview(self) -> HTMLPreview:
        renderer = MarkdownIt("commonmark", {"html": False}).enable("table")  # the report's tables; no raw HTML
        return HTMLPreview(renderer.render(self.load()))


class EncoderModelDataset(MlflowModelTrackingDataset):
    """kedro-mlflow's model dataset (log, and register under ``registered_model_name``), which logs and registers
    nothing for an encoder that was not trained (:class:`~cpc_pipeline.models.not_trained.NotTrained`): the
    registry keeps its last real version rather than gain an empty one."""

    def _save(self, model: Any) -> None:
        reason = not_trained_reason(model)
        if reason is not None:
            logger.info("not logged to MLflow, nor registered (%s)", reason)
            return
        super()._save(model)
