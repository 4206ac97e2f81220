"""The registered models' default vocabulary matches the real PHOENIX-2014 gloss dictionary.

Uses the PHOENIX-2014 metadata when present (``SLR_PHOENIX2014_META``, or ``shared/data/phoenix2014``
found upwards from this file) and skips otherwise. ``gloss_dict.npy`` is read with an unpickler that
only admits what ``np.save`` of a dict of lists needs.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from slr_models import get_config, list_models

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _MetaUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _phoenix_meta() -> Path | None:
    env = os.environ.get("SLR_PHOENIX2014_META")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for ancestor in Path(__file__).resolve().parents:
        for candidate in (ancestor / "shared/data/phoenix2014", ancestor.parent / "shared/data/phoenix2014"):
            if (candidate / "gloss_dict.npy").is_file():
                return candidate
    return None


def _load_gloss_dict(path: Path) -> dict:
    with open(path, "rb") as fh:
        major, _ = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(fh)
        if dtype != np.dtype(object) or shape != ():
            raise ValueError(f"{path}: expected a pickled 0-d object array, got {dtype} {shape}")
        array = _MetaUnpickler(io.BytesIO(fh.read())).load()
    return array.item()


def test_default_num_classes_is_phoenix_glosses_plus_blank():
    meta = _phoenix_meta()
    if meta is None:
        pytest.skip("PHOENIX-2014 metadata not found (set SLR_PHOENIX2014_META or add shared/data/phoenix2014)")
    gloss_dict = _load_gloss_dict(meta / "gloss_dict.npy")
    assert len(gloss_dict) == 1295
    for name in list_models():
        assert get_config(name).num_classes == len(gloss_dict) + 1, name
