"""Errors raised by slr_train.

All of them derive from :class:`SlrTrainError` and take ``(message, path=None, *, line=None,
key=None)``, shown as ``path:line: key 'k': message`` (the parts that are known); each keeps the
builtin it used to be (``RuntimeError``, ``ValueError``, ``OSError``), so existing ``except``
clauses still catch it. The modules that raise them re-export them under their old homes
(``slr_train.manifest.CheckpointError``, ``slr_train.atomic.OutputPathError``, ...).
"""

from __future__ import annotations

import os

__all__ = [
    "CTCInfeasibleError",
    "CheckpointError",
    "DeepSpeedConfigError",
    "EvaluationError",
    "InitFromError",
    "NonFiniteLossError",
    "OutputPathError",
    "SlrTrainError",
    "TrainConfigError",
    "format_location",
]


def format_location(message: str, path: str | None = None, *, line: int | None = None, key=None) -> str:
    """``path:line: key 'k': message`` with the parts that are known (``message`` alone when none is)."""
    where = "" if path is None else path if line is None else f"{path}:{line}"
    if path is None and line is not None:
        where = f"line {line}"
    if key is not None:
        where = f"{where}: key {key!r}" if where else f"key {key!r}"
    return f"{where}: {message}" if where else message


class SlrTrainError(Exception):
    """Base class of every error raised by slr_train: ``SlrTrainError(message, path=None, *,
    line=None, key=None)``.

    Attributes:
        message: what is wrong, without the location.
        path: the offending file (``None`` when no single file is concerned).
        line: 1-based line number (e.g. in a JSON config), or ``None``.
        key: the offending entry (a checkpoint key, a config field), or ``None``.
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

    def __reduce__(self):  # picklable with its attributes (errors travel between ranks)
        state = dict(self.__dict__)
        if isinstance(self, OSError):
            state.update(errno=self.errno, filename=self.filename, strerror=self.strerror)
        return (_rebuild_error, (type(self), self.args, state))


def _rebuild_error(cls: type, args: tuple, state: dict) -> SlrTrainError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    for name, value in state.items():
        setattr(err, name, value)
    return err


class CheckpointError(SlrTrainError, RuntimeError):
    """A checkpoint is missing, truncated, corrupt or incompatible (the message names the file)."""


class InitFromError(CheckpointError):
    """Weights that cannot initialise the model (the one-line message names the file)."""


class OutputPathError(SlrTrainError, OSError):
    """A write refused by the output policy or failed: ``OutputPathError(message, path, *, errno=None)``.

    ``filename``: the path as given; ``strerror``: the message; ``errno`` kept (``ENOSPC`` for a
    full disk).
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, line: int | None = None,
                 key=None, errno: int | None = None):
        super().__init__(message, path, line=line, key=key)
        self.errno, self.strerror, self.filename = errno, self.message, self.path


class EvaluationError(SlrTrainError, RuntimeError):
    """Evaluation failed; the message names the rank(s) and the cause."""


class TrainConfigError(SlrTrainError, ValueError):
    """A config value, key or type that is not valid; the message names the dotted key (``optim.lr: ...``)."""


class DeepSpeedConfigError(SlrTrainError, ValueError):
    """A DeepSpeed JSON config that cannot be read or contradicts the run's settings (names the file)."""


class CTCInfeasibleError(SlrTrainError, ValueError):
    """Raised under the ``"error"`` policy when some samples cannot be aligned."""


class NonFiniteLossError(SlrTrainError, RuntimeError):
    """Too many consecutive non-finite steps; the last good checkpoint is kept."""
