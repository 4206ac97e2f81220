"""``slr-score``: score a CTM (or plain) hypothesis file against an STM reference.

Every failure is one line on stderr (``slr-score: error: hyp.ctm:12: expected ... fields``) and
an exit status:

* 0: success; also when standard output is a pipe its reader closed early (``| head -1``);
* 2: bad input: a malformed or over-limit file (:mod:`slr_metrics.limits`), unknown ids, a
  reference without words, an output path that is refused or cannot be written, standard
  output that cannot be written (a full disk, ``/dev/full``), bad arguments or environment
  variables;
* 130: interrupted (Ctrl-C);
* 1: an internal error (a bug).

``--debug`` or ``SLR_DEBUG=1`` adds the traceback.

Start-up time is most of what ``slr-score`` spends on a test set, so this module imports
:mod:`argparse` (and with it :mod:`re`) only for command lines that :func:`parse_common` does
not take: ``--help``, ``--version``, abbreviated options, ``--opt=value``, and every error.
"""

from __future__ import annotations

import errno
import gc
import os
import stat
import sys
from collections.abc import Mapping, Sequence

from slr_metrics.__about__ import __version__
from slr_metrics.errors import OutputError, SlrMetricsError
from slr_metrics.fileio import atomic_write_text, resolve_output_path
from slr_metrics.limits import ENV_VARS, Limits
from slr_metrics.protocols import PROTOCOLS, list_protocols
from slr_metrics.scoring import score_files

__all__ = [
    "main",
    "build_parser",
    "parse_common",
    "EXIT_OK",
    "EXIT_INTERNAL",
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
]

PROG = "slr-score"
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _StdoutClosed(Exception):
    """The reader of standard output went away (EPIPE)."""


class _StdoutFailed(Exception):
    """Standard output could not be written (ENOSPC, EIO, ...)."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))


def _non_negative_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser():
    """The :class:`argparse.ArgumentParser` of ``slr-score``."""
    import argparse

    protocols = "\n".join(f"  {name:<18} {p.summary}" for name, p in PROTOCOLS.items())
    limits = "\n".join(f"  {var}" for var in ENV_VARS.values())
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Word error rate exactly as NIST sclite counts it, with the PHOENIX scoring protocols.",
        epilog=(
            f"protocols:\n{protocols}\n\n"
            f"limits (environment variables, positive whole numbers):\n{limits}\n\n"
            "exit status: 0 success (also when a pipe reader stops early), 2 bad input or\n"
            "unwritable output, 130 interrupted, 1 internal error; SLR_DEBUG=1 = --debug"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ref", required=True, metavar="REF.stm", help="reference STM file")
    parser.add_argument(
        "--hyp", required=True, metavar="HYP.ctm", help="hypothesis CTM file or '<id> <words...>' lines"
    )
    parser.add_argument(
        "--protocol", default="none", choices=list_protocols(), help="normalisation (default: none)"
    )
    parser.add_argument(
        "--levenshtein",
        action="store_true",
        help="plain Levenshtein alignment (minimum edits, as jiwer/torchmetrics) instead of sclite's",
    )
    parser.add_argument(
        "--case-sensitive", action="store_true", help="compare words case-sensitively (sclite folds A-Z)"
    )
    parser.add_argument(
        "--hyp-format", default="auto", choices=("auto", "ctm", "hyp"), help="hypothesis file format"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.add_argument(
        "--pra",
        metavar="FILE",
        help="also write an sclite-style aligned listing to FILE (a regular file or a new one; "
        "never an input; a symlink is written through)",
    )
    parser.add_argument(
        "--top", type=_non_negative_int, default=10, metavar="K", help="confusions to list (default: 10)"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (or SLR_DEBUG=1)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


# Options of build_parser() by what they take, for parse_common().
_FLAGS = {
    "--levenshtein": "levenshtein",
    "--case-sensitive": "case_sensitive",
    "--json": "json",
    "--debug": "debug",
}
_VALUED = {
    "--ref": "ref",
    "--hyp": "hyp",
    "--protocol": "protocol",
    "--hyp-format": "hyp_format",
    "--pra": "pra",
}
_DEFAULTS = {
    "ref": None,
    "hyp": None,
    "protocol": "none",
    "levenshtein": False,
    "case_sensitive": False,
    "hyp_format": "auto",
    "json": False,
    "pra": None,
    "top": 10,
    "debug": False,
}


class Options:
    """Parsed arguments: the attributes of :func:`build_parser`'s namespace."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return "Options(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


