"""Restricted unpickling of metadata files (``*_info.npy``, ``gloss_dict.npy``, keypoint pickles).

These files are pickles, and a pickle can run arbitrary code when loaded. The unpickler here
resolves only an allow-list of globals that build plain data: containers (``list``, ``set``,
``frozenset``, ``OrderedDict``, ``defaultdict``), numbers, strings, bytes and numpy arrays /
scalars / dtypes. Any other global (``os.system``, ``builtins.eval``, a custom class ...) raises
:class:`~slr_data.errors.UnsafePickleError` naming the file, before anything is called.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from slr_data.errors import DataFormatError, UnsafePickleError

__all__ = ["ALLOWED_GLOBALS", "RestrictedUnpickler", "load_pickle", "load_info", "load_npy"]

_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}

#: (module, name) pairs the unpickler may resolve. ``numpy.core`` is the numpy<2 spelling of
#: ``numpy._core``; both appear in files written by different numpy versions.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "list"),
        ("builtins", "dict"),
        ("builtins", "tuple"),
        ("builtins", "bytearray"),
        ("builtins", "bytes"),
        ("builtins", "complex"),
        ("builtins", "int"),
        ("builtins", "float"),
        ("builtins", "str"),
        ("builtins", "bool"),
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    ]
    + [
        (f"numpy.{core}.{module}", name)
        for core in ("core", "_core")
        for module, name in (
            ("multiarray", "_reconstruct"),
            ("multiarray", "scalar"),
            ("numeric", "_frombuffer"),
        )
    ]
)


def _numpy_core_name() -> str:
    import importlib.util

    try:
        return "numpy._core" if importlib.util.find_spec("numpy._core.multiarray") else "numpy.core"
    except ImportError:  # pragma: no cover - numpy < 1.26
        return "numpy.core"


#: where this numpy keeps ``multiarray``/``numeric``; pickles name either spelling.
_NUMPY_CORE = _numpy_core_name()


class RestrictedUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object positioned at the pickle.
        source: name of the file, used in error messages.
    """

    def __init__(self, file, *, source: str | os.PathLike = "<pickle>", encoding: str = "ASCII"):
        super().__init__(file, encoding=encoding)
        self._source = os.fspath(source)

    def find_class(self, module: str, name: str):
        module = _PY2_MODULES.get(module, module)
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                self._source,
                f"refusing to unpickle global '{module}.{name}': only plain containers, numbers, "
                "strings and numpy arrays are allowed (nothing was executed)",
            )
        if module.startswith(("numpy.core.", "numpy._core.")):
            module = _NUMPY_CORE + module[module.index(".", len("numpy.")) :]
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnsafePickleError(self._source, "persistent ids are not allowed in metadata pickles")


def _unpickle(handle, source) -> Any:
    try:
        return RestrictedUnpickler(handle, source=source).load()
    except UnsafePickleError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        UnicodeDecodeError,
    ) as exc:
        raise DataFormatError(source, f"not a readable pickle ({type(exc).__name__}: {exc})") from exc


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """Read a ``.npy`` file; object arrays go through :class:`RestrictedUnpickler`.

    Returns the stored array (object arrays keep their Python objects).
    """
    path = Path(path)
    data = _read_bytes(path)
    handle = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    except ValueError as exc:
        raise DataFormatError(path, f"not a valid .npy file ({exc})") from exc
    if not dtype.hasobject:
        handle.seek(0)
        try:
            return np.lib.format.read_array(handle, allow_pickle=False)
        except ValueError as exc:
            raise DataFormatError(path, f"truncated or corrupt .npy data ({exc})") from exc
    array = _unpickle(handle, path)
    if not isinstance(array, np.ndarray):
        raise DataFormatError(path, f"object .npy payload is a {type(array).__name__}, not an array")
    if array.shape != tuple(shape):
        raise DataFormatError(path, f"payload shape {array.shape} differs from header shape {shape}")
    return array


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle (``.pkl``) or a ``.npy`` file holding plain data, refusing anything else.

    A 0-d object ``.npy`` (what ``np.save(path, some_dict)`` writes) is unwrapped to its item.
    Pickles are read from the open file, not from a copy of its bytes in memory (keypoint
    pickles of real corpora hold gigabytes of arrays).
    """
    path = Path(path)
    with _open(path) as handle:
        is_npy = handle.read(6) == b"\x93NUMPY"
        if not is_npy:
            handle.seek(0)
            return _unpickle(handle, path)
    array = load_npy(path)
    return array.item() if array.dtype.hasobject and array.ndim == 0 else array


def load_info(path: str | os.PathLike) -> dict:
    """Load a VAC-style ``{split}_info.npy`` (or ``gloss_dict.npy``) safely and return the dict.

    ``*_info.npy`` holds ``{'prefix': str, 0: {...}, 1: {...}, ...}`` where each entry has
    ``fileid``, ``folder``, ``signer``, ``label`` and ``num_frames``. The structure is checked by
    the corpus readers; this function only guarantees plain data and a ``dict``.
    """
    obj = load_pickle(path)
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"expected a pickled dict, found {type(obj).__name__}")
    return obj


def _read_bytes(path: Path) -> bytes:
    with _open(path) as handle:
        return handle.read()


def _open(path: Path):
    """``open(path, "rb")`` with the errors of a metadata file."""
    try:
        return open(path, "rb")  # noqa: SIM115 - returned to a with statement
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such metadata file") from None
    except IsADirectoryError:
        raise DataFormatError(path, "is a directory, expected a pickle / .npy file") from None
