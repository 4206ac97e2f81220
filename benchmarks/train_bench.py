"""Training throughput of the main job (config ``tiny``) against a bare PyTorch loop.

Every variant trains one epoch of the embedded synthetic corpus with the same model, the same
batches (same sampler seed and per-sample augmentation seeds) and is run in its own process:

* baseline: a bare loop — ``train_loader`` batches, forward, summed CTC loss, backward, AdamW step
  (no layer decay, clipping, schedule, EMA, checkpoints or logging);
* ``slr-phoenix train`` with one process, fp32 and bf16 autocast;
* ``slr-phoenix train --nproc-per-node 2`` (torchrun, DDP over gloo with 1 thread per process, or
  nccl; skipped on a machine with a single GPU), in the config's precision;
* optionally (``--deepspeed``) the DeepSpeed engine, one process, ZeRO stage 1, in the config's
  precision (DeepSpeed has no overflow check for fp32 at stage 0);

and the time the main job takes to reach the synthetic dev-WER target (10 %): from the
``history.json`` of a finished ``hatch run train:phoenix`` run (``--target-run runs/tiny``), or
by training the default config here (``--time-to-target``, about 11 minutes on 2 cores).
``--config``/``--set`` pick another config; on a CUDA machine the bare loop runs on the GPU too and
the table gains each variant's peak GPU memory (``history.json``'s ``max_memory_mb``), e.g. the
reference model on a 224 px synthetic corpus::

    python benchmarks/train_bench.py --config base --set data.corpus=synthetic \
        --set "data.synthetic={num_train: 400, image_size: 256}" --deepspeed

The epoch time is the Trainer's own (``history.json``: the optimiser steps only, not the dev
evaluation after the epoch). ``--write`` replaces the "Training" section of
``benchmarks/RESULTS.md``.

    .hatch/slr/bin/python benchmarks/train_bench.py --write

``--compile-compare`` instead trains the config twice in turn, ``train.compile=false`` then
``true`` (same seed, same batches), and reports each run's training seconds (compilation
included: it happens in the first steps; the run's wall time adds the evaluation's), the seconds
to the same dev WER (the worse of the two runs' best dev WERs, so both reach it), the final dev
WER and what the Trainer logged about compilation; ``--epochs`` shortens both runs, ``--write``
replaces the "train.compile" section of ``benchmarks/RESULTS.md``::

    .hatch/slr/bin/python benchmarks/train_bench.py --compile-compare --epochs 1 \
        --set "data.synthetic={num_train: 16, num_dev: 8, num_test: 8}" --set "model.overrides={depth: 1}"
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
COMPILE_SECTION = "## train.compile (`benchmarks/train_bench.py --compile-compare`)"


def bare_loop(config_name: str, overrides: list[str]) -> dict:
    """One epoch of a plain training loop over the Trainer's batches (runs in this process)."""
    import torch
    from slr_models import create_model
    from slr_phoenix.data import build_run_data, prepare_corpus
    from slr_phoenix.settings import load_config
    from slr_train import seed_everything
    from slr_train.data import train_loader
    from slr_train.losses import ctc_loss_sum

    config = load_config(config_name, overrides)
    corpus = prepare_corpus(config.data)
    seed_everything(config.train.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = create_model(config.model.name, len(corpus.vocab), **config.model.overrides).to(device)
    data = build_run_data(corpus, config.data, model.config.img_size, config.train.seed, splits=())
    train = data.train
    positions = list(range(len(train.dataset)))
    sampler = train.batch_sampler_factory([int(n) for n in train.num_frames], 1, 0)
    optim = torch.optim.AdamW(model.parameters(), lr=config.train.optim.lr,
                              weight_decay=config.train.optim.weight_decay)
    model.train()
    frames = videos = 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for batch in train_loader(train, sampler, positions, epoch=0, start_batch=0, seed=config.train.seed):
        batch = batch.to(device)
        loss = ctc_loss_sum(model(batch.frames, batch.lengths, batch.seq_idx), batch) / len(batch.lengths)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        frames += int(batch.lengths.sum())  # (a host sync each step, as the Trainer has too)
        videos += len(batch.lengths)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"seconds": time.perf_counter() - start, "frames": frames, "videos": videos,
            "max_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None,
            "img_size": model.config.img_size, "model": model.config.name, "batch_size": config.data.batch_size}


