"""Where a result comes from: the code (a git commit), the configuration (a hash) and the seed.

Every ``kedro run`` records these on its MLflow run (:mod:`cpc_pipeline.hooks`), so a figure can be traced
to what produced it, and ``benchmarks/headline.py`` can tell a seed that already ran for this code and
configuration (read back) from one that must run.

The code is identified by the last commit that changed what a run executes or reads as configuration
(:data:`CODE_PATHS`): committing a benchmark's JSON or the README does not make earlier runs stale.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

CODE_PATHS = ("src", "conf/base", "pyproject.toml", "constraints.txt")
UNKNOWN = "unknown"


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_commit(root: str | Path = ".") -> str:
    """The last commit that changed :data:`CODE_PATHS`, with ``-dirty`` when they hold uncommitted changes
    (or ``unknown`` outside a git checkout)."""
    root = Path(root)
    commit = _git(root, "log", "-1", "--format=%H", "--", *CODE_PATHS)
    if not commit:
        return UNKNOWN
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return f"{commit}-dirty" if dirty else commit


def pipelines_tag(names: list[str] | None) -> str:
    """The pipelines a run ran, as tagged: sorted (Kedro's order varies), ``__default__`` for the whole run."""
    return ",".join(sorted(names)) if names else "__default__"


def config_hash(parameters: dict[str, Any]) -> str:
    """A short, order-independent hash of a run's parameters (12 hex digits of SHA-256 over sorted JSON)."""
    text = json.dumps(parameters, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def file_md5(path: str | Path) -> str:
    """The md5 of a file's bytes, read in chunks."""
    digest = hashlib.md5()  # noqa: S324 - an identity, not a security check
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def files_md5(paths: list[str]) -> str:
    """One md5 over several files (each file's md5, in order)."""
    return hashlib.md5("".join(file_md5(p) for p in paths).encode()).hexdigest()  # noqa: S324
