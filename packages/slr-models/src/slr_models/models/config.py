"""Frozen, serialisable configuration of the Mamba2 CTC model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from slr_models.errors import ModelConfigError
from slr_models.layers.common import MODEL_BACKENDS

_TUPLE_FIELDS = ("stem_dims", "attention_layers", "temporal_downsample_at")
GLOBAL_POOLS = ("avg", "max", "avgmax")


class ModelConfigMixin:
    """``to_dict`` / ``from_dict`` / ``replace`` shared by the frozen model configs of every family.

    A subclass is a frozen dataclass with a ``FAMILY`` class variable; ``to_dict()`` carries it
    (``family``), ``from_dict`` accepts it (or its absence) and refuses another family.
    """

    FAMILY: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-serialisable dict with ``family`` (tuples become lists)."""
        out = {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}
        return {"family": self.FAMILY, **out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Inverse of :meth:`to_dict` (``family`` optional); unknown keys raise a ``ValueError`` naming them."""
        data = dict(data)
        family = data.pop("family", cls.FAMILY)
        if family != cls.FAMILY:
            raise ModelConfigError(f"config family {family!r} is not {cls.FAMILY!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelConfigError(
                f"unknown {cls.__name__} field(s) {unknown}; valid fields: {sorted(known)}"
            )
        return cls(**data)

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied (validated like the constructor; a ``family`` key is ignored)."""
        changes.pop("family", None)
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ModelConfigError(f"unknown {type(self).__name__} field(s) {unknown}")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class SLRMambaConfig(ModelConfigMixin):
    """Everything needed to rebuild an :class:`~slr_models.models.SLRMambaCTC` (weights aside).

    Input: frames ``(F, in_chans, img_size, img_size)`` plus, if ``heatmap_channels > 0``,
    keypoint heatmaps ``(F, heatmap_channels, h, w)`` resized and stacked as extra input channels.
    Stem: patchify by 4 then one 2x downsampling stage per ``stem_dims`` entry (total stride
    ``4 * 2 ** len(stem_dims)``) to a ``grid x grid`` patch grid plus a cls token.
    Blocks (``depth``): spatial four-direction Mamba2 (self-attention at the indices in
    ``attention_layers``), bidirectional temporal Mamba2, FFN (``mlp_ratio``); pre-norm residual with
    drop path rising linearly to ``drop_path_rate``. ``temporal_downsample_at`` lists positions
    ``i`` in ``[0, depth]`` where frames are merged by ``temporal_stride`` before block ``i``
    (``i == depth``: before the head). Head: final norm, ``[pooled patches, cls]`` -> linear ->
    log-softmax over ``num_classes`` (blank = 0), the patches pooled by ``global_pool``: ``"avg"``
    (mean, the reference design), ``"max"`` or ``"avgmax"`` (both, concatenated).
    """

    FAMILY: ClassVar[str] = "slr_mamba"

    name: str = "custom"
    num_classes: int = 1296
    img_size: int = 224
    in_chans: int = 3
    heatmap_channels: int = 0
    stem_dims: tuple[int, ...] = (128, 256)
    stem_blocks: int = 1
    d_model: int = 512
    depth: int = 12
    d_state: int = 64
    expand: int = 2
    headdim: int = 64
    ngroups: int = 1
    spatial_conv: int = 3
    temporal_conv: int = 4
    chunk_size: int = 64
    mlp_ratio: float = 4.0
    attention_layers: tuple[int, ...] = ()
    attention_heads: int = 8
    temporal_downsample_at: tuple[int, ...] = ()
    temporal_stride: int = 2
    global_pool: str = "avg"
    drop_path_rate: float = 0.1
    norm_eps: float = 1e-5
    rms_norm: bool = False
    backend: str = "auto"

    def __post_init__(self) -> None:
        for name in _TUPLE_FIELDS:  # accept lists (from JSON/YAML) but store tuples
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        positive = ("num_classes", "img_size", "in_chans", "d_model", "depth", "d_state", "expand", "headdim",
                    "ngroups", "spatial_conv", "temporal_conv", "chunk_size", "attention_heads", "temporal_stride")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ModelConfigError(f"SLRMambaConfig.{name} must be a positive int, got {value!r}")
        if self.num_classes < 2:
            raise ModelConfigError(
                f"SLRMambaConfig.num_classes must be >= 2 (blank + 1 gloss), got {self.num_classes}"
            )
        if self.heatmap_channels < 0 or self.stem_blocks < 0:
            raise ModelConfigError("SLRMambaConfig.heatmap_channels and stem_blocks must be >= 0")
        stride = 4 * 2 ** len(self.stem_dims)
        if self.img_size % stride != 0:
            raise ModelConfigError(
                f"SLRMambaConfig.img_size {self.img_size} must be a multiple of the stem stride {stride} "
                f"(4 * 2**len(stem_dims), stem_dims={self.stem_dims})"
            )
        if (self.expand * self.d_model) % self.headdim != 0:
            raise ModelConfigError(f"expand * d_model ({self.expand * self.d_model}) must be a multiple of headdim "
                             f"({self.headdim})")
        if ((self.expand * self.d_model) // self.headdim) % self.ngroups != 0:
            raise ModelConfigError(f"the number of heads must be a multiple of ngroups ({self.ngroups})")
        if any(not 0 <= i < self.depth for i in self.attention_layers):
            raise ModelConfigError(
                f"attention_layers {self.attention_layers} must be block indices in [0, {self.depth})"
            )
        if self.attention_layers and self.d_model % self.attention_heads != 0:
            raise ModelConfigError(
                f"d_model ({self.d_model}) must be a multiple of attention_heads ({self.attention_heads})"
            )
        if any(not 0 <= i <= self.depth for i in self.temporal_downsample_at):
            raise ModelConfigError(
                f"temporal_downsample_at {self.temporal_downsample_at} must be positions in [0, {self.depth}]"
            )
        if len(set(self.temporal_downsample_at)) != len(self.temporal_downsample_at):
            raise ModelConfigError(f"temporal_downsample_at {self.temporal_downsample_at} has duplicates")
        if self.temporal_downsample_at and self.temporal_stride < 2:
            raise ModelConfigError("temporal_stride must be >= 2 when temporal_downsample_at is set")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ModelConfigError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")
        if self.mlp_ratio <= 0:
            raise ModelConfigError(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        if self.global_pool not in GLOBAL_POOLS:
            raise ModelConfigError(f"global_pool must be one of {GLOBAL_POOLS}, got {self.global_pool!r}")
        if self.backend not in MODEL_BACKENDS:
            raise ModelConfigError(f"backend must be one of {MODEL_BACKENDS}, got {self.backend!r}")

    @property
    def grid(self) -> int:
        """Patch grid side: ``img_size / (4 * 2 ** len(stem_dims))``."""
        return self.img_size // (4 * 2 ** len(self.stem_dims))

    @property
    def temporal_reduction(self) -> int:
        """Overall temporal stride (``temporal_stride ** len(temporal_downsample_at)``)."""
        return self.temporal_stride ** len(self.temporal_downsample_at)
