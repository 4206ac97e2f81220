"""``slr-data`` command line: ``synth`` (generate the synthetic corpus) and ``stats`` (summarise a corpus).

Exit codes: 0 success (also when stdout is a pipe closed early, e.g. ``| head``), 2 bad input
(a malformed, missing or refused file, an OS error about a path given, a full stdout), 130
interrupted (Ctrl-C), 1 internal error. Errors are one line on stderr; ``--debug`` (or the
environment variable ``SLR_DEBUG=1``) also prints the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import traceback

from slr_data.synth.config import GLOSS_NAME_SOURCES, SynthConfig
from slr_data.errors import SlrDataError

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

_PRESETS = {"default": SynthConfig, "tiny": SynthConfig.tiny}
_LAYOUT_NAMES = {"phoenix2014": "PHOENIX-2014", "csl-daily": "CSL-Daily"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slr-data", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="print tracebacks (also: SLR_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser(
        "synth",
        help="write a synthetic PHOENIX-2014-format corpus",
        description="Write a synthetic corpus in the PHOENIX-2014 release layout (frames, corpus CSVs, "
        "STM ground truth, *_info.npy + gloss_dict.npy). Re-running with the same options "
        "does nothing (cached).",
    )
    synth.add_argument("--out", required=True, help="output folder (created; must be new, empty or a corpus)")
    synth.add_argument(
        "--preset",
        choices=sorted(_PRESETS),
        default="default",
        help="default: 1000/100/100 videos, 40 glosses, 64 px; tiny: 24/8/8, 12 glosses, 32 px",
    )
    synth.add_argument("--videos", type=int, help="train videos (dev/test default to a tenth, at least 1)")
    synth.add_argument("--dev-videos", type=int)
    synth.add_argument("--test-videos", type=int)
    synth.add_argument("--vocab", type=int, help="glosses including __ON__/__OFF__")
    synth.add_argument("--size", type=int, help="frame width = height in pixels")
    synth.add_argument("--signers", type=int, help="number of signers")
    synth.add_argument("--seed", type=int)
    synth.add_argument("--noise", type=float, help="pixel noise standard deviation (0-255)")
    synth.add_argument(
        "--gloss-names",
        choices=GLOSS_NAME_SOURCES,
        help="builtin names, or real names/frequencies/lengths from --phoenix-meta",
    )
    synth.add_argument("--phoenix-meta", help="folder with the real gloss_dict.npy and train_info.npy")
    synth.add_argument("--threads", type=int, help="render / write threads")
    synth.add_argument(
        "--overwrite", action="store_true", help="replace a corpus generated with other options"
    )
    synth.add_argument(
        "--layout",
        choices=sorted(_LAYOUT_NAMES),
        default="phoenix2014",
        help="on-disk layout: the PHOENIX-2014 release (default) or the CSL-Daily release "
        "with Chinese glosses",
    )
    synth.add_argument(
        "--keypoints",
        action="store_true",
        help="also write the hand/head keypoints as a TwoStream-SLR-style pickle (121 points, 256x256 "
        "coordinates; added to an existing corpus too)",
    )

    stats = commands.add_parser("stats", help="summarise a PHOENIX-2014 / 2014-T / synthetic corpus")
    stats.add_argument("path", help="corpus folder (info files or release layout)")
    stats.add_argument("--corpus", default="phoenix2014",
                       help="a registered corpus name (slr_data.list_corpora(): phoenix2014, "
                       "phoenix2014t, csl-daily, ...)")
    for sub in (synth, stats):
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="print tracebacks")
    return parser


def synth_config_from_args(args: argparse.Namespace) -> SynthConfig:
    """The :class:`SynthConfig` that ``slr-data synth`` options describe."""
    overrides = {}
    if args.videos is not None:
        overrides["num_train"] = args.videos
        overrides["num_dev"] = overrides["num_test"] = max(1, args.videos // 10)
    for option, field in (
        ("dev_videos", "num_dev"),
        ("test_videos", "num_test"),
        ("vocab", "vocab_size"),
        ("size", "image_size"),
        ("signers", "num_signers"),
        ("seed", "seed"),
        ("noise", "noise_std"),
        ("gloss_names", "gloss_names"),
        ("phoenix_meta", "phoenix_meta"),
        ("threads", "write_threads"),
    ):
        value = getattr(args, option)
        if value is not None:
            overrides[field] = value
    base = _PRESETS[args.preset]()
    return dataclasses.replace(base, **overrides)


def _synth(args) -> int:
    from slr_data.synth.writer import generate_synthetic_corpus

    config = synth_config_from_args(args)
    start = time.perf_counter()
    corpus = generate_synthetic_corpus(args.out, config, overwrite=args.overwrite, keypoints=args.keypoints,
                                       layout=args.layout)
    elapsed = time.perf_counter() - start
    state = "already present (cached)" if corpus.cached else f"written in {elapsed:.1f} s"
    counts = ", ".join(f"{split} {n}" for split, n in corpus.counts.items())
    lines = [
        f"synthetic {_LAYOUT_NAMES[args.layout]} corpus {state}: {corpus.root}",
        f"  videos: {counts}; vocabulary {config.vocab_size} glosses; "
        f"frames {config.image_size}x{config.image_size}",
    ]
    if corpus.keypoints is not None:
        lines.append(f"  keypoints: {corpus.keypoints}")
    _emit("\n".join(lines))
    return 0


def _stats(args) -> int:
    from slr_data.corpus import load_corpus

    _emit(load_corpus(args.corpus, args.path).summary())
    return 0


class _StdoutError(Exception):
    """Writing the command's output to stdout failed (not a closed pipe)."""


def _emit(text: str) -> None:
    """Print ``text`` and flush, so that stdout errors happen here, not at interpreter exit."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _StdoutError(f"cannot write to stdout: {exc.strerror or exc}") from exc


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # e.g. a test's captured stdout has no fd
        pass


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong: ``path: reason`` for OS errors, else the message."""
    if (
        isinstance(exc, OSError)
        and exc.strerror
        and exc.filename is not None
        and type(exc).__str__ is OSError.__str__
    ):
        text = f"{exc.filename}: {exc.strerror}"
        if exc.filename2 is not None:
            text += f" ({exc.filename2})"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(part.strip() for part in text.strip().splitlines())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("SLR_DEBUG", "").strip() not in ("", "0")
    prefix = f"slr-data {args.command}"
    try:
        return _synth(args) if args.command == "synth" else _stats(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing left to say
        _detach_stdout()
        return EXIT_OK
    except _StdoutError as exc:
        _detach_stdout()
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (SlrDataError, ValueError, OSError) as exc:  # the package's errors (all SlrDataError)
        if debug:
            traceback.print_exc()
        print(f"{prefix}: error: {describe_error(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (run with --debug or SLR_DEBUG=1 for the traceback)"
        print(f"{prefix}: internal error: {type(exc).__name__}: {describe_error(exc)}{hint}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
