"""Errors raised by slr_phoenix (the command line maps them to exit codes).

All of them derive from :class:`SlrPhoenixError` and take ``(message, path=None, *, line=None,
key=None)``, shown as ``path:line: key 'k': message`` (the parts that are known), like the error
bases of the packages (``SlrDataError``, ``SlrModelsError``, ``SlrMetricsError``,
``SlrTrainError``); each keeps its builtin (``ValueError``, ``FileNotFoundError``,
``RuntimeError``). They are re-exported from the modules that raise them.
"""

from __future__ import annotations

from slr_train.errors import LocatedError, format_location

__all__ = [
    "CheckpointNotFoundError", "ConfigError", "ScoringMismatchError", "SlrPhoenixError", "format_location",
]


class SlrPhoenixError(LocatedError):
    """Base class of every error raised by slr_phoenix: ``SlrPhoenixError(message, path=None, *,
    line=None, key=None)``, the shape slr-train's :class:`~slr_train.errors.LocatedError` gives it
    (``message``, ``path``, ``line`` e.g. in a YAML config, ``key`` e.g. a config key)."""


class ConfigError(SlrPhoenixError, ValueError):
    """A configuration file or override is invalid; the message names the file/key."""


class CheckpointNotFoundError(SlrPhoenixError, FileNotFoundError):
    """No usable checkpoint at the given path."""


class ScoringMismatchError(SlrPhoenixError, RuntimeError):
    """File-based scoring disagrees with the counts accumulated while decoding."""
