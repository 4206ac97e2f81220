"""Initialise a model from weights in a file (``TrainConfig.init_from``, ``slr-phoenix train --init-from``).

Four kinds of file are understood:

* an slr-train checkpoint (``ckpt-*.pt`` / ``best-*.pt``; verified against its manifest when
  the manifest is beside it): the weights :func:`slr_train.eval_model_state` would evaluate
  (``weights="auto"``), or explicitly the ``raw`` or ``ema`` ones;
* a ``.pth`` file holding a state dict, directly or under the first of ``keys`` it has
  (Mamba_SLR's ``checkpoint-*.pth`` layout ``{"model", "model_ema", "optimizer", "epoch",
  "scaler", "args"}``; DeepSpeed's ``mp_rank_00_model_states.pt`` keeps it under ``"module"``);
* an slr-model bundle (``slr-models import-mamba-slr``'s output, :mod:`slr_models.interop.bundle`):
  its ``state_dict``;
* an image-pretrained Mamba_SLR backbone, whose ``layers.N.mixer.*`` / ``layers.N.norm.*`` /
  ``layers.N.norm2.*`` keys are renamed to ``layers.N.spatial_mixer.*`` /
  ``layers.N.spatial_norm.*`` / ``layers.N.mlp_norm.*`` exactly as Mamba_SLR's
  ``main.py --finetune`` does (``remap``).

Files are read with ``torch.load(weights_only=True)`` and an explicit allowlist
(:data:`ALLOWED_GLOBALS`: ``argparse.Namespace``, which Mamba_SLR stores as ``"args"``, and
NumPy scalars); nothing in a file can run code, and a file needing any other Python object is
refused with :class:`InitFromError` naming the file and the object. Mamba_SLR's
``--finetune`` deletes ``head.weight`` / ``head.bias`` unconditionally; here a tensor under
``head_prefix`` is left at its initial value only when its shape differs (another class
count), so a checkpoint of the same vocabulary keeps its head. Any other shape mismatch, or a
file of which no tensor fits the model, is an error.

:func:`plan_init` is the pure part (state dicts in, tensors to load and an :class:`InitReport`
out); :func:`init_model_from` reads the file and loads the model in place.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from slr_train.checkpoint import FORMAT_VERSION, CheckpointError, verify_manifest
from slr_train.checkpoint_layout import KINDS, CheckpointRecord
from slr_train.config import InitFromConfig
from slr_train.errors import InitFromError
from slr_train.param_groups import unwrap_model

_BACKBONE_KEY = re.compile(r"^layers\.(\d+)\.(mixer|norm2|norm)\.(.*)$")
_BACKBONE_RENAME = {"mixer": "spatial_mixer", "norm2": "mlp_norm", "norm": "spatial_norm"}


def _numpy_globals() -> list[Any]:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with torch here
        return []
    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    # a scalar is pickled as scalar(dtype, raw bytes); NumPy 1.x pickles name it
    # numpy.core.multiarray.scalar, NumPy 2 numpy._core.multiarray.scalar, and NumPy >= 1.25
    # builds the dtype through its class (numpy.dtypes.Float64DType, ...)
    dtype_classes = [c for c in vars(getattr(np, "dtypes", object)).values()
                     if isinstance(c, type) and issubclass(c, np.dtype)]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype,
            *dtype_classes]


ALLOWED_GLOBALS: list[Any] = [argparse.Namespace, *_numpy_globals()]
"""What ``torch.load(weights_only=True)`` may build besides tensors and plain containers."""


@dataclass(frozen=True)
class InitReport:
    """What :func:`plan_init` / :func:`init_model_from` did with a file's tensors.

    ``loaded``: model tensors taken from the file; ``left_at_init``: model tensors the file
    does not provide (or whose head shape differs); ``ignored``: file tensors (by their names in
    the file) the model has no use for; ``head_dropped``: the head tensors of another shape;
    ``renamed``: ``(name in the file, model name)`` pairs of the backbone remap.
    """

    path: str
    source: str
    loaded: tuple[str, ...]
    left_at_init: tuple[str, ...]
    ignored: tuple[str, ...]
    head_dropped: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()

    def format(self) -> str:
        """One line for the log."""
        text = (f"initialised the model from {self.path} ({self.source}): {len(self.loaded)} tensors loaded, "
                f"{len(self.left_at_init)} left at their initial values, {len(self.ignored)} of the file ignored")
        if self.renamed:
            text += (f"; {len(self.renamed)} Mamba_SLR backbone keys renamed (layers.N.mixer/norm/norm2 -> "
                     "spatial_mixer/spatial_norm/mlp_norm)")
        if self.head_dropped:
            text += f"; head dropped (its shape differs: another class count): {_some(self.head_dropped)}"
        if self.left_at_init:
            text += f"; left at init: {_some(self.left_at_init)}"
        if self.ignored:
            text += f"; ignored: {_some(self.ignored)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Counts and names as plain data."""
        return {"path": self.path, "source": self.source, "loaded": len(self.loaded),
                "left_at_init": list(self.left_at_init), "ignored": list(self.ignored),
                "head_dropped": list(self.head_dropped), "renamed": len(self.renamed)}


