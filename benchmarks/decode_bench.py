"""CTC decoding speed: greedy, the prefix beam search and torchaudio's flashlight decoder.

Decodes the same synthetic (T, B, V) log-probabilities with every decoder in one run and
reports the time per utterance (median over repeats, plus the best repeat) and the ratio
to the flashlight decoder measured in the same run. The emissions mimic a trained model
("peaked": a random alignment, half blank, whose class gets a large logit) or an untrained
one ("random": Gaussian logits).

    .hatch/slr/bin/python benchmarks/decode_bench.py            # markdown table on stdout
    .hatch/slr/bin/python benchmarks/decode_bench.py --frames 100 --repeats 3
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torchaudio

from slr_models.decoding import CTCBeamDecoder, ctc_greedy_decode
from slr_models.decoding.backends import FlashlightBackend, PrefixBackend, flashlight_unavailable_reason


def emissions(kind: str, num_frames: int, batch: int, vocab: int, seed: int = 0) -> torch.Tensor:
    """``(T, B, V)`` float32 log-probabilities."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(num_frames, batch, vocab, generator=generator)
    if kind == "peaked":
        alignment = torch.randint(1, vocab, (num_frames, batch), generator=generator)
        alignment[torch.rand(num_frames, batch, generator=generator) < 0.5] = 0
        logits.scatter_add_(2, alignment[..., None], torch.full((num_frames, batch, 1), 8.0))
    return logits.log_softmax(-1)


def time_per_utterance(
    runs: dict[str, Callable[[], object]], batch: int, repeats: int
) -> dict[str, tuple[float, float]]:
    """``{name: (median, best)}`` milliseconds per utterance.

    After one warm-up call each, the decoders run in interleaved rounds (the order rotating
    every round), so that load from other processes on a shared machine hits all of them alike.
    """
    for run in runs.values():
        run()
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            runs[name]()
            times[name].append((time.perf_counter() - start) * 1000 / batch)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def decoders(
    vocab: int, beam: int, full_vocab: bool
) -> dict[str, Callable[[torch.Tensor, torch.Tensor], object]]:
    runs: dict[str, Callable[[torch.Tensor, torch.Tensor], object]] = {
        "greedy (`ctc_greedy_decode`)": ctc_greedy_decode,
        f"prefix search, beam {beam} (`PrefixBackend`)": PrefixBackend(vocab, beam, 0).best,
    }
    if flashlight_unavailable_reason() is None:
        runs[f"torchaudio flashlight, beam {beam}, {2 * beam} classes/frame"] = FlashlightBackend(
            vocab, beam, 0, token_beam=2 * beam
        ).best
        if full_vocab:
            runs[f"torchaudio flashlight, beam {beam}, all {vocab} classes/frame"] = FlashlightBackend(
                vocab, beam, 0, token_beam=vocab
            ).best
    for backend in ("prefix", "torchaudio", "auto"):
        if backend == "torchaudio" and flashlight_unavailable_reason() is not None:
            continue
        runs[f"`CTCBeamDecoder(backend={backend!r})` (search + exact rescoring)"] = CTCBeamDecoder(
            beam, backend=backend
        ).decode
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 200, 300])
    parser.add_argument(
        "--vocab", type=int, default=1296, help="classes including blank (PHOENIX-2014: 1296)"
    )
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8, help="utterances per decode call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--emissions", choices=["peaked", "random"], default="peaked")
    parser.add_argument(
        "--full-vocab", action="store_true", help="also time flashlight expanding every class"
    )
    args = parser.parse_args()

    print(f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, ")
    print(
        f"Python {platform.python_version()}, torch {torch.__version__}, torchaudio {torchaudio.__version__}"
    )
    print(f"Auto choice on CPU: {CTCBeamDecoder(args.beam).backend_for('cpu')}")
    print(
        f"V = {args.vocab}, beam {args.beam}, {args.batch} utterances per call, {args.emissions} emissions, "
    )
    print(f"median (best) of {args.repeats} interleaved repeats, ms per utterance; ")
    print("ratio = median / median of flashlight with 2 * beam classes per frame\n")
    runs = decoders(args.vocab, args.beam, args.full_vocab)
    header = "| decoder | " + " | ".join(f"T = {t}" for t in args.frames) + " |"
    print(header)
    print("|" + " --- |" * (len(args.frames) + 1))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for num_frames in args.frames:
        log_probs = emissions(args.emissions, num_frames, args.batch, args.vocab)
        lengths = torch.full((args.batch,), num_frames)
        calls = {name: functools.partial(run, log_probs, lengths) for name, run in runs.items()}
        for name, timing in time_per_utterance(calls, args.batch, args.repeats).items():
            results[name].append(timing)
    baseline = next((name for name in runs if "classes/frame" in name), None)
    for name, timings in results.items():
        cells = []
        for column, (median, best) in enumerate(timings):
            ratio = f", x{median / results[baseline][column][0]:.2f}" if baseline else ""
            cells.append(f"{median:.2f} ({best:.2f}){ratio}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
