"""GPU acceptance run: install the fast path offline, prove it, time it, train with it; one call.

Made for a CUDA machine without internet (the `device` machines of this project: one H100/H200,
Python 3.12 with torch 2.11.0+cu130 and triton 3.6.0 installed, pip cannot reach an index),
within one command of at most 10 minutes. Two phases:

1. **here, with network** (fills a folder that travels with the working tree; ``.gpu-carry`` is
   git-ignored)::

       python benchmarks/gpu_acceptance.py prepare --carry .gpu-carry

   mamba-ssm's source distribution and the pure-Python build requirements (hatchling, einops,
   ...), nothing compiled;
2. **on the GPU machine**, from the repository root::

       python3 benchmarks/gpu_acceptance.py run --carry .gpu-carry --out "$OUT" --budget-s 540

   installs slr's packages (editable, no dependencies) and mamba-ssm's Triton kernels from the
   carried files into that machine's own Python, then runs, in this order and each within what is
   left of the budget: ``slr-models backends``; the CUDA parity tests (``pytest -m cuda``:
   fast kernels vs references, outputs and gradients, whole models); training steps of
   ``slr_mamba_base`` and ``mamba_slr_base`` on random 224 px videos (bf16 autocast, CTC loss)
   reporting frames/s and peak memory for ``reference`` vs ``mamba_ssm``; a short
   ``slr-phoenix train`` (the ``base`` recipe, one epoch) on a synthetic 224 px corpus.

It writes ``gpu_acceptance.json`` (everything), ``gpu_acceptance.md`` (tables to copy into
``benchmarks/RESULTS.md``) and ``gpu_acceptance.log`` (every step's output) to ``--out``; a step
that fails or runs out of time is recorded as such and the next one still runs.

``run --smoke-cpu`` is the same code path on a CPU machine with tiny sizes and the reference
standing in for the fast kernels (CI runs it, so the script cannot rot); its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["packages/slr-metrics", "packages/slr-data", "packages/slr-models", "packages/slr-train", "apps/phoenix"]
BUILD_WHEELS = ["hatchling", "pathspec", "pluggy", "trove-classifiers", "packaging", "editables"]
GPU_MODELS = [("slr_mamba_base", []), ("mamba_slr_base", ["--skip-kernels"])]
SMOKE_MODELS = [("slr_mamba_tiny", ["--frames", "6", "--repeats", "1", "--warmup", "0"]),
                ("mamba_slr_tiny", ["--skip-kernels", "--frames", "6", "--repeats", "1", "--warmup", "0"])]
SYNTH_224 = ["--set", "data.synthetic.image_size=224", "--set", "data.synthetic.num_train=48",
             "--set", "data.synthetic.num_dev=8", "--set", "data.synthetic.num_test=8"]
SYNTH_SMOKE = ["--set", "data.synthetic.num_train=12", "--set", "data.synthetic.num_dev=4",
               "--set", "data.synthetic.num_test=4"]


class Run:
    """Runs steps as subprocesses within a total time budget; collects results and one log."""

    def __init__(self, out: Path, budget_s: float, smoke: bool):
        self.out, self.deadline, self.smoke = out, time.monotonic() + budget_s, smoke
        self.steps: list[dict] = []
        self.log = open(out / "gpu_acceptance.log", "w", encoding="utf-8")  # noqa: SIM115 - closed in finish

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def step(self, name: str, command: list[str], cap_s: float, env: dict | None = None) -> dict:
        timeout = min(cap_s, self.left())
        record = {"step": name, "command": " ".join(command)}
        if timeout < 5:
            record.update(status="skipped", reason="time budget used up", seconds=0.0)
            self.steps.append(record)
            return record
        start = time.monotonic()
        self.log.write(f"\n===== {name}: {record['command']}\n")
        self.log.flush()
        try:
            proc = subprocess.run(command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                                  text=True, timeout=timeout)
            output, code = proc.stdout + proc.stderr, proc.returncode
            record.update(status="ok" if code == 0 else "failed", returncode=code)
        except subprocess.TimeoutExpired as exc:
            output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            record.update(status="timeout", reason=f"killed after {timeout:.0f} s")
        record["seconds"] = round(time.monotonic() - start, 1)
        record["tail"] = output[-1500:]
        self.log.write(output)
        self.log.flush()
        print(f"[{record['status']:>7}] {name} ({record['seconds']} s)", flush=True)
        self.steps.append(record)
        return record


def environment() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    try:
        import torch

        info.update(torch=torch.__version__, cuda=torch.version.cuda, cuda_available=torch.cuda.is_available())
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        info["torch_error"] = repr(exc)
    try:
        import triton

        info["triton"] = triton.__version__
    except Exception as exc:  # noqa: BLE001
        info["triton_error"] = repr(exc)
    return info


def prepare(carry: Path) -> int:
    """Fill ``carry`` (with network): mamba-ssm's sdist + build requirements as wheels."""
    carry.mkdir(parents=True, exist_ok=True)
    code = subprocess.call([sys.executable, "-m", "slr_models.cli", "install-fast-path", "--download", str(carry)])
    if code:
        return code
    pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "--only-binary",
           ":all:", "--python-version", "3.12", "--implementation", "py", "-d", str(carry)]
    code = subprocess.call(pip + BUILD_WHEELS)
    size = sum(f.stat().st_size for f in carry.iterdir()) / 2**20
    print(f"{carry}: {len(list(carry.iterdir()))} files, {size:.1f} MiB")
    return code