def _some(names: tuple[str, ...] | list[str], limit: int = 6, sep: str = ", ") -> str:
    shown = sep.join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


# ------------------------------------------------------------------------------------ reading
def torch_load_allowlisted(path: str | Path) -> Any:
    """``torch.load(path, weights_only=True)`` with :data:`ALLOWED_GLOBALS`; errors name the file."""
    path = Path(path)
    if path.is_dir():
        raise InitFromError("is a directory, not a weights file", path)
    if not path.is_file():
        raise InitFromError("no such weights file", path)
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors of every kind: one line naming the file
        message = str(e)
        needed = re.search(r"GLOBAL (\S+)", message) or re.search(r"but got <class '([^'\s]+)'>", message)
        if needed:
            raise InitFromError(f"refused: loading it would build the Python object {needed.group(1)}, "
                                "which is not allowed (only tensors, plain containers, argparse.Namespace and "
                                "NumPy scalars are)", path) from None
        first = next((line.strip() for line in message.splitlines() if line.strip()), type(e).__name__)
        raise InitFromError(f"cannot be read as a torch weights file ({type(e).__name__}: "
                            f"{first[:200]})", path) from None


def _is_state_dict(value: Any) -> bool:
    return (isinstance(value, Mapping) and len(value) > 0
            and all(isinstance(k, str) and torch.is_tensor(v) for k, v in value.items()))


