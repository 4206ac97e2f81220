"""Restricted, bounded unpickling of metadata files (``*_info.npy``, ``gloss_dict.npy``, keypoint pickles).

These files are pickles, and a pickle can run arbitrary code when loaded. The unpickler here
resolves only an allow-list of globals that build plain data: containers (``list``, ``set``,
``frozenset``, ``OrderedDict``, ``defaultdict``), numbers, strings, bytes and numpy arrays /
scalars / dtypes. Any other global (``os.system``, ``builtins.eval``, a custom class ...) raises
:class:`~slr_data.errors.UnsafePickleError` naming the file, before anything is called.

A pickle can also make a tiny file allocate without bound (``bytearray(2**33)`` in a 300-byte
file, a ``BINBYTES8`` length of 8 GiB, a container nested a million levels deep, shared
references that expand exponentially). What it may build is bounded by
:class:`~slr_data.limits.DataLimits` (``max_pickle_bytes``, ``max_pickle_items``,
``max_pickle_depth``), checked before each allocation: a refusal is a
:class:`~slr_data.errors.DataFormatError` naming the file. ``.npy`` headers are checked
against the file's size before any array is allocated. The machinery is in
:mod:`slr_data._unpickler` (the pickle machine) and :mod:`slr_data._pickle_calls` (the allowed
constructors and their checks).
"""

from __future__ import annotations

import math
import os
import pickle
import stat
import struct
from pathlib import Path
from typing import Any

import numpy as np

from slr_data._pickle_calls import ALLOWED_GLOBALS
from slr_data._unpickler import BoundedUnpickler
from slr_data.errors import DataFormatError
from slr_data.limits import DataLimits, get_limits

__all__ = [
    "ALLOWED_GLOBALS",
    "RestrictedUnpickler",
    "load_pickle",
    "load_info",
    "load_npy",
    "read_npy_header",
]


class RestrictedUnpickler(BoundedUnpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS` and bounds what it builds.

    Args:
        file: binary file object positioned at the pickle (``read``, ``readline``, ``tell``,
            ``seek``).
        source: name of the file, used in error messages.
        size: bytes of pickle data from the current position (default: to the end of the file);
            no length the pickle declares may exceed what is left.
        limits: the bounds (default :func:`~slr_data.limits.get_limits`).
    """


_READ_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    ImportError,
    IndexError,
    KeyError,
    LookupError,
    UnicodeDecodeError,
    OverflowError,
    struct.error,
    BufferError,
    RecursionError,
    MemoryError,
)


def _unpickle(handle, source, *, size: int | None = None, limits: DataLimits | None = None) -> Any:
    try:
        return RestrictedUnpickler(handle, source=source, size=size, limits=limits).load()
    except DataFormatError:
        raise
    except _READ_ERRORS as exc:
        raise DataFormatError(f"not a readable pickle ({type(exc).__name__}: {exc})", source) from exc


def read_npy_header(handle, source) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the ``.npy`` file open at its start (left after the header)."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(handle)
        return np.lib.format.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, struct.error, SyntaxError) as exc:
        raise DataFormatError(f"not a valid .npy file ({exc})", source) from exc


def load_npy(path: str | os.PathLike, *, limits: DataLimits | None = None) -> np.ndarray:
    """Read a ``.npy`` file; object arrays go through :class:`RestrictedUnpickler`.

    The header is checked before anything is allocated: a numeric array must fit in the bytes
    the file holds, an object array may declare at most ``limits.max_pickle_items`` elements.

    Returns the stored array (object arrays keep their Python objects).
    """
    path = Path(path)
    limits = limits if limits is not None else get_limits()
    with _open(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        shape, fortran, dtype = read_npy_header(handle, path)
        payload = size - handle.tell()
        count = math.prod(shape)
        if dtype.hasobject:
            if count > limits.max_pickle_items:
                raise DataFormatError(
                    f"header declares {count} objects (shape {shape}), more than the limit of "
                    f"{limits.max_pickle_items} (SLR_DATA_MAX_PICKLE_ITEMS); refused before reading",
                    path,
                )
            array = _unpickle(handle, path, size=payload, limits=limits)
            if not isinstance(array, np.ndarray):
                raise DataFormatError(f"object .npy payload is a {type(array).__name__}, not an array", path)
            if array.shape != tuple(shape):
                raise DataFormatError(f"payload shape {array.shape} differs from header shape {shape}", path)
            return array
        return _read_numeric(handle, path, shape, fortran, dtype, payload)


def _read_numeric(handle, path: Path, shape, fortran: bool, dtype: np.dtype, payload: int) -> np.ndarray:
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > payload:
        raise DataFormatError(
            f"header declares a {shape} {dtype} array ({nbytes} bytes) but the file holds {payload} "
            "bytes of data: truncated or corrupt (refused before allocating)",
            path,
        )
    if count == 0:
        return np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    if dtype.itemsize == 0:
        raise DataFormatError(f"array of zero-size dtype {dtype} with {count} elements", path)
    buffer = bytearray(nbytes)
    if handle.readinto(buffer) != nbytes:
        raise DataFormatError("truncated .npy data (the file changed while being read?)", path)
    flat = np.frombuffer(buffer, dtype=dtype, count=count)
    return flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)


def load_pickle(path: str | os.PathLike, *, limits: DataLimits | None = None) -> Any:
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
            return _unpickle(handle, path, limits=limits)
    array = load_npy(path, limits=limits)
    return array.item() if array.dtype.hasobject and array.ndim == 0 else array


def load_info(path: str | os.PathLike, *, limits: DataLimits | None = None) -> dict:
    """Load a VAC-style ``{split}_info.npy`` (or ``gloss_dict.npy``) safely and return the dict.

    ``*_info.npy`` holds ``{'prefix': str, 0: {...}, 1: {...}, ...}`` where each entry has
    ``fileid``, ``folder``, ``signer``, ``label`` and ``num_frames``. The structure is checked by
    the corpus readers; this function only guarantees plain data and a ``dict``.
    """
    obj = load_pickle(path, limits=limits)
    if not isinstance(obj, dict):
        raise DataFormatError(f"expected a pickled dict, found {type(obj).__name__}", path)
    return obj


def _open(path: Path):
    """``open(path, "rb")`` with the errors of a metadata file; only regular files are read."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned to a with statement
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such metadata file") from None
    except IsADirectoryError:
        raise DataFormatError("is a directory, expected a pickle / .npy file", path) from None
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise DataFormatError(
            "is not a regular file (a device, FIFO or socket?), expected a pickle / .npy file", path
        )
    return handle