def install(run: Run, carry: Path) -> None:
    py = sys.executable
    if run.smoke:  # the CPU test environment has everything; exercise only the fast-path command
        run.step("install fast path", [py, "-m", "slr_models.cli", "install-fast-path", "--if-missing"], 180)
        return
    offline = ["--no-index", "--find-links", str(carry)]
    run.step("install build tools", [py, "-m", "pip", "install", "-q", *offline, *BUILD_WHEELS[:4]], 120)
    editable = [arg for package in PACKAGES for arg in ("-e", package)]
    run.step("install slr packages", [py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                      *offline, *editable], 180)
    run.step("install fast path", [py, "-m", "slr_models.cli", "install-fast-path", "--find-links", str(carry),
                                   "--quiet"], 180)


def _summary_counts(text: str) -> dict:
    counts = {}
    for number, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", text):
        counts[word] = counts.get(word, 0) + int(number)
    return counts


def run_all(args) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    run = Run(out, args.budget_s, args.smoke_cpu)
    py = sys.executable
    result = {"environment": environment(), "smoke_cpu": args.smoke_cpu}
    install(run, Path(args.carry).resolve())

    record = run.step("backends", [py, "-m", "slr_models.cli", "backends", "--json"], 120)
    try:
        result["backends"] = json.loads(record.get("tail", "")[record.get("tail", "").index("{"):])
    except ValueError:
        result["backends"] = None

    record = run.step("cuda tests", [py, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "-rs",
                                     "packages/slr-models/tests"], 240)
    result["cuda_tests"] = _summary_counts(record.get("tail", ""))

    result["train_steps"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, extra in (SMOKE_MODELS if args.smoke_cpu else GPU_MODELS):
            target = Path(tmp) / f"{model}.json"
            command = [py, "benchmarks/gpu_bench.py", "--model", model, "--json", str(target), *extra]
            if args.smoke_cpu:
                command.append("--smoke-cpu")
            record = run.step(f"train steps {model}", command, 240 if args.smoke_cpu else 150)
            if target.is_file():
                result["train_steps"][model] = json.loads(target.read_text())

        run_dir = Path(tmp) / "run"
        config = (["--config", "tiny", *SYNTH_SMOKE, "--epochs", "1"] if args.smoke_cpu else
                  ["--config", "base", "--set", "data.corpus=synthetic", *SYNTH_224, "--epochs", "1",
                   "--set", "data.preload=true", "--workers", "4"])
        env = {"SLR_CACHE_DIR": str(Path(tmp) / "cache")}
        run.step("slr-phoenix train", [py, "-m", "slr_phoenix", "train", *config, "--out", str(run_dir),
                                       "--no-progress"], 400 if args.smoke_cpu else 200, env=env)
        results_file = run_dir / "results.json"
        result["phoenix_train"] = json.loads(results_file.read_text()) if results_file.is_file() else None
        history = run_dir / "history.json"
        if history.is_file():
            result["phoenix_history"] = json.loads(history.read_text())

    result["steps"] = run.steps
    result["ok"] = all(s["status"] == "ok" for s in run.steps)
    (out / "gpu_acceptance.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "gpu_acceptance.md").write_text(markdown(result), encoding="utf-8")
    run.log.close()
    print(f"wrote {out / 'gpu_acceptance.json'} and gpu_acceptance.md; all steps ok: {result['ok']}")
    return 0 if result["ok"] else 1


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = [f"### GPU acceptance run ({env.get('date', '?')[:10]})", "",
             f"{env.get('gpu', 'CPU smoke run: numbers mean nothing')}, Python {env.get('python')}, torch "
             f"{env.get('torch')} (CUDA {env.get('cuda')}), triton {env.get('triton')}.", "",
             "| step | status | seconds |", "| --- | --- | --- |"]
    lines += [f"| {s['step']} | {s['status']} | {s.get('seconds', 0)} |" for s in result["steps"]]
    counts = result.get("cuda_tests") or {}
    lines += ["", "CUDA tests: " + (", ".join(f"{v} {k}" for k, v in counts.items()) or "no summary"), ""]
    for op in (result.get("backends") or {}).get("ops", []):
        lines.append(f"- `{op['op']}`: auto -> `{op['auto']}` ({op['reason']})")
    lines += ["", "| model | backend | train frames/s | speed-up | peak GiB |", "| --- | --- | --- | --- | --- |"]
    for model, data in result.get("train_steps", {}).items():
        rows = [r for r in data.get("train_step", []) if "backend" in r]
        ref = next((r for r in rows if r["backend"] == "reference" and "frames_per_s" in r), None)
        for r in rows:
            if r.get("out_of_memory"):
                lines.append(f"| {model} | {r['backend']} | out of memory | - | - |")
                continue
            speed = f"{r['frames_per_s'] / ref['frames_per_s']:.1f}x" if ref else "-"
            lines.append(f"| {model} | {r['backend']} | {r['frames_per_s']:.0f} | {speed} | "
                         f"{r['peak_memory_gib']:.1f} |")
    train = result.get("phoenix_train")
    if train:
        lines += ["", f"slr-phoenix train ({train.get('model')}, {train.get('epochs')} epoch, synthetic): "
                      f"dev WER {train.get('dev', {}).get('wer')} %, test WER {train.get('test', {}).get('wer')} %, "
                      f"{train.get('seconds')} s in all."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="fill the carry folder (needs network)")
    prep.add_argument("--carry", default=".gpu-carry")
    go = sub.add_parser("run", help="install from the carry folder and run every check")
    go.add_argument("--carry", default=".gpu-carry")
    go.add_argument("--out", required=True)
    go.add_argument("--budget-s", type=float, default=540.0, help="total seconds for all steps (default 540)")
    go.add_argument("--smoke-cpu", action="store_true", help="CPU dry run with tiny sizes (CI)")
    args = parser.parse_args()
    if args.command == "prepare":
        return prepare(Path(args.carry))
    return run_all(args)


if __name__ == "__main__":
    raise SystemExit(main())
