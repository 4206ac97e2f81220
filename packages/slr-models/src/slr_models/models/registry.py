"""timm-style model registry: ``create_model(name, num_classes, **overrides)``."""

from __future__ import annotations

from typing import Any, Callable, Union

import torch.nn as nn

from slr_models.errors import ModelConfigError, UnknownModelError
from slr_models.models.config import SLRMambaConfig
from slr_models.models.ctc import SLRMambaCTC
from slr_models.models.mamba_slr import MambaSLRConfig, MambaSLRCTC

ModelConfig = Union[SLRMambaConfig, MambaSLRConfig]
#: Model families: config class -> model class; a config dict names its family (default ``slr_mamba``).
FAMILIES: dict[str, tuple[type, type[nn.Module]]] = {
    SLRMambaConfig.FAMILY: (SLRMambaConfig, SLRMambaCTC),
    MambaSLRConfig.FAMILY: (MambaSLRConfig, MambaSLRCTC),
}
_REGISTRY: dict[str, Callable[[], ModelConfig]] = {}


def register_model(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
    """Decorator: register a zero-argument function returning a config under the function's name."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} is already registered")
    _REGISTRY[name] = fn
    return fn


def list_models() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get_config(model_name: str, /, **overrides: Any) -> ModelConfig:
    """The registered config of ``model_name`` with ``overrides`` applied (``name`` must match if given)."""
    if model_name not in _REGISTRY:
        raise UnknownModelError(
            f"unknown model {model_name!r}; registered models: {', '.join(list_models())}"
        )
    if overrides.get("name", model_name) != model_name:
        raise ModelConfigError(f"override name={overrides['name']!r} does not match model {model_name!r}")
    return _REGISTRY[model_name]().replace(**overrides)


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """A config from its ``to_dict()`` form; ``data["family"]`` picks the class (``slr_mamba`` if absent)."""
    family = data.get("family", SLRMambaConfig.FAMILY)
    if family not in FAMILIES:
        raise UnknownModelError(f"unknown model family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[family][0].from_dict(data)


def build_model(config: ModelConfig) -> nn.Module:
    """The model of a config (of any family)."""
    for config_cls, model_cls in FAMILIES.values():
        if isinstance(config, config_cls):
            return model_cls(config)
    raise TypeError(f"not a model config: {type(config).__name__}")


def create_model(model_name: str, num_classes: int | None = None, /, **overrides: Any) -> nn.Module:
    """Build a registered model. ``num_classes`` (including the CTC blank 0) and any other field of
    the model's config can be overridden; ``create_model(d["name"], **d)`` with
    ``d = model.config.to_dict()`` rebuilds the same architecture."""
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return build_model(get_config(model_name, **overrides))


def create_model_from_config(config: ModelConfig | dict[str, Any]) -> nn.Module:
    """Build a model from a config or its ``to_dict()`` form (the name need not be registered)."""
    if isinstance(config, dict):
        config = config_from_dict(config)
    return build_model(config)


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


@register_model
def mamba_slr_base() -> MambaSLRConfig:
    """Mamba_SLR as its ``run_phoenix.sh`` trains it: 224 px, stem stride 16 (14x14 patches + cls), d_model
    512, 12 blocks, expand 2, headdim 64, spatial d_state 16 / 4 groups (one per direction), temporal
    d_state 32 / 2 groups, attention (8 heads) in the spatial slot of block 4, MLP 4x, drop path 0.4,
    head dropout 0.1: 57,154,016 parameters for 1296 classes."""
    return MambaSLRConfig(name="mamba_slr_base")


@register_model
def mamba_slr_tiny() -> MambaSLRConfig:
    """The Mamba_SLR architecture small enough for CPU tests and short CPU runs: 32 px (2x2 patches +
    cls), d_model 64, 2 blocks (attention in block 1), headdim 16, chunk 32, no drop path."""
    return MambaSLRConfig(name="mamba_slr_tiny", img_size=32, d_model=64, depth=2, headdim=16, chunk_size=32,
                          attention_layers=(1,), drop_path_rate=0.0)
