"""``slr-models`` command line: list registered models, print parameters and FLOPs per frame."""

from __future__ import annotations

import argparse
import json
import sys

from slr_models.models import create_model, list_models
from slr_models.models.stats import model_stats
from slr_models.ops import available_backends


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slr-models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the registered model names")
    info = sub.add_parser("info", help="print parameter count and forward FLOPs per frame")
    info.add_argument("names", nargs="*", metavar="NAME", help="registered model(s); default: all")
    info.add_argument("--num-classes", type=int, default=None, help="override num_classes (default: config's)")
    info.add_argument("--frames", type=int, default=4, help="frames of one video to measure FLOPs on (default 4)")
    info.add_argument("--json", action="store_true", help="print one JSON object per model")
    sub.add_parser("backends", help="say which optional CUDA kernels import on this machine")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "list":
        print("\n".join(list_models()))
        return 0
    if args.command == "backends":
        for name, ok in available_backends().items():
            print(f"{name}: {'importable' if ok else 'not importable'}")
        return 0
    names = args.names or list_models()
    unknown = [n for n in names if n not in list_models()]
    if unknown:
        print(f"slr-models: unknown model(s) {unknown}; registered: {', '.join(list_models())}", file=sys.stderr)
        return 2
    if args.frames < 1:
        print("slr-models: --frames must be >= 1", file=sys.stderr)
        return 2
    for name in names:
        model = create_model(name, args.num_classes)
        stats = model_stats(model, frames=args.frames, videos=1)
        if args.json:
            print(json.dumps({"name": name, "params": stats.params, "flops_per_frame": stats.flops_per_frame,
                              "config": model.config.to_dict()}))
        else:
            print(stats.format(), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
