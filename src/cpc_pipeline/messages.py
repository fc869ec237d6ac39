"""One line for each failure a user can act on, as ``kedro run`` prints it (:mod:`cpc_pipeline.cli`).

For parameters: ``<block>.<key>: <reason> (got <value>)`` per bad value, the key as the user writes it in
``conf/`` (without pydantic's union tags); a value that came from ``--params seed=...`` is blamed on ``seed``, not
on the stage's key it reached. For catalog files: the file, what is wrong with it and what to do.
"""

from __future__ import annotations

import errno
import pickle
import re

from kedro.io import DatasetError
from kedro.validation.exceptions import ParameterValidationError

from cpc_pipeline.errors import UserError
from cpc_pipeline.models.encoders import ENCODER_TAGS

ACTIONABLE = (ParameterValidationError, UserError, DatasetError)
_VALUE = re.compile(r"input_value=(.*?)(?:, input_type=\w+)?\]?$")


def _value(detail: str) -> str:
    """The rejected value of pydantic's ``[type=..., input_value=..., input_type=...]`` (lists whole), or ''."""
    found = _VALUE.search(detail)
    return "" if found is None or found.group(1).startswith("{") else found.group(1)


def pydantic_lines(block: str, report: str, runtime_params: dict | None = None) -> list[str]:
    """``<block>.<loc>: <message> (got <value>)`` for each error of pydantic's report
    (``N validation errors for Model`` / ``loc`` / ``  message [type=..., input_value=..., ...]``)."""
    lines, loc = [], ""
    seed = (runtime_params or {}).get("seed")
    for line in report.splitlines()[1:]:
        if not line.startswith(" "):
            loc = ".".join(part for part in line.strip().replace(" ", "").split(".") if part not in ENCODER_TAGS)
        elif not line.startswith("    "):  # two spaces: the message (four: pydantic's "For further information")
            message, _, detail = line.strip().partition(" [type=")
            message = message.removeprefix("Value error, ")  # the project's own validators say what they got
            value = "" if "got " in message else _value(detail)
            key = f"{block}{'.' + loc if loc else ''}"
            if seed is not None and key.endswith("seed") and value == str(seed):  # --params seed=... reached it
                key, message = "seed", f"{message} (every stage's seed follows --params seed)"
            lines.append(f"{key}: {message}" + (f" (got {value})" if value else ""))
    return list(dict.fromkeys(lines))  # a bad seed reaches several stages: said once


def _cause(error: BaseException) -> str:
    """What went wrong with a file, in the project's words (torch's own text advises unsafe loading)."""
    cause = error.__cause__
    if cause is None:
        return ""
    if isinstance(cause, pickle.UnpicklingError) or "Weights only load failed" in str(cause):
        return " (it is not a weights file this project wrote: damaged, truncated or from elsewhere)"
    first = str(cause).splitlines()[0] if str(cause) else ""
    return f" ({type(cause).__name__}: {first})"


FAILED_WRITE = "failed_write"  # the attribute SafeWritesHook sets on a failed save's error: the file's path
_WRITE_CAUSES = {
    errno.ENOSPC: "no space is left on its disk: free some",
    errno.EDQUOT: "the disk quota is used up: free some",
    errno.EACCES: "its folder is not writable: make it so",
    errno.EPERM: "its folder is not writable: make it so",
    errno.EROFS: "its disk is read-only: remount it writable",
}


def _write_cause(error: BaseException) -> OSError | None:
    """The OSError of a full, read-only or forbidden disk in ``error``'s chain of causes, else None."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in _WRITE_CAUSES:
            return error
        error = error.__cause__ or error.__context__
    return None


def _save_failure(error: BaseException, cause: OSError) -> str:
    """A catalog write that failed: the file (named by :mod:`cpc_pipeline.hooks.writes`, which has put the previous
    file back), the cause and what to do."""
    text = str(error)
    found = re.search(r"filepath=([^,)]+)", text)
    path = getattr(error, FAILED_WRITE, None) or (found.group(1) if found else text.split(":")[0])
    return (
        f"could not write {path}: {_WRITE_CAUSES[cause.errno]} (or point its catalog entry's filepath elsewhere in "
        "conf/local/catalog.yml) and run again. The file is as it was before the run"
    )


def summary(error: BaseException, runtime_params: dict | None = None) -> str:
    """The line that matters of ``error``; ``runtime_params``: the run's ``--params``."""
    text = str(error)
    if isinstance(error, ParameterValidationError):
        lines = []
        for block, body in re.findall(r"- Parameter '([^']+)': (.*?)(?=\n- Parameter '|\Z)", text, re.S):
            report = body[body.find("validation error") :] if "validation error" in body else ""
            lines += pydantic_lines(block, report, runtime_params) or [f"{block}: {body.strip().splitlines()[-1]}"]
        return "invalid parameters: " + "; ".join(dict.fromkeys(lines)) if lines else text
    if isinstance(error, DatasetError) and _write_cause(error) is not None:
        return _save_failure(error, _write_cause(error))
    if isinstance(error, DatasetError):
        first = text.splitlines()[0] if text else type(error).__name__
        return (
            f"{first}{_cause(error)}. The file is damaged or was written by another version: rerun the stage that "
            "writes it (kedro run --pipelines <stage>)"
        )
    return text
