"""Training throughput of the main job (config ``tiny``) against a bare PyTorch loop.

Every variant trains one epoch of the embedded synthetic corpus with the same model, the same
batches (same sampler seed and per-sample augmentation seeds) and is run in its own process:

* baseline: a bare loop — ``train_loader`` batches, forward, summed CTC loss, backward, AdamW step
  (no layer decay, clipping, schedule, EMA, checkpoints or logging);
* ``slr-phoenix train`` with one process (fp32, the default; and bf16 autocast);
* ``slr-phoenix train --nproc-per-node 2`` (torchrun, DDP over gloo, 1 thread per process);
* optionally (``--deepspeed``) the DeepSpeed engine, one process (bf16, ZeRO 0).

The epoch time is the Trainer's own (``history.json``: the optimiser steps only, not the dev
evaluation after the epoch). ``--write`` replaces the "Training" section of
``benchmarks/RESULTS.md``.

    .hatch/slr/bin/python benchmarks/train_bench.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Training (`benchmarks/train_bench.py`)"


def bare_loop(config_name: str) -> dict:
    """One epoch of a plain training loop over the Trainer's batches (runs in this process)."""
    import torch
    from slr_models import create_model
    from slr_phoenix.data import build_run_data, prepare_corpus
    from slr_phoenix.settings import load_config
    from slr_train import seed_everything
    from slr_train.data import train_loader
    from slr_train.losses import ctc_loss_sum

    config = load_config(config_name)
    corpus = prepare_corpus(config.data)
    seed_everything(config.train.seed)
    model = create_model(config.model.name, len(corpus.vocab), **config.model.overrides)
    data = build_run_data(corpus, config.data, model.config.img_size, config.train.seed, splits=())
    train = data.train
    positions = list(range(len(train.dataset)))
    sampler = train.batch_sampler_factory([int(n) for n in train.num_frames], 1, 0)
    optim = torch.optim.AdamW(model.parameters(), lr=config.train.optim.lr,
                              weight_decay=config.train.optim.weight_decay)
    model.train()
    frames = videos = 0
    start = time.perf_counter()
    for batch in train_loader(train, sampler, positions, epoch=0, start_batch=0, seed=config.train.seed):
        loss = ctc_loss_sum(model(batch.frames, batch.lengths, batch.seq_idx), batch) / len(batch.lengths)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        frames += int(batch.lengths.sum())
        videos += len(batch.lengths)
    return {"seconds": time.perf_counter() - start, "frames": frames, "videos": videos,
            "img_size": model.config.img_size, "batch_size": config.data.batch_size}


def run_app(args: list[str], threads: int, out: Path) -> float:
    """Train one epoch with ``slr-phoenix``; the epoch's seconds from ``history.json``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "slr_phoenix", "train", "--epochs", "1", "--out", str(out), "--resume", "none",
           "--no-progress", "--set", "eval.splits=[dev]", "--set", "eval.decoder=greedy", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    return json.loads((out / "history.json").read_text())["history"][-1]["seconds"]


def measure(include_deepspeed: bool) -> tuple[list[tuple[str, int, float]], dict]:
    env = dict(os.environ, OMP_NUM_THREADS="2")
    code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import train_bench as b; " \
           "print(json.dumps(b.bare_loop('tiny')))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bare loop failed:\n{proc.stderr[-4000:]}")
    bare = json.loads(proc.stdout.strip().splitlines()[-1])
    variants = [("slr-phoenix train, 1 process, fp32 (default)", [], 2),
                ("slr-phoenix train, 1 process, bf16 autocast", ["--precision", "bf16"], 2),
                ("slr-phoenix train --nproc-per-node 2 (DDP, gloo)", ["--nproc-per-node", "2"], 1)]
    if include_deepspeed:
        variants.append(("slr-phoenix train --engine deepspeed, 1 process (bf16, ZeRO 0)",
                         ["--engine", "deepspeed", "--zero-stage", "0"], 2))
    rows = [("bare PyTorch loop, 1 process, fp32 (baseline)", 2, bare["seconds"])]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, args, threads) in enumerate(variants):
            rows.append((name, threads, run_app(args, threads, Path(tmp) / f"run{i}")))
            print(f"{name}: {rows[-1][2]:.1f} s", flush=True)
    return rows, bare


def format_section(rows: list[tuple[str, int, float]], bare: dict) -> str:
    import torch

    base = rows[0][2]
    load = os.getloadavg()[0]
    lines = [SECTION, "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (load average "
             f"{load:.1f} at the end), Python {platform.python_version()}, torch {torch.__version__}. One epoch of "
             f"the `tiny` config's synthetic corpus ({bare['videos']} videos, {bare['frames']} frames after temporal "
             "augmentation, batch {bare['batch_size']}, `slr_mamba_tiny` at {bare['img_size']} px), each variant in "
             "its own process, same batches (the 2-process run splits them over the ranks; its frames/s uses the "
             "same frame count). "
             "Epoch time is the optimiser steps only (the Trainer's `history.json`). "
             "`.hatch/slr/bin/python benchmarks/train_bench.py --write`:", "",
             "| variant | threads per process | epoch seconds | frames/s | time / baseline |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, threads, seconds in rows:
        lines.append(f"| {name} | {threads} | {seconds:.1f} | {bare['frames'] / seconds:.0f} | {seconds / base:.2f} |")
    return "\n".join(lines) + "\n"


def write_section(text: str) -> None:
    content = RESULTS.read_text(encoding="utf-8")
    start = content.find(SECTION)
    if start < 0:
        raise SystemExit(f"{RESULTS}: no '{SECTION}' section to update")
    end = content.find("\n## ", start + len(SECTION))
    end = len(content) if end < 0 else end + 1
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(content[:start] + text + ("\n" if end < len(content) else "") + content[end:], encoding="utf-8")
    os.replace(tmp, RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deepspeed", action="store_true", help="also measure the DeepSpeed engine")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows, bare = measure(args.deepspeed)
    text = format_section(rows, bare)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