def config_args(config: str, overrides: list[str]) -> list[str]:
    return ["--config", config, *[a for o in overrides for a in ("--set", o)]]


def run_app(args: list[str], threads: int, out: Path) -> tuple[float, float | None]:
    """Train one epoch with ``slr-phoenix``; the epoch's seconds (and CUDA peak MiB) from ``history.json``."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "slr_phoenix", "train", "--epochs", "1", "--out", str(out), "--resume", "none",
           "--no-progress", "--set", "eval.splits=[dev]", "--set", "eval.decoder=greedy", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    entry = json.loads((out / "history.json").read_text())["history"][-1]
    return entry["seconds"], entry.get("max_memory_mb")


Row = tuple[str, int, float, "float | None"]  # variant, threads per process, epoch seconds, CUDA peak MiB


def measure(config: str, overrides: list[str], include_deepspeed: bool) -> tuple[list[Row], dict]:
    env = dict(os.environ, OMP_NUM_THREADS="2")
    code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import train_bench as b; " \
           f"print(json.dumps(b.bare_loop({config!r}, {overrides!r})))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bare loop failed:\n{proc.stderr[-4000:]}")
    bare = json.loads(proc.stdout.strip().splitlines()[-1])
    import torch

    cuda = torch.cuda.is_available()
    variants = [("slr-phoenix train, 1 process, fp32", ["--precision", "fp32"], 2),
                ("slr-phoenix train, 1 process, bf16 autocast", ["--precision", "bf16"], 2)]
    if not cuda or torch.cuda.device_count() >= 2:  # one GPU per process
        variants.append((f"slr-phoenix train --nproc-per-node 2 (DDP, {'nccl' if cuda else 'gloo'}; config precision)",
                         ["--nproc-per-node", "2"], 1))
    if include_deepspeed:
        variants.append(("slr-phoenix train --engine deepspeed, 1 process, ZeRO 1 (config precision)",
                         ["--engine", "deepspeed", "--zero-stage", "1"], 2))
    rows = [("bare PyTorch loop, 1 process, fp32 (baseline)", 2, bare["seconds"], bare["max_memory_mb"])]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, args, threads) in enumerate(variants):
            seconds, memory = run_app([*config_args(config, overrides), *args], threads, Path(tmp) / f"run{i}")
            rows.append((name, threads, seconds, memory))
            print(f"{name}: {rows[-1][2]:.1f} s", flush=True)
    return rows, bare


def time_to_target(run: Path | None, target: float) -> dict:
    """Training seconds (and wall seconds) until dev WER <= ``target``, from a run's history."""
    with tempfile.TemporaryDirectory() as tmp:
        if run is None:
            run = Path(tmp) / "tiny"
            started = time.perf_counter()
            cmd = [sys.executable, "-m", "slr_phoenix", "train", "--out", str(run), "--resume", "none", "--no-progress"]
            proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="2"), capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
            wall = time.perf_counter() - started
        else:
            wall = json.loads((run / "results.json").read_text()).get("seconds")
        history = json.loads((run / "history.json").read_text())["history"]
        results = json.loads((run / "results.json").read_text())
    trained, reached = 0.0, None
    for entry in history:
        trained += entry["seconds"]
        wer = min(v for k, v in entry.items() if k.startswith("dev_wer_"))
        if wer <= target:
            reached = {"epoch": entry["epoch"], "train_seconds": trained, "dev_wer_greedy": wer}
            break
    return {"target": target, "reached": reached, "epochs": len(history), "train_seconds": trained,
            "wall_seconds": wall, "dev_wer": results["dev"]["wer"], "test_wer": results["test"]["wer"]}


