"""``slr-models`` command line: models, kernel backends, the fast path, Mamba_SLR checkpoint import.

Exit codes (:mod:`slr_models.console`): 0 success (also when stdout is a pipe closed early), 1 a
failure inside a step (pip failed) or an internal error, 2 bad input (the message names the file or
path), 130 interrupted. Errors are one line on stderr; ``--debug`` or ``SLR_DEBUG=1`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import secrets
import sys
from pathlib import Path

from slr_models.console import EXIT_BAD_INPUT, debug_requested, emit, run_command

from slr_models.models import create_model, list_models
from slr_models.models.stats import model_stats


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slr-models", description=__doc__.split("\n")[0],
                                     epilog="exit status: 0 success, 2 bad input, 130 interrupted, "
                                            "1 a failed step or internal error")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (also: SLR_DEBUG=1)")
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
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="print the traceback of an error (also: SLR_DEBUG=1)")
    return parser


def _output_file_problem(out: Path, inputs: tuple[str, ...]) -> str | None:
    """Why ``out`` cannot be written (checked before any work), or ``None``: it must be a regular
    file or new, not an input of the command, in a folder that exists or can be made and written in."""
    if out.exists() and not out.is_file():
        return "exists and is not a regular file"
    for given in inputs:
        if out.exists() and Path(given).exists() and os.path.samefile(out, given):
            return "is an input of this command; choose another path"
    folder = Path(os.path.realpath(out)).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        return "a folder on the way is a file, not a folder"
    except OSError as exc:
        return f"cannot create its folder: {exc.strerror or exc}"
    probe = folder / f".{out.name}.probe-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        return f"cannot write in its folder: {exc.strerror or exc}"
    probe.unlink(missing_ok=True)
    return None


def _import_mamba_slr(args) -> int:
    from slr_models.interop import MAMBA_SLR_PREPROCESSING, import_mamba_slr, read_gloss_dict, save_bundle

    out = Path(args.out)
    problem = _output_file_problem(out, (args.source, args.gloss_dict))
    if problem:
        print(f"slr-models: --out {out}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    glosses = read_gloss_dict(args.gloss_dict)
    model = import_mamba_slr(args.source, key=args.key)
    if model.config.num_classes != len(glosses) + 1:
        print(f"slr-models: {args.gloss_dict}: {len(glosses)} glosses + blank, but the checkpoint's head has "
              f"{model.config.num_classes} classes", file=sys.stderr)
        return 2
    info = model.import_info
    # the original resizes to 256 (its datasets' fixed input_size) and centre-crops --input_size
    preprocessing = dataclasses.replace(MAMBA_SLR_PREPROCESSING, crop=model.config.img_size)
    try:
        save_bundle(out, model, glosses, preprocessing,
                    source={"codebase": "Mamba_SLR", **info, "gloss_dict": str(args.gloss_dict)})
    except OSError as exc:  # ENOSPC, EROFS, ...: name the path given, not the temp file
        raise OSError(exc.errno or errno.EIO, f"cannot write: {exc.strerror or exc}", str(out)) from exc
    params = sum(p.numel() for p in model.parameters())
    emit(f"imported {info['path']} ({info['layout']} layout, key {info['key']}, epoch {info['epoch']}): "
          f"{params:,} parameters, {model.config.num_classes} classes, {model.config.img_size} px -> {out}")
    return 0


def _run(args) -> int:
    if args.command == "list":
        emit("\n".join(list_models()))
        return 0
    if args.command == "backends":
        from slr_models.ops.report import backend_report_dict, format_backend_report

        emit(json.dumps(backend_report_dict(), indent=2) if args.json else format_backend_report())
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
            emit(json.dumps({"name": name, "params": stats.params, "flops_per_frame": stats.flops_per_frame,
                             "config": model.config.to_dict()}))
        else:
            emit(stats.format())
    return 0


def main(argv: list[str] | None = None) -> int:
    from slr_models.errors import SlrModelsError

    args = _build_parser().parse_args(argv)
    return run_command("slr-models", lambda: _run(args), debug=debug_requested(args.debug),
                       bad_input=(SlrModelsError,))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
