"""Errors a user can act on: each message names the file or parameter and says what to do.

``kedro run`` (the project's :mod:`cpc_pipeline.cli`) prints such an error as one line, without a
traceback; ``--verbose`` or ``CPC_TRACEBACK=1`` brings the traceback back.
"""

from __future__ import annotations


class UserError(RuntimeError):
    """A failure caused by the inputs (data, files, parameters, the machine), not by a bug."""


class CheckpointError(UserError):
    """A checkpoint to resume from cannot be read."""


class TrackingStoreError(UserError):
    """The MLflow tracking store cannot be opened."""


class ConfigurationError(UserError):
    """Parameters that validate one by one but cannot work together, or not on this machine."""


class MissingInputError(UserError):
    """A file the run reads is not there: a stage that writes it has not run yet."""
