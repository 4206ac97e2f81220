"""``slr-score``: score a CTM (or plain) hypothesis file against an STM reference.

Exit status: 0 on success, 2 on bad input (malformed file, unknown ids, bad arguments), with
the reason on stderr (``slr-score: error: hyp.ctm:12: expected ... fields``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from slr_metrics.__about__ import __version__
from slr_metrics.errors import FormatError, ScoringError
from slr_metrics.fileio import atomic_write_text
from slr_metrics.protocols import PROTOCOLS, list_protocols
from slr_metrics.scoring import score_files

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    protocols = "\n".join(f"  {name:<18} {p.summary}" for name, p in PROTOCOLS.items())
    parser = argparse.ArgumentParser(
        prog="slr-score",
        description="Word error rate exactly as NIST sclite counts it, with the PHOENIX scoring protocols.",
        epilog=f"protocols:\n{protocols}",
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
    parser.add_argument("--pra", metavar="FILE", help="also write an sclite-style aligned listing to FILE")
    parser.add_argument("--top", type=int, default=10, metavar="K", help="confusions to list (default: 10)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used by the console script)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        report = score_files(
            args.ref,
            args.hyp,
            protocol=args.protocol,
            levenshtein=args.levenshtein,
            hyp_format=args.hyp_format,
            case_sensitive=args.case_sensitive,
        )
        if args.pra:
            atomic_write_text(args.pra, report.format_pra())
    except (FormatError, ScoringError, ValueError) as exc:
        print(f"slr-score: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"slr-score: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(report.to_json(top_confusions=args.top) + "\n")
    else:
        sys.stdout.write(report.format_summary(top_confusions=args.top))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
