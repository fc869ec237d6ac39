"""Catalog writes that lose nothing: output folders checked before any node, and a write that fails (a full disk,
a folder made read-only meanwhile) leaves the file as it was before the run, not a half-written one.

Kedro's file datasets write in place, so a write that fails midway leaves a truncated file that the next run
reads as damaged. :class:`SafeWritesHook` moves an existing file aside (``<file>.previous``, a rename on the same
disk) just before its dataset is saved, deletes it once the save succeeded, and on a failed run removes the
partial file and puts the previous one back. The failed save's error reads, in ``kedro run``'s one line
(:func:`cpc_pipeline.messages.summary`), as the path and the cause.
"""

from __future__ import annotations

import os
from pathlib import Path

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from cpc_pipeline.errors import ConfigurationError
from cpc_pipeline.hooks.stage_runs import dataset_file
from cpc_pipeline.messages import FAILED_WRITE

PREVIOUS = ".previous"


def _local(path: str | None) -> Path | None:
    return None if path is None or "://" in path else Path(path)


def unwritable_folders(paths: list[Path]) -> list[Path]:
    """The folders among ``paths``' parents that this process can neither write nor create."""
    bad = []
    for folder in sorted({p.parent for p in paths}):
        existing = next(f for f in (folder, *folder.parents) if f.exists())
        if not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
            bad.append(folder)
    return bad


class SafeWritesHook:
    def __init__(self) -> None:
        self.catalog: DataCatalog | None = None
        self.pending: dict[str, tuple[Path, Path | None]] = {}  # dataset -> (its file, the previous file moved aside)

    def _file(self, name: str) -> Path | None:
        return _local(dataset_file(self.catalog, name)) if self.catalog is not None else None

    @hook_impl
    def before_pipeline_run(self, pipeline, catalog: DataCatalog) -> None:
        self.catalog, self.pending = catalog, {}
        outputs = {name: self._file(name) for name in sorted(pipeline.all_outputs())}
        bad = unwritable_folders([p for p in outputs.values() if p is not None])
        if bad:
            names = {str(f): [n for n, p in outputs.items() if p is not None and p.parent == f] for f in bad}
            raise ConfigurationError(
                "this run writes into folders it cannot write: "
                + "; ".join(f"{f} ({', '.join(n)})" for f, n in names.items())
                + ". Nothing was run or changed: make them writable, or point those catalog entries' filepath "
                "elsewhere in conf/local/catalog.yml"
            )

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        path = self._file(dataset_name)
        if path is None:
            return
        previous = path.with_name(path.name + PREVIOUS) if path.is_file() else None
        if previous is not None:
            os.replace(path, previous)
        self.pending[dataset_name] = (path, previous)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        _, previous = self.pending.pop(dataset_name, (None, None))
        if previous is not None:
            previous.unlink(missing_ok=True)

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        """A save that began and did not end: its partial file goes, the previous one comes back, and the error
        is told the file's path (``kedro run``'s line names it)."""
        for path, previous in self.pending.values():
            setattr(error, FAILED_WRITE, os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path))
            if path.is_file():
                path.unlink()
            if previous is not None:
                os.replace(previous, path)
        self.pending = {}
