"""Which implementation ``backend="auto"`` picks for each op on this machine, and why (``slr-models backends``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from slr_models.ops._backends import available_backends, fast_kernels
from slr_models.ops._mamba_import import mamba_version

#: The ops with a fast path, and the mamba-ssm function each one calls.
MAMBA_OPS = {
    "ssd_scan": "mamba_ssm.ops.triton.ssd_combined.mamba_chunk_scan_combined",
    "add_norm": "mamba_ssm.ops.triton.layer_norm.layer_norm_fn",
    "rms_norm_gated": "mamba_ssm.ops.triton.layernorm_gated.rmsnorm_fn",
}


@dataclass(frozen=True)
class OpChoice:
    """``op``: the slr op; ``auto``: what ``backend="auto"`` runs for float32/bf16 inputs on ``device``;
    ``kernel``: the function behind it; ``reason``: why; ``fast_importable``: whether a fast kernel for
    this op imports here at all (it may still need a CUDA device)."""

    op: str
    device: str
    auto: str
    kernel: str
    reason: str
    fast_importable: bool


def _device() -> tuple[str, str]:
    if torch.cuda.is_available():
        return "cuda", f"CUDA device {torch.cuda.get_device_name(0)}"
    return "cpu", "no CUDA device"


def backend_report() -> list[OpChoice]:
    """One :class:`OpChoice` per op (``ssd_scan``, ``add_norm``, ``rms_norm_gated``, ``causal_conv1d``)."""
    kernels = fast_kernels()
    importable = available_backends()
    device, where = _device()
    interp = " (loaded under TRITON_INTERPRET=1: an explicit backend='mamba_ssm' runs them on CPU tensors)" \
        if kernels.interpreted else ""
    choices = []
    version = mamba_version()
    for op, kernel in MAMBA_OPS.items():
        if not importable["mamba_ssm"]:
            reason = f"mamba-ssm's Triton kernels do not import: {kernels.errors.get('mamba_ssm', '?')}"
            choices.append(OpChoice(op, device, "reference", f"slr_models.ops.{op}_ref", reason, False))
        elif device == "cuda":
            choices.append(OpChoice(op, device, "mamba_ssm", kernel,
                                    f"mamba-ssm {version} Triton kernel importable, {where}", True))
        else:
            reason = f"{where}; mamba-ssm {version} Triton kernel importable{interp}"
            choices.append(OpChoice(op, device, "reference", f"slr_models.ops.{op}_ref", reason, True))
    ext = "causal_conv1d.causal_conv1d_fn"
    ours = "slr_models.ops.conv_triton.causal_conv1d_triton"
    ext_state = "causal-conv1d importable" if importable["causal_conv1d"] else \
        f"causal-conv1d not importable ({kernels.errors.get('causal_conv1d', '?')})"
    tri_state = "slr's Triton conv importable" if importable["triton"] else \
        f"slr's Triton conv not importable ({kernels.errors.get('triton', '?')})"
    fast_any = importable["causal_conv1d"] or importable["triton"]
    if device == "cuda" and importable["causal_conv1d"]:
        conv = OpChoice("causal_conv1d", device, "causal_conv1d", ext, f"{ext_state}, {where} (width 2-4; "
                        "else slr's Triton conv)", True)
    elif device == "cuda" and importable["triton"]:
        conv = OpChoice("causal_conv1d", device, "triton", ours, f"{ext_state}; {tri_state}, {where}", True)
    else:
        conv = OpChoice("causal_conv1d", device, "reference", "slr_models.ops.causal_conv1d_ref",
                        f"{where}; {ext_state}; {tri_state}{interp}", fast_any)
    choices.append(conv)
    return choices


def backend_report_dict() -> dict[str, Any]:
    """JSON-serialisable form of :func:`backend_report` plus library versions."""
    kernels = fast_kernels()
    return {
        "mamba_ssm_version": mamba_version(),
        "triton_interpret": kernels.interpreted,
        "cuda": torch.cuda.is_available(),
        "ops": [asdict(c) for c in backend_report()],
        "errors": dict(kernels.errors),
    }


def format_backend_report() -> str:
    """Human-readable table of :func:`backend_report`."""
    lines = []
    for c in backend_report():
        lines.append(f"{c.op:<15} auto -> {c.auto:<14} {c.kernel}")
        lines.append(f"{'':<15} because: {c.reason}")
    importable = available_backends()
    lines.append("importable fast kernels: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in importable.items()))
    return "\n".join(lines)
