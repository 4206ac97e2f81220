"""Errors raised by slr_phoenix (the command line maps them to exit codes).

All of them derive from :class:`SlrPhoenixError` and take ``(message, path=None, *, line=None,
key=None)``, shown as ``path:line: key 'k': message`` (the parts that are known), like the error
bases of the packages (``SlrDataError``, ``SlrModelsError``, ``SlrMetricsError``,
``SlrTrainError``); each keeps its builtin (``ValueError``, ``FileNotFoundError``,
``RuntimeError``). They are re-exported from the modules that raise them.
"""

from __future__ import annotations

import os

__all__ = [
    "CheckpointNotFoundError", "ConfigError", "ScoringMismatchError", "SlrPhoenixError", "format_location",
]


def format_location(message: str, path: str | None = None, *, line: int | None = None, key=None) -> str:
    """``path:line: key 'k': message`` with the parts that are known (``message`` alone when none is)."""
    where = "" if path is None else path if line is None else f"{path}:{line}"
    if path is None and line is not None:
        where = f"line {line}"
    if key is not None:
        where = f"{where}: key {key!r}" if where else f"key {key!r}"
    return f"{where}: {message}" if where else message


class SlrPhoenixError(Exception):
    """Base class of every error raised by slr_phoenix: ``SlrPhoenixError(message, path=None, *,
    line=None, key=None)``.

    Attributes:
        message: what is wrong, without the location.
        path: the offending file (``None`` when no file is concerned).
        line: 1-based line number (e.g. in a YAML config), or ``None``.
        key: the offending entry (a config key), or ``None``.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, line: int | None = None,
                 key=None):
        self.message = str(message)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.key = key
        super().__init__(format_location(self.message, self.path, line=line, key=key))

    def __str__(self) -> str:  # OSError subclasses would format "[Errno None] ..."
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # picklable with its attributes
        return (_rebuild_error, (type(self), self.args, dict(self.__dict__)))


def _rebuild_error(cls: type, args: tuple, state: dict) -> SlrPhoenixError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    for name, value in state.items():
        setattr(err, name, value)
    return err


class ConfigError(SlrPhoenixError, ValueError):
    """A configuration file or override is invalid; the message names the file/key."""


class CheckpointNotFoundError(SlrPhoenixError, FileNotFoundError):
    """No usable checkpoint at the given path."""


class ScoringMismatchError(SlrPhoenixError, RuntimeError):
    """File-based scoring disagrees with the counts accumulated while decoding."""
