"""The layout of an slr-train checkpoint payload, written down once.

Every ``<stem>.pt`` is one ``torch.save`` dict (loaded with ``weights_only=True``) with a header
(:data:`HEADER_KEYS`: ``format_version``, ``step``, ``epoch``, ``kind``) and, by ``kind``:

* ``"step"`` / ``"epoch"`` (resumable, :data:`RESUMABLE_KEYS`): ``engine`` (the engine's
  ``state_dict()``: ``{"kind", "model", "optimizer", ...}``), ``trainer``, ``scheduler``,
  ``nonfinite``, ``rng`` (one entry per rank), ``world_size``, ``config`` (``TrainConfig.to_dict()``),
  ``ema`` (``None`` without EMA), ``sampler``, ``extra`` (the app's state, e.g. slr_phoenix's model
  config and vocabulary; ``None`` when not given) and, loaded with ``rank=``, this rank's ``shard``;
* ``"best"`` (:data:`BEST_KEYS`): ``model`` (the winning weights), ``weights`` (``"raw"`` or
  ``"ema"``), ``config``, ``extra``, ``dev`` (its dev WERs).

:class:`CheckpointRecord` is that layout as a frozen dataclass: writers build one and save
``to_payload()``, readers call ``CheckpointRecord.from_payload(payload, path)``, which checks
every required key and its type and raises a :class:`~slr_train.errors.CheckpointError` naming
the file and the key (``run/ckpt-000000010-step.pt: key 'trainer': missing ...``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from slr_train.errors import CheckpointError

FORMAT_VERSION = 1
"""Format of the payload (and of its manifest, :mod:`slr_train.manifest`)."""
KINDS = ("step", "epoch", "best")
WEIGHTS = ("raw", "ema")

HEADER_KEYS: dict[str, type] = {"format_version": int, "step": int, "epoch": int, "kind": str}
"""Written by :class:`~slr_train.checkpoint.CheckpointManager` into every payload."""
RESUMABLE_KEYS: dict[str, type | tuple[type, ...]] = {
    "engine": dict, "trainer": dict, "scheduler": dict, "nonfinite": dict, "rng": list, "world_size": int,
    "config": dict,
}
"""Required in a ``"step"`` / ``"epoch"`` checkpoint."""
BEST_KEYS: dict[str, type | tuple[type, ...]] = {"model": dict, "weights": str, "config": dict}
"""Required in a ``"best"`` checkpoint."""
OPTIONAL_KEYS: dict[str, type | tuple[type, ...]] = {
    "ema": (dict, type(None)), "sampler": dict, "extra": (dict, type(None)), "shard": dict, "dev": dict,
}
"""May be absent (``ema`` and ``extra`` may also be ``None``)."""


def required_keys(kind: str) -> dict[str, type | tuple[type, ...]]:
    """The keys (with their types) a ``kind`` checkpoint must hold, header included."""
    return {**HEADER_KEYS, **(BEST_KEYS if kind == "best" else RESUMABLE_KEYS)}


def header(*, step: int, epoch: int, kind: str) -> dict[str, Any]:
    """The header every payload starts with."""
    if kind not in KINDS:
        raise ValueError(f"checkpoint kind must be step, epoch or best, got {kind!r}")
    return {"format_version": FORMAT_VERSION, "step": step, "epoch": epoch, "kind": kind}


def check_header(payload: Any, path: str | os.PathLike) -> dict[str, Any]:
    """``payload`` if it is a dict of this format (a :class:`CheckpointError` naming ``path`` if not)."""
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"not an slr-train checkpoint of format {FORMAT_VERSION}", path)
    return payload


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("None" if k is type(None) else k.__name__ for k in kinds)


def _check_type(name: str, value: Any, kind: type | tuple[type, ...], path: str | None) -> None:
    bad_bool = isinstance(value, bool) and kind is int
    if bad_bool or not isinstance(value, kind):
        raise CheckpointError(f"expected {_type_name(kind)}, got {type(value).__name__}", path, key=name)


@dataclass(frozen=True)
class CheckpointRecord:
    """One checkpoint payload (module docstring); validated when built.

    ``source``: the file it was read from (for error messages; not saved).
    """

    kind: str
    step: int
    epoch: int
    config: dict[str, Any]
    extra: dict[str, Any] | None = None
    # resumable ("step" / "epoch")
    engine: dict[str, Any] | None = None
    trainer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    nonfinite: dict[str, Any] | None = None
    rng: list[Any] | None = None
    world_size: int | None = None
    ema: dict[str, Any] | None = None
    sampler: dict[str, Any] | None = None
    shard: dict[str, Any] | None = None
    # "best"
    model: dict[str, torch.Tensor] | None = None
    weights: str | None = None
    dev: dict[str, float] | None = None
    format_version: int = FORMAT_VERSION
    source: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CheckpointError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}", self.source,
                                  key="kind")
        if self.format_version != FORMAT_VERSION:
            raise CheckpointError(f"not an slr-train checkpoint of format {FORMAT_VERSION}", self.source)
        for name, kind in required_keys(self.kind).items():
            value = getattr(self, name)
            if value is None:
                raise CheckpointError(f"missing from this {self.kind} checkpoint", self.source, key=name)
            _check_type(name, value, kind, self.source)
        for name, kind in OPTIONAL_KEYS.items():
            value = getattr(self, name)
            if value is not None:
                _check_type(name, value, kind, self.source)
        if self.kind == "best" and self.weights not in WEIGHTS:
            raise CheckpointError(f"{self.weights!r} is not 'raw' or 'ema'", self.source, key="weights")

    @property
    def resumable(self) -> bool:
        return self.kind != "best"

    def to_payload(self) -> dict[str, Any]:
        """The dict to ``torch.save``: the header, the keys of its kind, and the optional keys that are
        set (``ema`` and ``extra`` of a resumable checkpoint are always written, ``None`` or not)."""
        payload = header(step=self.step, epoch=self.epoch, kind=self.kind)
        for name in (BEST_KEYS if self.kind == "best" else RESUMABLE_KEYS):
            payload[name] = getattr(self, name)
        always = ("ema", "extra") if self.resumable else ("extra",)
        for name in OPTIONAL_KEYS:
            value = getattr(self, name)
            if name != "shard" and (value is not None or name in always):  # shard: a file of its own
                payload[name] = value
        return payload

    @classmethod
    def from_payload(cls, payload: Any, path: str | os.PathLike | None = None) -> CheckpointRecord:
        """The record of a loaded payload (any key it does not know is ignored).

        Raises:
            CheckpointError: not a dict of this format, an unknown kind, a required key missing or a
                value of the wrong type; the message names ``path`` and the key.
        """
        source = None if path is None else os.fspath(path)
        if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"not an slr-train checkpoint of format {FORMAT_VERSION}", source)
        kind = payload.get("kind")
        if kind not in KINDS:
            raise CheckpointError(f"kind {kind!r} is not one of {', '.join(KINDS)}", source, key="kind")
        for name, expected in required_keys(kind).items():
            if name not in payload:
                raise CheckpointError(f"missing from this {kind} checkpoint", source, key=name)
            _check_type(name, payload[name], expected, source)
        known = {f.name for f in fields(cls)} - {"source"}
        return cls(**{k: v for k, v in payload.items() if k in known}, source=source)

    def model_state(self, weights: str = "auto") -> dict[str, torch.Tensor]:
        """The model weights to evaluate: ``"auto"`` (a best checkpoint's winning weights; otherwise
        EMA when present), ``"raw"`` or ``"ema"``. Best checkpoints hold only their winning weights."""
        if weights not in ("auto", *WEIGHTS):
            raise ValueError(f"weights must be 'auto', 'raw' or 'ema', got {weights!r}")
        if self.kind == "best":
            if weights not in ("auto", self.weights):
                raise ValueError(f"this best checkpoint holds {self.weights!r} weights, not {weights!r}")
            return self.model
        model = self.engine.get("model")
        if not isinstance(model, dict):
            raise CheckpointError("the engine state holds no model weights", self.source, key="engine.model")
        ema = self.ema
        if weights == "raw" or (weights == "auto" and ema is None):
            return model
        if ema is None:
            raise ValueError("the checkpoint has no EMA weights (EMA was disabled)")
        return {k: ema["params"].get(k, ema["buffers"].get(k, v)).to(v.dtype) for k, v in model.items()}

    def weights_used(self, weights: str = "auto") -> str:
        """Which weights :meth:`model_state` returns for ``weights``: ``"raw"`` or ``"ema"``."""
        if self.kind == "best":
            return self.weights
        if weights == "auto":
            return "ema" if self.ema is not None else "raw"
        return weights
