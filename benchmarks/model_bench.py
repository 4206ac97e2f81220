"""CPU throughput of a registered model (default ``slr_mamba_tiny``): frames per second.

Measures, on a packed batch shaped like the synthetic PHOENIX-format corpus (default 8 videos of
24-56 frames), with torch's default thread count:

* forward (eval, no grad), forward + backward (train mode, CTC loss), and a full training step
  (forward + backward + AdamW);
* as a baseline measured in the same run, a dense float32 matmul of the same FLOP count as the
  model's forward pass: ``efficiency = (model FLOP/s) / (matmul FLOP/s)`` is robust to how busy
  the (shared) machine is, where frames/s alone is not.

Timings interleave the measurements and report the median (and the best) of ``--repeats`` runs.

    python benchmarks/model_bench.py
    python benchmarks/model_bench.py --model slr_mamba_tiny --videos 8 --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from slr_models import create_model
from slr_models.models.stats import count_parameters, model_stats


def synthetic_batch(model, videos: int, min_len: int, max_len: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (videos,), generator=gen)
    c = model.config
    frames = torch.randn(int(lengths.sum()), c.in_chans, c.img_size, c.img_size, generator=gen)
    label_lengths = torch.clamp(lengths // 6, min=1)
    labels = torch.randint(1, c.num_classes, (int(label_lengths.sum()),), generator=gen)
    return frames, lengths, labels, label_lengths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="slr_mamba_tiny")
    parser.add_argument("--num-classes", type=int, default=64, help="vocabulary incl. blank (synthetic: ~30-60)")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--min-len", type=int, default=24)
    parser.add_argument("--max-len", type=int, default=56)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = create_model(args.model, args.num_classes)
    frames, lengths, labels, label_lengths = synthetic_batch(model, args.videos, args.min_len, args.max_len)
    n_frames = frames.shape[0]
    flops = model_stats(model, frames=32).flops_per_frame
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)

    side = 1024
    a, b = torch.randn(side, side), torch.randn(side, side)
    matmul_flops = 2 * side**3

    def forward():
        model.eval()
        with torch.no_grad():
            model(frames, lengths)

    def forward_backward(step: bool = False):
        model.train()
        out = model(frames, lengths)
        loss = F.ctc_loss(out.log_probs, labels, out.lengths, label_lengths, zero_infinity=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if step:
            optimizer.step()

    def matmul():
        torch.mm(a, b)

    jobs = {"forward": forward, "forward+backward": forward_backward,
            "train step (fwd+bwd+AdamW)": lambda: forward_backward(True), "matmul baseline": matmul}
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for round_ in range(args.repeats + 1):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            if round_:  # round 0 warms up
                times[name].append(time.perf_counter() - start)

    gemm_rate = matmul_flops / statistics.median(times["matmul baseline"])
    print(f"model {args.model}: {count_parameters(model) / 1e6:.3f} M parameters, "
          f"{flops / 1e6:.2f} MFLOPs/frame forward, input {model.config.img_size} px")
    print(f"batch: {args.videos} videos, {n_frames} frames (lengths {lengths.tolist()}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"baseline: {side}x{side} float32 matmul at {gemm_rate / 1e9:.1f} GFLOP/s\n")
    print("| measurement | frames/s median (best) | model GFLOP/s | efficiency vs matmul |")
    print("| --- | --- | --- | --- |")
    for name in ("forward", "forward+backward", "train step (fwd+bwd+AdamW)"):
        med, best = statistics.median(times[name]), min(times[name])
        passes = 1 if name == "forward" else 3  # backward ~ 2x forward FLOPs
        rate = passes * flops * n_frames / med
        print(f"| {name} | {n_frames / med:.0f} ({n_frames / best:.0f}) | {rate / 1e9:.1f} | "
              f"{rate / gemm_rate:.2f} |")


if __name__ == "__main__":
    main()
