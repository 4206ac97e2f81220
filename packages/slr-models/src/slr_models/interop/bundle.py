"""A self-contained model file: config, float32 weights, vocabulary and preprocessing.

``slr-models import-mamba-slr`` writes one; ``slr-phoenix evaluate`` / ``predict`` accept it as a
checkpoint. Layout (``torch.save`` of plain data, loadable with ``weights_only=True``)::

    {"format": "slr-model-bundle", "format_version": 1,
     "model": model.config.to_dict(), "state_dict": {name: tensor},
     "glosses": [gloss of id 1, gloss of id 2, ...],           # id 0 is the CTC blank
     "preprocessing": {"resize": 256, "crop": 224, "interpolation": "bicubic",
                       "mean": [...], "std": [...], "frame_tree": "256x256px"},
     "source": {...}}                                           # where the weights came from
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from slr_models.errors import CheckpointImportError, ModelConfigError
from slr_models.interop.safe_load import safe_torch_load

BUNDLE_FORMAT = "slr-model-bundle"
BUNDLE_VERSION = 1


@dataclass(frozen=True)
class Preprocessing:
    """How frames must be prepared for the model: resize the short side to ``resize`` (``None``: no
    resize), centre-crop ``crop`` x ``crop``, scale to [0, 1], normalise with ``mean``/``std``.
    ``frame_tree`` names the PHOENIX frame folder the model was trained on (e.g. ``256x256px``)."""

    resize: int | None = 256
    crop: int = 224
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    frame_tree: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        return out


def save_bundle(path: str | os.PathLike, model: torch.nn.Module, glosses: list[str], preprocessing: Preprocessing,
                source: dict[str, Any]) -> Path:
    """Write ``model`` (its ``config`` and float32 weights) with its vocabulary atomically to ``path``."""
    path = Path(path)
    if len(glosses) + 1 != model.config.num_classes:
        raise ModelConfigError(
            f"{len(glosses)} glosses + blank != the model's {model.config.num_classes} classes"
        )
    payload = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "model": model.config.to_dict(),
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
        "glosses": list(glosses),
        "preprocessing": preprocessing.to_dict(),
        "source": source,
    }
    target = Path(os.path.realpath(path))  # a symlink is written through: the link stays
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def is_bundle(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("format") == BUNDLE_FORMAT


def load_bundle(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a bundle (no code runs from the pickle); errors name the file."""
    return check_bundle(safe_torch_load(path, extra_globals=()), path)


def check_bundle(payload: Any, path: str | os.PathLike = "<bundle>") -> dict[str, Any]:
    """``payload`` (an already loaded file) if it is a bundle of this format version with every
    entry, else :class:`CheckpointImportError` naming ``path``."""
    if not is_bundle(payload):
        raise CheckpointImportError(f"not an {BUNDLE_FORMAT} file", path)
    if payload.get("format_version") != BUNDLE_VERSION:
        raise CheckpointImportError(f"bundle format_version {payload.get('format_version')!r} is not "
                                          f"{BUNDLE_VERSION}", path)
    missing = [k for k in ("model", "state_dict", "glosses", "preprocessing") if k not in payload]
    if missing:
        raise CheckpointImportError(f"bundle lacks {missing}", path)
    return payload


def model_from_bundle(payload: dict[str, Any], path: str | os.PathLike = "<bundle>") -> torch.nn.Module:
    """The bundle's model with its weights loaded (float32, eval mode, CPU)."""
    from slr_models.models import create_model_from_config

    try:
        model = create_model_from_config(dict(payload["model"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointImportError(f"bad model config in bundle: {exc}", path) from None
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, ValueError) as exc:
        raise CheckpointImportError(f"weights do not fit the model config: {exc}", path) from None
    return model.float().eval()
