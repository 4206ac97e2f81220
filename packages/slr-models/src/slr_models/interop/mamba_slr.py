"""Import checkpoints of the original Mamba_SLR code (github.com/Nirmal-Adhikari-hub/Mamba_SLR).

Its ``utils.save_model`` writes one of two layouts:

* torch.amp: ``checkpoint-<name>.pth`` = ``{model, model_ema, optimizer, epoch, scaler, args}``;
* DeepSpeed: a folder ``checkpoint-<name>/`` holding ``mp_rank_00_model_states.pt`` =
  ``{module (bf16), model_ema, epoch, ds_config, ...}``, next to a ``latest`` file naming the tag.

The architecture is read from the checkpoint itself (tensor shapes and the scan-order buffers;
``args`` for what weights cannot tell, when present), never from flags, and the weights are loaded
with ``strict=True``: a missing or unexpected key, or a shape mismatch, is an error listing them.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from slr_models.errors import CheckpointImportError
from slr_models.interop.safe_load import safe_torch_load
from slr_models.models.mamba_slr import PATCH_SIZE, MambaSLRConfig, MambaSLRCTC

KEYS = ("model_ema", "model", "module")
DEEPSPEED_FILE = "mp_rank_00_model_states.pt"
_LAYER = re.compile(r"^layers\.(\d+)\.")


def resolve_checkpoint_file(path: str | os.PathLike) -> tuple[Path, str]:
    """The file holding the weights and its layout (``"torch.amp"`` or ``"deepspeed"``).

    ``path`` is a ``.pth`` file, a DeepSpeed ``mp_rank_00_model_states.pt``, a DeepSpeed tag folder
    (holding that file), or the DeepSpeed output folder (its ``latest`` file names the tag).
    """
    path = Path(path)
    if path.is_file():
        return path, "deepspeed" if path.name == DEEPSPEED_FILE else "torch.amp"
    if not path.is_dir():
        raise CheckpointImportError("no such checkpoint file or DeepSpeed checkpoint folder", path)
    if (path / DEEPSPEED_FILE).is_file():
        return path / DEEPSPEED_FILE, "deepspeed"
    latest = path / "latest"
    if latest.is_file():
        tag = latest.read_text(encoding="utf-8", errors="replace").strip()
        if tag and "/" not in tag and (path / tag / DEEPSPEED_FILE).is_file():
            return path / tag / DEEPSPEED_FILE, "deepspeed"
        raise CheckpointImportError(f"names tag {tag!r}, but {path / tag / DEEPSPEED_FILE} does not exist", latest)
    tags = sorted(p for p in path.iterdir() if (p / DEEPSPEED_FILE).is_file())
    if len(tags) == 1:
        return tags[0] / DEEPSPEED_FILE, "deepspeed"
    found = ", ".join(p.name for p in tags) or "none"
    raise CheckpointImportError(f"a folder, but not a DeepSpeed checkpoint with one tag (tags found: {found}; "
                                      "pass the tag folder)", path)


def select_state_dict(payload: Any, key: str, path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The weights under ``key`` (``auto``: ``model_ema``, else ``model``, else ``module``)."""
    if not isinstance(payload, Mapping):
        raise CheckpointImportError(f"expected a dict checkpoint, got {type(payload).__name__}", path)
    if key not in ("auto", *KEYS):
        raise CheckpointImportError(f"unknown key {key!r}; choose auto, {', '.join(KEYS)}", path)
    candidates = KEYS if key == "auto" else (key,)
    for name in candidates:
        state = payload.get(name)
        if isinstance(state, Mapping) and state:
            if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
                raise CheckpointImportError(f"{name!r} is not a state dict of tensors", path)
            prefix = "module." if all(k.startswith("module.") for k in state) else ""
            return {k[len(prefix):]: v for k, v in state.items()}, name
    present = [k for k in payload if isinstance(payload.get(k), Mapping)]
    raise CheckpointImportError(f"no weights under {' / '.join(candidates)} (dict entries: {present})", path)


def _shape(state: Mapping[str, torch.Tensor], key: str, path: Path) -> tuple[int, ...]:
    if key not in state:
        raise CheckpointImportError(f"not a Mamba_SLR state dict: it has no {key!r}", path)
    return tuple(state[key].shape)


