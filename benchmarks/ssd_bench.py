"""CPU benchmark of the SSD scan: slr_models' chunked reference vs the Mamba2 paper's Listing 1.

Listing 1 (``ssd_minimal_discrete`` in mamba-ssm) is re-implemented here from the paper, because
mamba-ssm does not import on CPU machines. All methods get the same float32 inputs (default:
batch 16, length 256, 8 heads, head dim 64, state 64, chunk 64); errors are measured against the
sequential recurrence in float64. Timings interleave the methods and report the median (and the
range) of ``--repeats`` runs; ratios are medians over Listing 1's median in the same run (the goal:
at most 0.5x).

    python benchmarks/ssd_bench.py            # prints a Markdown table
    python benchmarks/ssd_bench.py --groups 1 8 --repeats 15
    python benchmarks/ssd_bench.py --compiled # also torch.compile'd reference and Listing 1

``--compiled`` adds ``ssd_scan(backend="compiled")`` (the reference through ``torch.compile``)
and Listing 1 through ``torch.compile``; their compile time (the first forward and the first
forward+backward) is printed separately and excluded from the timings. Ratios stay against
eager Listing 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from slr_models.ops import ssd_scan, ssd_scan_ref, ssd_scan_sequential_ref


def segsum(x: torch.Tensor) -> torch.Tensor:
    """Stable segment sums of Listing 1: ``out[..., i, j] = sum(x[..., j+1 .. i])``, ``-inf`` above the diagonal."""
    t = x.shape[-1]
    x = x.unsqueeze(-1).expand(*x.shape, t)
    x = x.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(-1), 0.0)
    sums = x.cumsum(dim=-2)
    return sums.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))


def ssd_listing1(X, A, B, C, block_len):
    """Listing 1 of the Mamba2 paper. ``X (b, l, h, p)`` (already times dt), ``A (b, l, h)`` (dt * A),
    ``B``/``C (b, l, h, n)`` per head; ``l`` a multiple of ``block_len``. Returns ``Y`` and the final state."""
    b, l, h, p = X.shape
    c = l // block_len
    X, B, C = (t.reshape(b, c, block_len, *t.shape[2:]) for t in (X, B, C))
    A = A.reshape(b, c, block_len, h).permute(0, 3, 1, 2)  # (b, h, c, l)
    A_cumsum = A.cumsum(dim=-1)
    L = torch.exp(segsum(A))
    Y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, X)
    decay_states = torch.exp(A_cumsum[:, :, :, -1:] - A_cumsum)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay_states, X)
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    decay_chunk = torch.exp(segsum(F.pad(A_cumsum[:, :, :, -1], (1, 0))))
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]
    Y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, torch.exp(A_cumsum))
    return (Y_diag + Y_off).reshape(b, l, h, p), final_state


def make_inputs(batch, length, heads, headdim, dstate, groups, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, heads, headdim, generator=gen)
    dt = F.softplus(torch.randn(batch, length, heads, generator=gen) - 3.0)
    A = -torch.exp(torch.rand(heads, generator=gen) * 2.0)
    B = torch.randn(batch, length, groups, dstate, generator=gen) / dstate**0.5
    C = torch.randn(batch, length, groups, dstate, generator=gen) / dstate**0.5
    return x, dt, A, B, C


def methods(chunk, compiled=False):
    def reference(x, dt, A, B, C):
        return ssd_scan_ref(x, dt, A, B, C, chunk_size=chunk, return_final_states=True)

    def reference_compiled(x, dt, A, B, C):
        return ssd_scan(x, dt, A, B, C, chunk_size=chunk, return_final_states=True, backend="compiled")

    def listing1(x, dt, A, B, C):
        r = x.shape[2] // B.shape[2]
        return ssd_listing1(x * dt.unsqueeze(-1), dt * A, B.repeat_interleave(r, 2), C.repeat_interleave(r, 2), chunk)

    def sequential(x, dt, A, B, C):
        return ssd_scan_sequential_ref(x, dt, A, B, C, return_final_states=True)

    out = {"slr_models reference (chunked)": reference, "Listing 1 (ssd_minimal_discrete)": listing1,
           "sequential recurrence": sequential}
    if compiled:
        out["slr_models reference, torch.compile (backend='compiled')"] = reference_compiled
        out["Listing 1, torch.compile"] = torch.compile(listing1)
    return out


def compile_times(fns, inputs):
    """Seconds of the first forward and the first forward+backward of each compiled method."""
    out = {}
    grad = torch.randn_like(inputs[0])
    leaves = [t.clone().requires_grad_(True) for t in inputs]
    for name, fn in fns.items():
        if "torch.compile" not in name:
            continue
        start = time.perf_counter()
        with torch.no_grad():
            fn(*inputs)
        middle = time.perf_counter()
        y, _ = fn(*leaves)
        torch.autograd.backward([y], [grad])
        out[name] = (middle - start, time.perf_counter() - middle)
    return out


def time_methods(fns, inputs, backward, repeats, skip):
    """Interleaved timings in seconds: ``{name: [t1, t2, ...]}``."""
    grads = [torch.randn_like(inputs[0]), None]
    leaves = [t.clone().requires_grad_(backward) for t in inputs]
    times = {name: [] for name in fns if name not in skip}
    for _ in range(repeats + 1):  # first round warms up
        for name in times:
            start = time.perf_counter()
            if backward:
                y, final = fns[name](*leaves)
                torch.autograd.backward([y], [grads[0]])
            else:
                with torch.no_grad():
                    fns[name](*leaves)
            times[name].append(time.perf_counter() - start)
    return {name: t[1:] for name, t in times.items()}


def errors(fns, inputs):
    """Max abs error of each method's y (float32) against the float64 recurrence, relative to max |y|."""
    truth, _ = ssd_scan_sequential_ref(*(t.double() for t in inputs), return_final_states=True)
    scale = truth.abs().max().item()
    out = {}
    for name, fn in fns.items():
        with torch.no_grad():
            y, _ = fn(*inputs)
        out[name] = (y.double() - truth).abs().max().item() / scale
    return out


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--headdim", type=int, default=64)
    parser.add_argument("--dstate", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 8], help="B/C groups to run (default 1 8)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-sequential-backward", action="store_true",
                        help="skip timing forward+backward of the (slow) sequential loop")
    parser.add_argument("--compiled", action="store_true",
                        help="also time the reference and Listing 1 through torch.compile")
    args = parser.parse_args()
    if args.length % args.chunk:
        parser.error("--length must be a multiple of --chunk (Listing 1 needs whole chunks)")

    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} at start")
    print(f"shapes: batch {args.batch}, length {args.length}, heads {args.heads}, head dim {args.headdim}, "
          f"state {args.dstate}, chunk {args.chunk}, float32; median (min-max) of {args.repeats} runs\n")
    fns = methods(args.chunk, compiled=args.compiled)
    baseline = "Listing 1 (ssd_minimal_discrete)"
    print("| groups | method | rel. error vs float64 | forward ms | time / Listing 1 | fwd+bwd ms "
          "| time / Listing 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    compiled_notes = []
    for groups in args.groups:
        inputs = make_inputs(args.batch, args.length, args.heads, args.headdim, args.dstate, groups)
        for name, (fwd_s, bwd_s) in compile_times(fns, inputs).items():
            compiled_notes.append(f"groups {groups}, {name}: compile {fwd_s:.1f} s (forward) + "
                                  f"{bwd_s:.1f} s (forward+backward)")
        err = errors(fns, inputs)
        fwd = time_methods(fns, inputs, False, args.repeats, skip=())
        skip = ("sequential recurrence",) if args.no_sequential_backward else ()
        bwd = time_methods(fns, inputs, True, args.repeats, skip=skip)
        for name in fns:
            cells = [str(groups), name, f"{err[name]:.1e}"]
            for table in (fwd, bwd):
                if name not in table:
                    cells += ["-", "-"]
                    continue
                med, best, worst = statistics.median(table[name]), min(table[name]), max(table[name])
                ratio = med / statistics.median(table[baseline])
                cells += [f"{med * 1e3:.1f} ({best * 1e3:.1f}-{worst * 1e3:.1f})", f"{ratio:.2f}x"]
            print("| " + " | ".join(cells) + " |", flush=True)
    for note in compiled_notes:
        print(f"\n{note}")
    print(f"\nload average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
