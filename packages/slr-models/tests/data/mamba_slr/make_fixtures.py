"""Regenerate the Mamba_SLR parity fixtures in this folder from the original code (run by hand).

The fixtures are outputs of github.com/Nirmal-Adhikari-hub/Mamba_SLR itself: its ``Model`` at a
small size, random weights, run on random frames; saved in its two checkpoint layouts exactly as
its ``utils.save_model`` writes them. Nothing of the original's source is committed; this script
needs a checkout of it (``--mamba-slr``, the folder holding ``slr/``) plus timm (its models import
``timm.models.layers``; e.g. ``pip install --target /tmp/fixdeps timm`` and put that on
``PYTHONPATH``), and runs in the workspace test env (torch, mamba-ssm's Triton kernels, deepspeed):

    PYTHONPATH=/tmp/fixdeps .hatch/slr/bin/python packages/slr-models/tests/data/mamba_slr/make_fixtures.py \
        --mamba-slr /path/to/Mamba_SLR

There is no GPU here, so mamba-ssm's Triton kernels run under Triton's interpreter (the test kit's
shims); causal-conv1d has no Triton code and is replaced by a plain PyTorch causal conv with its
``seq_idx`` semantics (taps never read another segment); torchaudio's ``CUCTCDecoder``, which the
original builds in ``Model.__init__`` but never uses in ``forward``, is stubbed.

Writes: ``gloss_dict.npy`` (10 glosses, the PHOENIX format), ``amp/checkpoint-best.pth`` (the
torch.amp layout: model, model_ema, optimizer, epoch, scaler, args), ``deepspeed/checkpoint-best/``
+ ``deepspeed/latest`` (the DeepSpeed layout, module in bf16, ``model_ema`` in the client state),
``expected.npz``: the input frames, lengths, and the original's log-probabilities
``(B, T, V)`` for each set of weights (``model``, ``model_ema``, and the bf16 DeepSpeed module run
in float32), and ``full_size_state.json``: every key, shape and dtype of the state dict of the
network ``run_phoenix.sh`` builds (``--keys-only`` writes just this file).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
TESTKIT = HERE.parents[1] / "testkit"
ARCH = dict(img_size=32, patch_size=16, d_model=32, n_layer=2, headdim=8, expand=2, attn_layer=1)
GLOSSES = [f"GLOSS{i}" for i in range(1, 11)]
LENGTHS = [6, 3, 5]


def stand_in_causal_conv1d(x, weight, bias=None, seq_idx=None, initial_states=None, return_final_states=False,
                           final_states_out=None, activation=None):
    """causal-conv1d's ``causal_conv1d_fn`` semantics in plain PyTorch: ``x (B, D, L)``, ``weight (D, W)``."""
    _, _, length = x.shape
    width = weight.shape[1]
    out = torch.zeros_like(x, dtype=torch.float32)
    for k in range(width):
        shift = width - 1 - k
        tap = F.pad(x.float(), (shift, 0))[..., :length]
        if seq_idx is not None:
            same = F.pad(seq_idx, (shift, 0), value=-1)[..., :length] == seq_idx
            tap = tap * same.unsqueeze(1)
        out = out + weight[:, k, None].float() * tap
    if bias is not None:
        out = out + bias[:, None].float()
    if activation in ("silu", "swish"):
        out = F.silu(out)
    return out.to(x.dtype)


def install_stubs() -> None:
    conv = types.ModuleType("causal_conv1d")
    conv.causal_conv1d_fn = stand_in_causal_conv1d
    conv.causal_conv1d_update = None
    sys.modules["causal_conv1d"] = conv
    import torchaudio.models.decoder as decoder

    class CUCTCDecoder:  # built by Model.__init__, unused by forward
        def __init__(self, *args, **kwargs):
            pass

    decoder.CUCTCDecoder = CUCTCDecoder


