"""timm-style model registry: ``create_model(name, num_classes, **overrides)``."""

from __future__ import annotations

from typing import Any, Callable

from slr_models.models.config import SLRMambaConfig
from slr_models.models.ctc import SLRMambaCTC

_REGISTRY: dict[str, Callable[[], SLRMambaConfig]] = {}


def register_model(fn: Callable[[], SLRMambaConfig]) -> Callable[[], SLRMambaConfig]:
    """Decorator: register a zero-argument function returning a config under the function's name."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = fn
    return fn


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get_config(model_name: str, /, **overrides: Any) -> SLRMambaConfig:
    """The registered config of ``model_name`` with ``overrides`` applied (``name`` must match if given)."""
    if model_name not in _REGISTRY:
        raise ValueError(f"unknown model {model_name!r}; registered models: {', '.join(list_models())}")
    if overrides.get("name", model_name) != model_name:
        raise ValueError(f"override name={overrides['name']!r} does not match model {model_name!r}")
    return _REGISTRY[model_name]().replace(**overrides)


def create_model(model_name: str, num_classes: int | None = None, /, **overrides: Any) -> SLRMambaCTC:
    """Build a registered model. ``num_classes`` (including the CTC blank 0) and any other
    :class:`SLRMambaConfig` field can be overridden; ``create_model(d["name"], **d)`` with
    ``d = model.config.to_dict()`` rebuilds the same architecture."""
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return SLRMambaCTC(get_config(model_name, **overrides))


def create_model_from_config(config: SLRMambaConfig | dict[str, Any]) -> SLRMambaCTC:
    """Build a model from a config or its ``to_dict()`` form (the name need not be registered)."""
    if isinstance(config, dict):
        config = SLRMambaConfig.from_dict(config)
    return SLRMambaCTC(config)


@register_model
def slr_mamba_tiny() -> SLRMambaConfig:
    """Fast on 2 CPU cores: 32 px input, patchify + one downsampling conv to a 4x4 grid + cls (no
    ConvNeXt blocks in the stem), d_model 64, 2 blocks, expand 1, temporal stride 1. Patch tokens are
    max-pooled for the head: small signing hands/objects then reach the classifier undiluted (see the
    README: with mean pooling it did not even fit 160 synthetic training videos in 20 epochs)."""
    return SLRMambaConfig(
        name="slr_mamba_tiny", img_size=32, stem_dims=(32,), stem_blocks=0, d_model=64, depth=2, d_state=16,
        expand=1, headdim=16, chunk_size=32, mlp_ratio=2.0, global_pool="max", drop_path_rate=0.0,
    )


@register_model
def slr_mamba_small() -> SLRMambaConfig:
    """Between tiny and base: 112 px input, 7x7 grid + cls, d_model 256, 8 blocks, temporal stride 2."""
    return SLRMambaConfig(
        name="slr_mamba_small", img_size=112, stem_dims=(64, 128), d_model=256, depth=8, d_state=64,
        headdim=64, temporal_downsample_at=(4,), drop_path_rate=0.1,
    )


@register_model
def slr_mamba_base() -> SLRMambaConfig:
    """The reference design: 224 px input, 14x14 grid + cls, d_model 512, 12 blocks."""
    return SLRMambaConfig(
        name="slr_mamba_base", img_size=224, stem_dims=(128, 256), d_model=512, depth=12, d_state=64,
        headdim=64, drop_path_rate=0.1,
    )