def infer_config(state: Mapping[str, torch.Tensor], args: Any = None, path: Path = Path("<checkpoint>"),
                 name: str = "mamba_slr_import") -> MambaSLRConfig:
    """The :class:`MambaSLRConfig` of an original state dict, from its shapes (and ``args`` if given).

    d_state and group counts enter the weights only as their product ``ngroups * d_state``; the
    original never changes its defaults (spatial 4 x 16, temporal 2 x 32), which are checked against it.
    """
    d_model = _shape(state, "cls_token", path)[-1]
    depth = 1 + max((int(m.group(1)) for k in state if (m := _LAYER.match(k))), default=-1)
    if depth < 1:
        raise CheckpointImportError("not a Mamba_SLR state dict: no layers.N.* weights", path)
    num_classes = _shape(state, "head.weight", path)[0]
    stem_in = _shape(state, "patch_embed.stem.weight", path)[1]
    attention = tuple(i for i in range(depth) if f"layers.{i}.spatial_mixer.in_proj.bias" in state)
    spatial = next((i for i in range(depth) if i not in attention), None)
    if spatial is None:
        raise CheckpointImportError("every block has attention: cannot read the Mamba2 sizes", path)
    s = f"layers.{spatial}.spatial_mixer."
    d_inner = _shape(state, s + "norm.weight", path)[0]
    nheads = _shape(state, s + "A_log", path)[0]
    seqlen = _shape(state, s + "scan_indices", path)[1]
    grid = math.isqrt(seqlen - 1)
    if grid * grid != seqlen - 1:
        raise CheckpointImportError(f"{s}scan_indices has {seqlen} tokens, not a square grid + cls", path)
    img_size = getattr(args, "input_size", None) or grid * PATCH_SIZE
    if img_size != grid * PATCH_SIZE:
        raise CheckpointImportError(f"args.input_size {img_size} does not match the {grid}x{grid} scan grid", path)
    conv2d = _shape(state, s + "conv2d.weight", path)
    t = f"layers.{spatial}.temporal_mixer."
    t_conv = _shape(state, t + "conv1d_fwd.weight", path)
    t_nheads = _shape(state, t + "A_log", path)[0]
    fc1 = _shape(state, f"layers.{spatial}.mlp.fc1.weight", path)
    config = MambaSLRConfig(name=name, num_classes=num_classes, img_size=img_size, in_chans=3,
                            heatmap_channels=stem_in - 3, d_model=d_model, depth=depth, mlp_ratio=fc1[0] / d_model,
                            expand=d_inner // d_model, headdim=d_inner // nheads, spatial_conv=conv2d[-1],
                            temporal_conv=t_conv[-1], attention_layers=attention,
                            attention_heads=None,  # main.py: d_model // headdim, the default
                            drop_path_rate=float(getattr(args, "drop_path", 0.4)),
                            head_drop_rate=float(getattr(args, "head_drop_rate", 0.1)))
    spatial_gn = (conv2d[0] - d_inner) // 2  # conv_dim = d_inner + 2 g n
    temporal_gn = (2 * t_conv[0] - d_inner) // 2  # conv_dim = (d_inner + 2 g n) / 2
    checks = [("spatial ngroups * d_state", spatial_gn, config.spatial_ngroups * config.spatial_d_state),
              ("temporal ngroups * d_state", temporal_gn, config.temporal_ngroups * config.temporal_d_state),
              ("temporal heads", t_nheads, nheads)]
    for what, found, expected in checks:
        if found != expected:
            raise CheckpointImportError(f"{what} is {found} in the checkpoint; only the original's defaults "
                                              f"({expected}) can be imported", path)
    return config


def load_mamba_slr_state(path: str | os.PathLike, key: str = "auto") -> tuple[dict[str, torch.Tensor], dict]:
    """The chosen weights (as stored) and facts about the source: layout, key, epoch, args."""
    file, layout = resolve_checkpoint_file(path)
    payload = safe_torch_load(file)
    state, used = select_state_dict(payload, key, file)
    args = payload.get("args") if isinstance(payload, Mapping) else None
    info = {"path": str(file), "layout": layout, "key": used, "epoch": payload.get("epoch"),
            "args": vars(args) if hasattr(args, "__dict__") else None}
    return state, info


def import_mamba_slr(path: str | os.PathLike, key: str = "auto") -> MambaSLRCTC:
    """The original's model with its checkpoint's weights: float32, eval mode, on the CPU.

    ``path``: a torch.amp ``checkpoint-*.pth``, or a DeepSpeed checkpoint (its folder or its
    ``mp_rank_00_model_states.pt``). ``key``: ``auto`` (``model_ema`` when present, else ``model``,
    else ``module``) or one of them. The model's ``import_info`` attribute says what was loaded.
    """
    state, info = load_mamba_slr_state(path, key)
    file = Path(info["path"])
    args = None if info["args"] is None else _Args(info["args"])
    model = MambaSLRCTC(infer_config(state, args, file))
    load_strict(model, state, file)
    model.import_info = {k: v for k, v in info.items() if k != "args"}
    return model.float().eval()


class _Args:
    def __init__(self, data: dict):
        self.__dict__.update(data)


def load_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """``load_state_dict(strict=True)`` with one error listing missing / unexpected keys and shape mismatches."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
                  if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        parts = [f"{label} ({len(items)}): {', '.join(items[:12])}{' ...' if len(items) > 12 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
                 if items]
        raise CheckpointImportError("weights do not fit the architecture: " + "; ".join(parts), path)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (RuntimeError, ValueError) as exc:
        raise CheckpointImportError(str(exc), path) from None