def build_original(gloss_dict):
    from slr.models.model import Model

    a = ARCH
    return Model(
        img_size=a["img_size"], patch_size=a["patch_size"], d_model=a["d_model"], n_layer=a["n_layer"],
        d_intermediate=a["d_model"] * 4, channels=3, gloss_dict=gloss_dict, drop_path_rate=0.4, head_drop_rate=0.1,
        ssm_cfg={"spatial": {"expand": a["expand"], "headdim": a["headdim"]},
                 "temporal": {"expand": a["expand"], "headdim": a["headdim"]}},
        attn_cfg={"spatial": {"num_heads": a["d_model"] // a["headdim"]}, "temporal": {}},
        attn_layer_idx={"spatial": [a["attn_layer"]], "temporal": []},
        rms_norm=False, fused_add_norm=True, residual_in_fp32=True,
    )


def perturb(model, scale, gen):
    """Random values everywhere (norms and biases included) so every parameter changes the output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("A_log") or name.endswith("dt_bias"):
                p.add_(torch.randn(p.shape, generator=gen) * 0.1 * scale)
            elif p.ndim == 1:
                p.add_(torch.randn(p.shape, generator=gen) * 0.2 * scale)
            else:
                p.mul_(1 + torch.randn(p.shape, generator=gen) * 0.2 * scale)


@torch.no_grad()
def log_probs(model, frames):
    model.eval()
    seq_idx = torch.repeat_interleave(torch.arange(len(LENGTHS)), torch.tensor(LENGTHS)).to(torch.int32)
    return model(frames, LENGTHS, seq_idx)["log_probs"].float().numpy()  # (B, T, V), padding -1e9


def original_args(out_dir: Path) -> argparse.Namespace:
    """The ``args`` Namespace the original stores: its parser's defaults with run_phoenix.sh's flags."""
    a = ARCH
    return argparse.Namespace(
        batch_size=2, epochs=100, update_freq=1, input_size=a["img_size"], patch_size=a["patch_size"],
        d_model=a["d_model"], headdim=a["headdim"], depth=a["n_layer"], expand=a["expand"], head_drop_rate=0.1,
        drop_path=0.4, model_ema=True, model_ema_decay=0.9999, model_ema_eval=True, opt="adamw", opt_eps=1e-8,
        opt_betas=[0.9, 0.999], clip_grad=5.0, weight_decay=0.05, lr=1e-3 * 2 / 256, layer_decay=0.75,
        warmup_lr=1e-4 * 2 / 256, min_lr=1e-5 * 2 / 256, warmup_epochs=5, aa="rand-m5-mstd0.25", reprob=0.25,
        remode="pixel", recount=1, model_key="model_ema", output_dir=str(out_dir), seed=0, bf16=True,
        enable_deepspeed=False, finetune="", gloss_dict_path="gloss_dict.npy", frame_interval=1, temp_scale=0.0,
    )


def save_amp(model, ema, out_dir: Path) -> None:
    """``utils.save_model`` with a loss scaler (torch.amp): one ``checkpoint-best.pth``."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    for group in optimizer.param_groups:  # the state one step leaves (without changing the weights)
        for p in group["params"]:
            optimizer.state[p] = {"step": torch.tensor(1.0), "exp_avg": torch.zeros_like(p),
                                  "exp_avg_sq": torch.zeros_like(p)}
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    to_save = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 7,
               "scaler": scaler.state_dict(), "args": original_args(out_dir.parent), "model_ema": ema.state_dict()}
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(to_save, out_dir / "checkpoint-best.pth")


def save_deepspeed(model, ema, out_dir: Path):
    """``utils.save_model`` without a loss scaler: ``engine.save_checkpoint(tag="checkpoint-best")``."""
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    for key, value in dict(MASTER_ADDR="127.0.0.1", MASTER_PORT="29517", RANK="0", LOCAL_RANK="0",
                           WORLD_SIZE="1").items():
        os.environ.setdefault(key, value)
    import deepspeed

    deepspeed.init_distributed(dist_backend="gloo")
    config = {"train_batch_size": 2, "train_micro_batch_size_per_gpu": 2, "steps_per_print": 1000,
              "bf16": {"enabled": True}, "gradient_clipping": 5.0}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.05)
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine.save_checkpoint(save_dir=str(out_dir), tag="checkpoint-best",
                           client_state={"epoch": 7, "model_ema": ema.state_dict()})
    module = copy.deepcopy(engine.module).float()
    deepspeed.comm.destroy_process_group()
    return module


def full_size_state(gloss_count: int = 1295) -> dict:
    """Keys, shapes and dtypes of run_phoenix.sh's network (main.py's Model call, 1296 classes)."""
    from slr.models.model import Model

    gloss_dict = {f"G{i}": [i, 1] for i in range(1, gloss_count + 1)}
    d_model, headdim = 512, 64
    model = Model(img_size=224, patch_size=16, d_model=d_model, n_layer=12, d_intermediate=d_model * 4, channels=3,
                  gloss_dict=gloss_dict, drop_path_rate=0.4, head_drop_rate=0.1,
                  ssm_cfg={"spatial": {"expand": 2, "headdim": headdim}, "temporal": {"expand": 2, "headdim": headdim}},
                  attn_cfg={"spatial": {"num_heads": d_model // headdim}, "temporal": {}},
                  attn_layer_idx={"spatial": [4], "temporal": []}, rms_norm=False, fused_add_norm=True,
                  residual_in_fp32=True)
    state = model.state_dict()
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "state": {k: [list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in state.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mamba-slr", required=True, type=Path, help="checkout of Mamba_SLR (holds slr/)")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--keys-only", action="store_true", help="only write full_size_state.json")
    args = parser.parse_args()
    sys.path[:0] = [str(args.mamba_slr), str(TESTKIT)]
    from slr_models_interpret import triton_interpreter

    with triton_interpreter():
        install_stubs()
        full = full_size_state()
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in full["state"].items()]
        text = '{\n"parameters": %d,\n"state": {\n%s\n}}\n' % (full["parameters"], ",\n".join(lines))
        (args.out / "full_size_state.json").write_text(text, encoding="utf-8")
        if args.keys_only:
            return 0
        gloss_dict = {g: [i + 1, 100 - i] for i, g in enumerate(GLOSSES)}
        torch.manual_seed(0)
        gen = torch.Generator().manual_seed(1)
        model = build_original(gloss_dict)
        perturb(model, 1.0, gen)
        ema = copy.deepcopy(model)
        perturb(ema, 0.5, gen)
        frames = torch.randn(sum(LENGTHS), 3, ARCH["img_size"], ARCH["img_size"], generator=gen)
        expected = {"frames": frames.numpy(), "lengths": np.array(LENGTHS), "model": log_probs(model, frames),
                    "model_ema": log_probs(ema, frames)}
        np.save(args.out / "gloss_dict.npy", gloss_dict)
        save_amp(model, ema, args.out / "amp")
        ds_module = save_deepspeed(copy.deepcopy(model), ema, args.out / "deepspeed")
        expected["deepspeed_module"] = log_probs(ds_module, frames)
    np.savez(args.out / "expected.npz", **expected)
    print(f"wrote fixtures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
