"""``slr-models`` command line: models, kernel backends, the fast path, Mamba_SLR checkpoint import.

Exit codes: 0 success, 1 a failure inside a step (pip failed), 2 bad input (the message names the
file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from slr_models.models import create_model, list_models
from slr_models.models.stats import model_stats


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slr-models", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the registered model names")
    info = sub.add_parser("info", help="print parameter count and forward FLOPs per frame")
    info.add_argument("names", nargs="*", metavar="NAME", help="registered model(s); default: all")
    info.add_argument("--num-classes", type=int, default=None, help="override num_classes (default: config's)")
    info.add_argument("--frames", type=int, default=4, help="frames of one video to measure FLOPs on (default 4)")
    info.add_argument("--json", action="store_true", help="print one JSON object per model")
    backends = sub.add_parser("backends", help="say, for each op, which kernel backend='auto' picks here and why")
    backends.add_argument("--json", action="store_true", help="print one JSON object")
    fast = sub.add_parser("install-fast-path", help="install mamba-ssm's Triton kernels without compiling "
                                                    "(optionally causal-conv1d), online or from a folder")
    fast.add_argument("--find-links", metavar="DIR", help="install offline from DIR (filled with --download)")
    fast.add_argument("--download", metavar="DIR", help="only download the sources/wheels into DIR (for offline use)")
    fast.add_argument("--with-causal-conv1d", action="store_true",
                      help="also build causal-conv1d's CUDA kernel (needs nvcc; slow; optional)")
    fast.add_argument("--if-missing", action="store_true", help="do nothing when mamba-ssm is already installed")
    fast.add_argument("--quiet", action="store_true", help="less pip output")
    imp = sub.add_parser("import-mamba-slr", help="convert a Mamba_SLR checkpoint into an slr model bundle "
                                                  "(for slr-phoenix evaluate/predict --checkpoint)")
    imp.add_argument("source", metavar="SRC", help="checkpoint-*.pth, or a DeepSpeed checkpoint folder / "
                                                   "mp_rank_00_model_states.pt")
    imp.add_argument("--gloss-dict", required=True, metavar="NPY", help="the gloss_dict.npy it was trained with")
    imp.add_argument("--out", required=True, metavar="DST", help="the bundle to write (e.g. mamba_slr.pt)")
    imp.add_argument("--key", default="auto", choices=("auto", "model_ema", "model", "module"),
                     help="which weights: auto = model_ema, else model, else module (default auto)")
    return parser


def _import_mamba_slr(args) -> int:
    from slr_models.interop import MAMBA_SLR_PREPROCESSING, import_mamba_slr, read_gloss_dict, save_bundle

    out = Path(args.out)
    if out.exists() and not out.is_file():
        print(f"slr-models: --out {out}: exists and is not a regular file", file=sys.stderr)
        return 2
    for given in (args.source, args.gloss_dict):
        if out.exists() and Path(given).exists() and os.path.samefile(out, given):
            print(f"slr-models: --out {out} is an input of this command; choose another path", file=sys.stderr)
            return 2
    glosses = read_gloss_dict(args.gloss_dict)
    model = import_mamba_slr(args.source, key=args.key)
    if model.config.num_classes != len(glosses) + 1:
        print(f"slr-models: {args.gloss_dict}: {len(glosses)} glosses + blank, but the checkpoint's head has "
              f"{model.config.num_classes} classes", file=sys.stderr)
        return 2
    info = model.import_info
    # the original resizes to 256 (its datasets' fixed input_size) and centre-crops --input_size
    preprocessing = dataclasses.replace(MAMBA_SLR_PREPROCESSING, crop=model.config.img_size)
    save_bundle(out, model, glosses, preprocessing,
                source={"codebase": "Mamba_SLR", **info, "gloss_dict": str(args.gloss_dict)})
    params = sum(p.numel() for p in model.parameters())
    print(f"imported {info['path']} ({info['layout']} layout, key {info['key']}, epoch {info['epoch']}): "
          f"{params:,} parameters, {model.config.num_classes} classes, {model.config.img_size} px -> {out}")
    return 0


def _run(args) -> int:
    if args.command == "list":
        print("\n".join(list_models()))
        return 0
    if args.command == "backends":
        from slr_models.ops.report import backend_report_dict, format_backend_report

        print(json.dumps(backend_report_dict(), indent=2) if args.json else format_backend_report())
        return 0
    if args.command == "install-fast-path":
        from slr_models.fastpath import install_fast_path

        return install_fast_path(find_links=args.find_links, causal_conv1d=args.with_causal_conv1d,
                                 if_missing=args.if_missing, download=args.download, quiet=args.quiet,
                                 echo=lambda line: print(line, file=sys.stderr))
    if args.command == "import-mamba-slr":
        return _import_mamba_slr(args)
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


def main(argv: list[str] | None = None) -> int:
    from slr_models.interop import CheckpointImportError

    args = _build_parser().parse_args(argv)
    try:
        return _run(args)
    except CheckpointImportError as exc:
        print(f"slr-models: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"slr-models: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("slr-models: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
