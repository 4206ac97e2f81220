"""AdamW parameter groups: layer-wise lr decay and no weight decay on norms, biases and 1-D params.

The model contract (docs/interfaces.md): ``model.layer_decay_id(name) -> int`` in
``[0, model.num_decay_layers)`` and ``model.no_weight_decay() -> set[str]``. Nothing here assumes
more than that range: which parameter gets which id is the model's choice (conventionally 0 =
stem, ``i + 1`` = block ``i``, last = final norm and head; Mamba_SLR's grouping also puts its
temporal layers in the last group). Id ``i`` gets ``layer_decay ** (num_decay_layers - 1 - i)``.
Models without the methods get one layer (scale 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase, nn.LocalResponseNorm)
if hasattr(nn, "RMSNorm"):
    _NORM_TYPES = _NORM_TYPES + (nn.RMSNorm,)


@dataclass(frozen=True)
class ParamGroup:
    """One optimiser group: every parameter shares ``layer_id``, ``lr_scale`` and ``weight_decay``."""

    layer_id: int
    lr_scale: float
    weight_decay: float
    names: tuple[str, ...]
    params: tuple[nn.Parameter, ...]


def unwrap_model(model: nn.Module) -> nn.Module:
    """The user's module inside DDP / DeepSpeed / EMA wrappers (anything with ``.module``)."""
    while isinstance(getattr(model, "module", None), nn.Module):
        model = model.module
    return model


def _norm_param_names(model: nn.Module) -> set[str]:
    names = set()
    for module_name, module in model.named_modules():
        if isinstance(module, _NORM_TYPES) or type(module).__name__.lower().endswith("norm"):
            for param_name, _ in module.named_parameters(recurse=False):
                names.add(f"{module_name}.{param_name}" if module_name else param_name)
    return names


def _matches(name: str, patterns: set[str]) -> bool:
    return any(name == p or name.endswith("." + p) for p in patterns)


def no_weight_decay_names(model: nn.Module) -> set[str]:
    """Names of trainable parameters that get no weight decay (norms, biases, 1-D, model's list)."""
    model = unwrap_model(model)
    explicit = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    norms = _norm_param_names(model)
    return {
        name
        for name, param in model.named_parameters()
        if param.requires_grad
        and (param.ndim <= 1 or name.endswith(".bias") or name in norms or _matches(name, explicit))
    }


def layer_lr_scales(num_layers: int, layer_decay: float) -> list[float]:
    """``scale[i] = layer_decay ** (num_layers - 1 - i)``: the head keeps the peak lr."""
    if num_layers < 1:
        raise ValueError(f"num_decay_layers must be >= 1, got {num_layers}")
    return [layer_decay ** (num_layers - 1 - i) for i in range(num_layers)]


def assign_param_groups(model: nn.Module, *, weight_decay: float, layer_decay: float) -> list[ParamGroup]:
    """Groups of trainable parameters keyed by (layer id, decays?), in a deterministic order.

    Raises ``ValueError`` naming the parameter when ``layer_decay_id`` is out of range.
    """
    model = unwrap_model(model)
    has_layers = hasattr(model, "layer_decay_id") and hasattr(model, "num_decay_layers")
    num_layers = int(model.num_decay_layers) if has_layers else 1
    scales = layer_lr_scales(num_layers, layer_decay)
    skip_decay = no_weight_decay_names(model)
    buckets: dict[tuple[int, bool], list[tuple[str, nn.Parameter]]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer_id = int(model.layer_decay_id(name)) if has_layers else 0
        if not 0 <= layer_id < num_layers:
            raise ValueError(
                f"model.layer_decay_id({name!r}) = {layer_id} is outside [0, num_decay_layers={num_layers})"
            )
        buckets.setdefault((layer_id, name not in skip_decay), []).append((name, param))
    groups = []
    for (layer_id, decays), members in sorted(buckets.items()):
        groups.append(
            ParamGroup(
                layer_id=layer_id,
                lr_scale=scales[layer_id],
                weight_decay=weight_decay if decays else 0.0,
                names=tuple(n for n, _ in members),
                params=tuple(p for _, p in members),
            )
        )
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return groups


def optimizer_param_groups(groups: list[ParamGroup], lr: float) -> list[dict[str, Any]]:
    """``torch.optim`` group dicts: ``params``, ``lr = lr * lr_scale``, ``weight_decay``, ``lr_scale``."""
    return [
        {
            "params": list(g.params),
            "lr": lr * g.lr_scale,
            "lr_scale": g.lr_scale,
            "weight_decay": g.weight_decay,
            "layer_id": g.layer_id,
        }
        for g in groups
    ]


def build_adamw(model: nn.Module, *, lr: float, weight_decay: float, layer_decay: float,
                betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> torch.optim.AdamW:
    """AdamW over :func:`assign_param_groups` (``foreach`` implementation, deterministic on CPU)."""
    groups = assign_param_groups(model, weight_decay=weight_decay, layer_decay=layer_decay)
    return torch.optim.AdamW(optimizer_param_groups(groups, lr), lr=lr, betas=betas, eps=eps)
