"""Loading other codebases' checkpoints without running code from their pickles.

``torch.load(weights_only=True)`` resolves only tensors, storages and plain containers; a
checkpoint may need a few more classes (the original's ``args`` is an ``argparse.Namespace``),
which are allowed explicitly. Any other global in the pickle is refused, and the error names the
file and the global.
"""

from __future__ import annotations

import argparse
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from slr_models.errors import CheckpointImportError

#: Classes a Mamba_SLR checkpoint may hold beyond torch's weights-only defaults (its ``args``).
EXTRA_SAFE_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def safe_torch_load(path: str | os.PathLike, extra_globals: tuple[type, ...] = EXTRA_SAFE_GLOBALS) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with ``extra_globals`` allowed.

    Raises :class:`CheckpointImportError` naming the file for a missing/unreadable file, a file
    that is not a torch checkpoint, and any pickle global outside the allowlist.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointImportError("no such checkpoint file", path)
    try:
        with torch.serialization.safe_globals(list(extra_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).split("\n\n")[0].strip() if str(exc) else type(exc).__name__
        raise CheckpointImportError(f"refused to load: it needs code outside the allowlist of plain data, "
                                          f"tensors and {', '.join(c.__qualname__ for c in extra_globals)} "
                                          f"({reason})", path) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, IndexError,
            TypeError, AttributeError) as exc:  # what torch raises on a file that is not a checkpoint
        raise CheckpointImportError(f"not a readable torch checkpoint ({type(exc).__name__}: "
                                          f"{str(exc).splitlines()[0] if str(exc) else ''})", path) from None