def format_target(info: dict) -> list[str]:
    lines = ["", f"Time to the synthetic target (dev WER <= {info['target']:g} %, greedy decoding during training), "
             f"default `tiny` config, 1 process, 2 threads: "]
    reached = info["reached"]
    if reached is None:
        lines[-1] += f"not reached in {info['epochs']} epochs."
    else:
        lines[-1] += (f"epoch {reached['epoch']} ({reached['dev_wer_greedy']:.1f} %), after "
                      f"{reached['train_seconds']:.0f} s of training.")
    lines.append(f"The whole run ({info['epochs']} epochs, corpus, evaluation, beam-5 scoring) took "
                 f"{info['wall_seconds']:.0f} s and ended at {info['dev_wer']:.2f} % dev / {info['test_wer']:.2f} % "
                 "test WER (official PHOENIX-2014 scoring).")
    return lines


def format_section(config: str, rows: list[Row], bare: dict, target: dict | None) -> str:
    import torch

    base = rows[0][2]
    cuda = any(row[3] is not None for row in rows)
    load = os.getloadavg()[0]
    lines = [SECTION, "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (load average "
             f"{load:.1f} at the end), Python {platform.python_version()}, torch {torch.__version__}. One epoch of "
             f"the `{config}` config's corpus ({bare['videos']} videos, {bare['frames']} frames after temporal "
             f"augmentation, batch {bare['batch_size']}, `{bare['model']}` at {bare['img_size']} px), each variant in "
             "its own process, same batches (the 2-process run splits them over the ranks; its frames/s uses the "
             "same frame count). "
             "Epoch time is the optimiser steps only (the Trainer's `history.json`). "
             "`.hatch/slr/bin/python benchmarks/train_bench.py --write`:", "",
             "| variant | threads per process | epoch seconds | frames/s | time / baseline |"
             + (" peak CUDA MiB (rank 0) |" if cuda else ""),
             "| --- | ---: | ---: | ---: | ---: |" + (" ---: |" if cuda else "")]
    for name, threads, seconds, memory in rows:
        lines.append(f"| {name} | {threads} | {seconds:.1f} | {bare['frames'] / seconds:.0f} | {seconds / base:.2f} |"
                     + (f" {memory if memory is not None else '-'} |" if cuda else ""))
    lines += ["", "What the Trainer adds over the bare loop: layer-decay parameter groups, the global grad norm "
              "(clipping and the non-finite check, a host sync per step), the EMA update, the LR schedule, a "
              "checkpoint every 100 steps and TensorBoard scalars. bf16 autocast runs in CPU kernels that are "
              "slower than fp32 ones on most CPUs, which is why `tiny` trains in fp32."]
    if target is not None:
        lines += format_target(target)
    return "\n".join(lines) + "\n"


def _seconds_to(history: list[dict], target: float) -> float | None:
    trained = 0.0
    for entry in history:
        trained += entry["seconds"]
        wers = [v for k, v in entry.items() if k.startswith("dev_wer_")]
        if wers and min(wers) <= target:
            return trained
    return None


def compile_compare(config: str, overrides: list[str], epochs: int | None) -> dict:
    """Trains ``config`` with ``train.compile=false`` then ``true`` (one process, 2 threads each)."""
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, value in (("eager", "false"), ("compiled", "true")):
            out = Path(tmp) / name
            cmd = [sys.executable, "-m", "slr_phoenix", "train", "--out", str(out), "--resume", "none",
                   "--no-progress", *config_args(config, overrides), "--set", f"train.compile={value}",
                   *(["--epochs", str(epochs)] if epochs else [])]
            started = time.perf_counter()
            env = dict(os.environ, OMP_NUM_THREADS="2")
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
            history = json.loads((out / "history.json").read_text())["history"]
            results = json.loads((out / "results.json").read_text())
            best = min((v for e in history for k, v in e.items() if k.startswith("dev_wer_")), default=None)
            logged = [line.split("torch.compile: ", 1)[1].strip()
                      for line in proc.stderr.splitlines() if "torch.compile: " in line]
            runs[name] = {"wall_seconds": time.perf_counter() - started, "history": history,
                          "best_dev_wer": best, "train_seconds": sum(e["seconds"] for e in history),
                          "dev_wer": results["dev"]["wer"], "compile_log": logged[:6]}
            print(f"{name}: {runs[name]['train_seconds']:.1f} s training, "
                  f"dev WER {runs[name]['dev_wer']:.2f} %", flush=True)
    bests = [r["best_dev_wer"] for r in runs.values()]
    target = max(bests) if None not in bests else None
    for run in runs.values():
        run["seconds_to_target"] = _seconds_to(run["history"], target) if target is not None else None
    return {"config": config, "overrides": overrides, "epochs": epochs, "target": target, "runs": runs}


