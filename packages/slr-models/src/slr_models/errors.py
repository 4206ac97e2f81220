"""Errors raised by slr_models for bad input: a model config, a model or decoder name, a decoder
option, a checkpoint or gloss dict that cannot be imported.

All of them derive from :class:`SlrModelsError` and take ``(message, path=None, *, line=None,
key=None)``, shown as ``path:line: key 'k': message`` (the parts that are known); each keeps the
builtin it used to be (``ValueError``), so ``except ValueError`` still catches it. Wrong tensor
shapes and other programming errors stay builtins (``ValueError`` / ``TypeError``).
"""

from __future__ import annotations

import os

__all__ = [
    "CheckpointImportError",
    "DecoderOptionError",
    "ModelConfigError",
    "SlrModelsError",
    "UnknownDecoderError",
    "UnknownModelError",
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


class SlrModelsError(Exception):
    """Base class of every error slr_models raises for bad input: ``SlrModelsError(message,
    path=None, *, line=None, key=None)``.

    Attributes:
        message: what is wrong, without the location.
        path: the offending file (``None`` when no file is concerned).
        line: 1-based line number, or ``None``.
        key: the offending entry (a state-dict key, a config field), or ``None``.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, line: int | None = None,
                 key=None):
        self.message = str(message)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.key = key
        super().__init__(format_location(self.message, self.path, line=line, key=key))

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # picklable with its attributes
        return (_rebuild_error, (type(self), self.args, dict(self.__dict__)))


def _rebuild_error(cls: type, args: tuple, state: dict) -> SlrModelsError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    for name, value in state.items():
        setattr(err, name, value)
    return err


class ModelConfigError(SlrModelsError, ValueError):
    """A model config with a bad value, an unknown field or the wrong family."""


class UnknownModelError(SlrModelsError, ValueError):
    """No model (or model family) of that name is registered; the message lists the registered ones."""


class UnknownDecoderError(SlrModelsError, ValueError):
    """No decoder of that name is registered; the message lists the registered ones."""


class DecoderOptionError(SlrModelsError, ValueError):
    """An option a decoder does not have, or a bad value; the message names the decoder."""


class CheckpointImportError(SlrModelsError, ValueError):
    """A checkpoint (or gloss dict) that cannot be imported; ``path`` names the file, the message says why."""
