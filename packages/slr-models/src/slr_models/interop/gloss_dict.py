"""Reading a PHOENIX / VAC / Mamba_SLR ``gloss_dict.npy`` (``{gloss: [id, count]}``) without pickle code.

The file is a numpy ``.npy`` holding one pickled dict. Its pickle is read with an unpickler that
resolves only the globals such a dict needs (numpy's scalar and array reconstruction for ids that
are numpy integers); anything else is refused naming the file. (slr-data has the general restricted
unpickler; slr-models reads this one file format itself to stay independent of it.)
"""

from __future__ import annotations

import ast
import io
import os
import pickle
from pathlib import Path

import numpy as np

from slr_models.errors import CheckpointImportError

_ALLOWED = {("numpy", "dtype"), ("numpy", "ndarray")} | {
    (f"numpy.{core}.multiarray", name) for core in ("core", "_core") for name in ("scalar", "_reconstruct")
}
_MAX_BYTES = 64 * 1024 * 1024


class _GlossDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a gloss dict")


def _npy_payload(raw: bytes, path: Path) -> bytes:
    if not raw.startswith(b"\x93NUMPY") or len(raw) < 10:
        raise CheckpointImportError("not a .npy file", path)
    major = raw[6]
    size_bytes = 2 if major == 1 else 4
    header_len = int.from_bytes(raw[8:8 + size_bytes], "little")
    start = 8 + size_bytes
    try:
        header = ast.literal_eval(raw[start:start + header_len].decode("latin1"))
    except (ValueError, SyntaxError) as exc:
        raise CheckpointImportError(f"bad .npy header ({exc})", path) from None
    if not isinstance(header, dict) or header.get("descr") != "|O" or tuple(header.get("shape", (1,))) != ():
        raise CheckpointImportError(f"expected a 0-d object array holding a dict, got header {header}", path)
    return raw[start + header_len:]


def read_gloss_dict(path: str | os.PathLike) -> list[str]:
    """The glosses of ``gloss_dict.npy`` in id order: ``result[i]`` has id ``i + 1`` (0 is the CTC blank).

    Raises :class:`CheckpointImportError` naming the file if it cannot be read, is not a dict of
    ``str -> id`` / ``str -> [id, count]``, or its ids are not exactly ``1..N``.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise CheckpointImportError(f"cannot read gloss dict ({exc.strerror or exc})", path) from None
    if len(raw) > _MAX_BYTES:
        raise CheckpointImportError(f"larger than {_MAX_BYTES // 2**20} MiB: not a gloss dict", path)
    try:
        data = _GlossDictUnpickler(io.BytesIO(_npy_payload(raw, path))).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointImportError(f"refused or unreadable pickle ({exc})", path) from None
    if isinstance(data, np.ndarray) and data.shape == ():
        data = data.item()
    if not isinstance(data, dict) or not data:
        raise CheckpointImportError(
            f"expected a non-empty dict {{gloss: [id, count]}}, got {type(data).__name__}", path
        )
    by_id: dict[int, str] = {}
    for gloss, value in data.items():
        index = value[0] if isinstance(value, (list, tuple)) and value else value
        if not isinstance(gloss, str) or isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise CheckpointImportError(f"expected str -> [int id, count], got {gloss!r} -> {value!r}", path)
        if int(index) in by_id:
            raise CheckpointImportError(
                f"id {int(index)} is used by {by_id[int(index)]!r} and {gloss!r}", path
            )
        by_id[int(index)] = gloss
    if sorted(by_id) != list(range(1, len(by_id) + 1)):
        raise CheckpointImportError(f"gloss ids must be exactly 1..{len(by_id)} (0 is the CTC blank)", path)
    return [by_id[i] for i in range(1, len(by_id) + 1)]