def format_compile_section(info: dict, note: str) -> str:
    import torch

    settings = " ".join(([f"--epochs {info['epochs']}"] if info["epochs"] else [])
                        + [f'--set "{o}"' for o in info["overrides"]])
    target = info["target"]
    lines = [COMPILE_SECTION, "", note, "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores "
             f"(load average {os.getloadavg()[0]:.1f} at the end), torch {torch.__version__}. "
             f"Config `{info['config']}` "
             f"{settings}, one process, 2 threads, the two runs in turn. "
             "Training seconds are the Trainer's (optimiser steps, training compilation included); the "
             "run's wall seconds add corpus, evaluation (and its compilation) and the final scoring. "
             "`.hatch/slr/bin/python benchmarks/train_bench.py --compile-compare "
             f"{settings}`:", "",
             "| train.compile | training seconds | run wall seconds | seconds to dev WER "
             f"<= {target if target is not None else '-'} % | final dev WER |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, run in info["runs"].items():
        to = run["seconds_to_target"]
        shown = "-" if to is None else f"{to:.1f}"
        lines.append(f"| {'true' if name == 'compiled' else 'false'} | {run['train_seconds']:.1f} | "
                     f"{run['wall_seconds']:.1f} | {shown} | {run['dev_wer']:.2f} |")
    log = info["runs"]["compiled"]["compile_log"]
    if log:
        lines += ["", "The compiled run logged: " + "; ".join(f"`{line}`" for line in log) + "."]
    return "\n".join(lines) + "\n"


def write_section(text: str, section: str = SECTION) -> None:
    content = RESULTS.read_text(encoding="utf-8")
    start = content.find(section)
    if start < 0:
        if section == SECTION:
            raise SystemExit(f"{RESULTS}: no '{section}' section to update")
        content, start = content.rstrip("\n") + "\n\n", len(content.rstrip("\n")) + 2
        content += text
    end = content.find("\n## ", start + len(section))
    end = len(content) if end < 0 else end + 1
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(content[:start] + text + ("\n" if end < len(content) else "") + content[end:], encoding="utf-8")
    os.replace(tmp, RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny", help="slr-phoenix config (name or YAML)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as slr-phoenix train --set (repeatable)")
    parser.add_argument("--deepspeed", action="store_true", help="also measure the DeepSpeed engine")
    parser.add_argument("--target-run", type=Path, metavar="RUN_DIR",
                        help="a finished default run (e.g. runs/tiny) to read the time to the WER target from")
    parser.add_argument("--time-to-target", action="store_true", help="train the default config here to measure it")
    parser.add_argument("--target", type=float, default=10.0, help="dev WER target in percent")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--compile-compare", action="store_true",
                        help="train with train.compile=false, then true, and compare (nothing else)")
    parser.add_argument("--epochs", type=int,
                        help="--compile-compare: epochs of both runs (default: the config's)")
    parser.add_argument("--note", default="", help="--compile-compare: a line printed above the table")
    args = parser.parse_args()
    if args.compile_compare:
        text = format_compile_section(compile_compare(args.config, args.overrides, args.epochs), args.note)
        print(text)
        if args.write:
            write_section(text, COMPILE_SECTION)
        return
    rows, bare = measure(args.config, args.overrides, args.deepspeed)
    target = (time_to_target(args.target_run, args.target)
              if args.target_run is not None or args.time_to_target else None)
    text = format_section(args.config, rows, bare, target)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