def parse_common(argv: Sequence[str]) -> Options | None:
    """What ``build_parser().parse_args(argv)`` gives, for command lines of whole option names
    each followed by its value (one not starting with ``-``) and valid values; ``None`` for
    any other command line, which argparse then parses (and reports, if it is wrong)."""
    values = dict(_DEFAULTS)
    k, count = 0, len(argv)
    while k < count:
        arg = argv[k]
        flag = _FLAGS.get(arg)
        if flag is not None:
            values[flag] = True
            k += 1
            continue
        if k + 1 == count or argv[k + 1].startswith("-"):
            return None
        value = argv[k + 1]
        if arg == "--top":
            if not (value.isascii() and value.isdigit()):
                return None
            values["top"] = int(value)
        elif arg in _VALUED:
            values[_VALUED[arg]] = value
        else:
            return None
        k += 2
    if (
        values["ref"] is None
        or values["hyp"] is None
        or values["protocol"] not in PROTOCOLS
        or values["hyp_format"] not in ("auto", "ctm", "hyp")
    ):
        return None
    return Options(**values)


def _debug_from_env(environ: Mapping[str, str]) -> bool:
    return environ.get("SLR_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def _write_stdout(text: str) -> None:
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        raise _StdoutFailed(OSError(errno.EBADF, "it is closed"))
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise _StdoutClosed() from exc
    except OSError as exc:
        raise _StdoutFailed(exc) from exc


def _discard_stdout() -> None:
    """Point the real stdout at ``/dev/null``, so that the interpreter's last flush of what is
    still buffered neither fails again nor prints "Exception ignored" (and exit 120)."""
    if sys.stdout is not sys.__stdout__ or sys.stdout is None:
        return
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        return
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _check_not_stdout(real_path: str, user_path: str) -> None:
    """Refuse ``--pra out.txt > out.txt``: the rename would leave stdout writing to a deleted file."""
    try:
        out = os.fstat(sys.stdout.fileno())
        target = os.stat(real_path)
    except (AttributeError, OSError, ValueError):
        return
    if stat.S_ISREG(out.st_mode) and os.path.samestat(out, target):
        raise OutputError("is also the standard output of this command; refusing to replace it", user_path)


def _run(args: Options, limits: Limits) -> int:  # or an argparse.Namespace
    inputs = (args.ref, args.hyp)
    if args.pra is not None:  # refuse a bad output path before the (possibly long) scoring
        _check_not_stdout(resolve_output_path(args.pra, inputs), args.pra)
    report = score_files(
        args.ref,
        args.hyp,
        protocol=args.protocol,
        levenshtein=args.levenshtein,
        hyp_format=args.hyp_format,
        case_sensitive=args.case_sensitive,
        limits=limits,
    )
    if args.pra is not None:
        atomic_write_text(args.pra, report.format_pra(), inputs=inputs)
    if args.json:
        _write_stdout(report.to_json(top_confusions=args.top) + "\n")
    else:
        _write_stdout(report.format_summary(top_confusions=args.top))
    return EXIT_OK


def _fail(debug: bool, message: str, status: int) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    print(f"{PROG}: {message}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the console script).

    Bad arguments raise :class:`SystemExit` (status 2) from :mod:`argparse`, as usual.
    """
    debug = _debug_from_env(os.environ)
    collecting = gc.isenabled()
    gc.disable()  # scoring builds no reference cycles; the collector's passes cost ~8 % of a run
    try:
        args = parse_common(sys.argv[1:] if argv is None else argv)
        if args is None:
            args = build_parser().parse_args(argv)
        debug = debug or args.debug
        return _run(args, Limits.from_env())
    except KeyboardInterrupt:
        return _fail(debug, "interrupted", EXIT_INTERRUPTED)
    except _StdoutClosed:
        _discard_stdout()  # the reader has what it wanted (e.g. `| head -1`): not an error
        return EXIT_OK
    except _StdoutFailed as exc:
        _discard_stdout()
        return _fail(debug, f"error: cannot write to standard output: {exc}", EXIT_BAD_INPUT)
    except (SlrMetricsError, ValueError, OSError) as exc:  # FormatError, ScoringError, OutputError, limits
        return _fail(debug, f"error: {exc}", EXIT_BAD_INPUT)
    except Exception as exc:
        text = " ".join(str(exc).split())
        return _fail(
            debug,
            f"internal error: {type(exc).__name__}: {text} "
            "(rerun with --debug or SLR_DEBUG=1 for the traceback)",
            EXIT_INTERNAL,
        )
    finally:
        if collecting:
            gc.enable()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