def _is_slr_checkpoint(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "format_version" in obj and obj.get("kind") in KINDS


def _is_model_bundle(obj: Any) -> bool:
    from slr_models.interop import is_bundle

    return is_bundle(obj)


def select_state_dict(obj: Any, path: str | Path, config: InitFromConfig) -> tuple[dict[str, torch.Tensor], str]:
    """The state dict to initialise from in the loaded file ``obj`` and a description of where it was."""
    if _is_model_bundle(obj):
        from slr_models.interop.bundle import BUNDLE_VERSION

        if obj.get("format_version") != BUNDLE_VERSION:
            raise InitFromError(f"slr-model bundle of format_version {obj.get('format_version')!r}, "
                                f"not {BUNDLE_VERSION}", path)
        if not _is_state_dict(obj.get("state_dict")):
            raise InitFromError("slr-model bundle without a state_dict (names -> tensors)", path)
        model = obj.get("model") if isinstance(obj.get("model"), Mapping) else {}
        source = obj.get("source") if isinstance(obj.get("source"), Mapping) else {}
        origin = f", from {source['codebase']}" if isinstance(source.get("codebase"), str) else ""
        return dict(obj["state_dict"]), f"slr-model bundle of {model.get('name', 'a model')}{origin}"
    if _is_slr_checkpoint(obj):
        if obj.get("format_version") != FORMAT_VERSION:
            raise InitFromError(f"slr-train checkpoint of format {obj.get('format_version')!r}, "
                                f"not {FORMAT_VERSION}", path)
        manifest = Path(path).with_suffix(".json")
        if manifest.is_file():
            verify_manifest(manifest)  # CheckpointError naming the file if it does not match
        try:
            record = CheckpointRecord.from_payload(dict(obj), path)
            state = record.model_state(config.weights)
        except CheckpointError as e:
            raise InitFromError(e.message, path, key=e.key) from None
        except (KeyError, ValueError) as e:
            raise InitFromError(str(e), path) from None
        which = record.weights_used(config.weights)
        return dict(state), f"slr-train {record.kind} checkpoint, {which} weights"
    if isinstance(obj, Mapping):
        for key in config.keys:
            if _is_state_dict(obj.get(key)):
                return dict(obj[key]), f"state dict under {key!r}"
    if _is_state_dict(obj):
        return dict(obj), "state dict"
    top = sorted(map(str, obj))[:8] if isinstance(obj, Mapping) else type(obj).__name__
    raise InitFromError(f"holds neither a state dict (names -> tensors) nor one under any of the keys "
                        f"{list(config.keys)} (init_from.keys); it has {top}", path)


# ----------------------------------------------------------------------------------- planning
def backbone_renames(names: list[str], model_names: set[str] | None) -> dict[str, str]:
    """``{old: new}`` for Mamba_SLR backbone keys (``layers.N.{mixer,norm,norm2}.*``).

    With ``model_names`` (``remap="auto"``) a key is renamed only when the model lacks its old
    name and has the new one; without (``remap="mamba_slr"``) every such key is.
    """
    out = {}
    for name in names:
        m = _BACKBONE_KEY.match(name)
        if not m:
            continue
        new = f"layers.{m.group(1)}.{_BACKBONE_RENAME[m.group(2)]}.{m.group(3)}"
        if model_names is None or (name not in model_names and new in model_names):
            out[name] = new
    return out


def plan_init(model_state: Mapping[str, torch.Tensor], source: Mapping[str, torch.Tensor], *,
              path: str = "<weights>", source_desc: str = "state dict", prefix: str = "", remap: str = "auto",
              head_prefix: str = "head.") -> tuple[dict[str, torch.Tensor], InitReport]:
    """Which of ``source``'s tensors initialise which of ``model_state``'s (nothing is modified).

    Returns the tensors to load (model names, model dtypes) and the report. Raises
    :class:`InitFromError` naming ``path`` on a shape mismatch outside ``head_prefix``, on two
    file tensors mapping to one model name, and when no tensor fits at all.
    """
    if remap not in ("auto", "mamba_slr", "none"):
        raise ValueError(f"remap must be 'auto', 'mamba_slr' or 'none', got {remap!r}")
    ignored: list[str] = []
    named: dict[str, tuple[str, torch.Tensor]] = {}  # name after prefix/remap -> (name in the file, tensor)
    stripped = {}
    for name, tensor in source.items():
        if prefix and not name.startswith(prefix):
            ignored.append(name)
        else:
            stripped[name[len(prefix):]] = (name, tensor)
    renames = {} if remap == "none" else backbone_renames(list(stripped), set(model_state) if remap == "auto" else None)
    for name, (original, tensor) in stripped.items():
        target = renames.get(name, name)
        if target in named:
            raise InitFromError(f"both {named[target][0]} and {original} would initialise {target}", path)
        named[target] = (original, tensor)
    loaded: dict[str, torch.Tensor] = {}
    left, head_dropped, mismatched = [], [], []
    for name, current in model_state.items():
        entry = named.get(name)
        if entry is None:
            left.append(name)
            continue
        original, tensor = entry
        if tuple(tensor.shape) != tuple(current.shape):
            if head_prefix and name.startswith(head_prefix):
                head_dropped.append(name)
                left.append(name)
            else:
                mismatched.append(f"{original} is {tuple(tensor.shape)} in the file, {tuple(current.shape)} "
                                  f"in the model")
            continue
        loaded[name] = tensor.detach().to(dtype=current.dtype)
    if mismatched:
        raise InitFromError(f"{len(mismatched)} tensor(s) do not fit the model: {_some(mismatched, 3, '; ')}", path)
    if not loaded:
        raise InitFromError(f"none of its {len(source)} tensors fits a model tensor (file: "
                            f"{_some(list(source), 3)}; model: {_some(list(model_state), 3)}); check "
                            "init_from.prefix / init_from.remap", path)
    ignored += [named[n][0] for n in named if n not in model_state]
    ignored += [named[n][0] for n in head_dropped]
    report = InitReport(path=str(path), source=source_desc, loaded=tuple(loaded), left_at_init=tuple(left),
                        ignored=tuple(ignored), head_dropped=tuple(head_dropped),
                        renamed=tuple(sorted((old, new) for old, new in renames.items())))
    return loaded, report


# ------------------------------------------------------------------------------------ loading
def init_model_from(model: nn.Module, config: InitFromConfig) -> InitReport:
    """Loads ``config.path`` into ``model`` (its unwrapped module) in place; returns the report."""
    if config.path is None:
        raise ValueError("init_from.path is not set")
    path = Path(config.path).expanduser()
    module = unwrap_model(model)
    source, desc = select_state_dict(torch_load_allowlisted(path), path, config)
    tensors, report = plan_init(module.state_dict(), source, path=str(path), source_desc=desc,
                                prefix=config.prefix, remap=config.remap, head_prefix=config.head_prefix)
    result = module.load_state_dict(tensors, strict=False)
    if result.unexpected_keys:  # cannot happen: plan_init only returns model names
        raise RuntimeError(f"unexpected keys while initialising from {path}: {result.unexpected_keys}")
    return report
