"""``slr-phoenix``: train, evaluate and use CSLR models on PHOENIX-2014 (or the synthetic default).

``hatch run train:phoenix [OPTIONS]`` is ``slr-phoenix train [OPTIONS]``;
``hatch run train:evaluate ...`` and ``hatch run train:predict ...`` are the other two commands.
Exit codes (:mod:`slr_phoenix.console`): 0 success, 2 bad input, 130 interrupted, 1 internal error;
``--debug`` or ``SLR_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from slr_data import DEFAULT_CORPUS, detect_corpus, get_corpus

from slr_phoenix.console import EXIT_BAD_INPUT, EXIT_INTERRUPTED, debug_requested, emit, run_command
from slr_phoenix.outputs import usable_output_dir
from slr_phoenix.settings import BUILTIN_CONFIGS, DATA_ROOT_ENV, ConfigError, dump_yaml, load_config

__all__ = ["main", "build_parser", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED"]


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train and evaluate (the main job)",
        description="Train a CSLR model and evaluate its best checkpoint on dev and test. With no "
                    "options: generate (once, cached) the synthetic PHOENIX-format corpus, train "
                    "slr_mamba_tiny on the CPU and write everything to runs/tiny.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", default="tiny", metavar="NAME|YAML",
                   help=f"built-in config ({', '.join(BUILTIN_CONFIGS)}) or a YAML file; 'base' is the "
                        "reference recipe (slr_mamba_base, 224 px) for the real corpus, 'mamba_slr' Mamba_SLR's "
                        "run_phoenix.sh (mamba_slr_base)")
    p.add_argument("--data-root", default=os.environ.get(DATA_ROOT_ENV), metavar="PATH",
                   help=f"real corpus folder (e.g. .../phoenix-2014-multisigner); default ${DATA_ROOT_ENV}; "
                        "when set and the config names the synthetic corpus, data.corpus becomes the "
                        "registered corpus that recognises PATH (phoenix2014, phoenix2014t, csl-daily, ...)")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", default="auto", metavar="auto|none|CKPT",
                   help="continue from the newest valid checkpoint in --out (auto), start fresh (none), "
                        "or continue from a checkpoint file")
    p.add_argument("--init-from", metavar="CKPT",
                   help="train.init_from.path: start from these weights (an slr checkpoint or run directory, "
                        "an slr-model bundle, a .pth state dict as Mamba_SLR saves them, or a Mamba_SLR "
                        "image-pretrained backbone); "
                        "unlike --resume the optimiser, schedule and epochs start afresh, and a run that "
                        "resumes from its own checkpoint does not load it again")
    p.add_argument("--epochs", type=int, help="train.optim.epochs")
    p.add_argument("--batch-size", type=int, help="data.batch_size (videos per process and batch)")
    p.add_argument("--grad-accum", type=int, help="train.optim.grad_accum_steps")
    p.add_argument("--lr", type=float, help="train.optim.lr (peak, last layer)")
    p.add_argument("--precision", choices=("bf16", "fp32"), help="train.precision.dtype")
    p.add_argument("--seed", type=int, help="train.seed")
    p.add_argument("--workers", type=int, help="train.loader.num_workers (DataLoader processes)")
    p.add_argument("--nproc-per-node", type=int, default=1, metavar="N",
                   help="launch N local processes with torchrun (DDP: gloo on CPU, nccl on CUDA)")
    p.add_argument("--engine", choices=("ddp", "deepspeed"), help="train.engine.kind")
    p.add_argument("--deepspeed-config", metavar="JSON", help="train.engine.deepspeed_config")
    p.add_argument("--zero-stage", type=int, choices=(0, 1, 2), help="train.engine.zero_stage")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set train.optim.warmup_epochs=2 (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (train.logging.progress)")


def _decoding_options(p: argparse.ArgumentParser) -> None:
    """``--beam-size K`` or ``--greedy`` (evaluate and predict)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--beam-size", type=int, metavar="K", help="beam width (default: the run's, 5)")
    group.add_argument("--greedy", action="store_true", help="greedy decoding instead of beam search")


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="re-score a trained run or checkpoint",
                       description="Decode dev and/or test with a checkpoint (or a run directory's best "
                                   "checkpoint, or an slr-model bundle such as 'slr-models import-mamba-slr' "
                                   "writes) and write CTM, STM and sclite-style reports.")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="checkpoint file, run directory or model bundle")
    p.add_argument("--split", choices=("dev", "test", "both"), default="both")
    p.add_argument("--data-root", default=None, metavar="PATH",
                   help="real corpus folder, if it moved (required for a model bundle: PHOENIX-2014)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: <run>/rescore, <bundle>.rescore)")
    _decoding_options(p)
    p.add_argument("--plot-utterances", nargs="+", default=[], metavar="ID",
                   help="also write the alignment views of these utterances (ids as in the STM) to "
                        "<out>/alignments/<split>-<ID>.png")


def _predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="print the glosses of unseen videos",
                       description="Recognise the glosses of one or more videos: each a folder of frame "
                                   "images (png/jpg, natural order) or a video file OpenCV can read. "
                                   "Models trained with keypoint heatmaps (data.keypoints) are refused: "
                                   "use evaluate.")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="checkpoint file, run directory or model bundle")
    p.add_argument("videos", nargs="+", metavar="FRAMES_DIR_OR_VIDEO")
    _decoding_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per video instead of text")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    p.add_argument("--plot", metavar="PNG",
                   help="write each video's alignment view: to PNG for one video; for several to PNG's name "
                        "with -1, -2, ... before the suffix (in the order given)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slr-phoenix", description=__doc__.splitlines()[0],
                                     epilog="exit status: 0 success, 2 bad input, 130 interrupted, "
                                            "1 internal error")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (also: SLR_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _evaluate_parser(sub)
    _predict_parser(sub)
    for command in sub.choices.values():
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="print the traceback of an error (also: SLR_DEBUG=1)")
    return parser


def init_weights_path(text: str) -> str:
    """``--init-from``: a file as an absolute path; a run directory's best (else newest) checkpoint;
    a DeepSpeed checkpoint folder's ``mp_rank_00_model_states.pt``."""
    path = Path(text).expanduser()
    if path.is_dir():
        deepspeed_states = path / "mp_rank_00_model_states.pt"
        if deepspeed_states.is_file():
            path = deepspeed_states
        else:
            from slr_phoenix.inference import resolve_checkpoint

            path = resolve_checkpoint(path)
    elif not path.is_file():
        raise ConfigError(f"--init-from {text}: no such weights file or run directory")
    return str(path.resolve())


def train_overrides(args: argparse.Namespace) -> list[str]:
    """CLI flags as ``KEY=VALUE`` overrides (applied before ``--set``, which wins)."""
    pairs = {
        "train.optim.epochs": args.epochs, "data.batch_size": args.batch_size,
        "train.optim.grad_accum_steps": args.grad_accum, "train.optim.lr": args.lr,
        "train.precision.dtype": args.precision, "train.seed": args.seed, "train.loader.num_workers": args.workers,
        "train.engine.kind": args.engine, "train.engine.deepspeed_config": args.deepspeed_config,
        "train.engine.zero_stage": args.zero_stage,
    }
    out = [f"{k}={json.dumps(v)}" for k, v in pairs.items() if v is not None]
    if args.data_root:
        out.append(f"data.root={json.dumps(str(Path(args.data_root).expanduser()))}")
    resume = None if args.resume.lower() == "none" else args.resume
    out.append(f"train.checkpoint.resume={json.dumps(resume)}")
    if args.no_progress:
        out.append("train.logging.progress=false")
    if args.init_from:
        out.append(f"train.init_from.path={json.dumps(init_weights_path(args.init_from))}")
    return out + list(args.overrides)


def resolve_train_config(args: argparse.Namespace):
    overrides = train_overrides(args)
    config = load_config(args.config, overrides)
    if args.data_root and get_corpus(config.data.corpus).synthetic:  # the registry recognises the real one
        found = detect_corpus(Path(args.data_root).expanduser()) or DEFAULT_CORPUS
        config = load_config(args.config, [f"data.corpus={found}", *overrides])
    return config


def effective_lr_note(config, processes: int) -> str | None:
    """A YAML comment with the lrs ``train.optim.lr_scaling`` makes of the configured ones (``None``
    without scaling): what the run will use with ``processes`` processes."""
    optim = config.train.optim
    if optim.lr_scaling == "none":
        return None
    lr, warmup_lr, min_lr = optim.scaled_lrs(config.data.batch_size, processes)
    total = optim.total_batch_size(config.data.batch_size, processes)
    return (f"# effective with train.optim.lr_scaling={optim.lr_scaling} and {processes} process(es): total batch "
            f"{total} = data.batch_size {config.data.batch_size} x grad_accum_steps {optim.grad_accum_steps} x "
            f"{processes}; lr {lr:.6g}, warmup_lr {warmup_lr:.6g}, min_lr {min_lr:.6g}")


def _setup_logging(rank: int) -> None:
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from slr_train import launch_local, launched_by_torchrun

    config = resolve_train_config(args)
    if args.print_config:
        emit(dump_yaml(config.to_dict()).rstrip("\n"))
        note = effective_lr_note(config, int(os.environ.get("WORLD_SIZE", args.nproc_per_node)))
        if note:
            emit(note)
        return 0
    if config.train.engine.kind == "deepspeed":  # a contradictory DeepSpeed config fails before any work
        from slr_train.engines.deepspeed_engine import resolve_deepspeed_config

        resolve_deepspeed_config(config.train.engine, config.train.optim, config.train.precision)
    run_dir = Path(args.out or Path("runs") / config.name)
    usable_output_dir(run_dir)  # a file, a folder under a file, a read-only file system: refused now
    if args.nproc_per_node > 1 and not launched_by_torchrun():
        from slr_phoenix.data import prepare_corpus

        prepare_corpus(config.data)  # generate/cache once, before the workers start
        return launch_local(args.nproc_per_node, ["-m", "slr_phoenix", *argv])
    from slr_train import TrainingInterrupted

    from slr_phoenix.pipeline import train

    try:
        results = train(config, run_dir)
    except TrainingInterrupted as exc:  # exit 130; the checkpoints on disk are complete ones
        raise KeyboardInterrupt(f"{exc}; to continue, run the same command with --resume auto "
                                f"(--out {run_dir})") from exc
    if results is not None:
        emit(json.dumps({k: results[k] for k in ("dev", "test", "epochs", "best_epoch") if k in results}))
        emit(f"run directory: {run_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from slr_phoenix.inference import rescore

    splits = ("dev", "test") if args.split == "both" else (args.split,)
    if args.out:
        usable_output_dir(args.out)
    if args.data_root is not None and not Path(args.data_root).expanduser().is_dir():
        raise ConfigError(f"--data-root {args.data_root}: no such folder")
    result = rescore(args.checkpoint, splits, Path(args.out) if args.out else None, data_root=args.data_root,
                     beam_size=args.beam_size, greedy=args.greedy, plot_utterances=args.plot_utterances)
    if result:
        emit(json.dumps(result))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from slr_phoenix.inference import load_trained, predict_videos

    try:
        device = torch.device(args.device)
    except RuntimeError as exc:
        raise ConfigError(f"--device {args.device!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {args.device!r}: CUDA is not available on this machine (use --device cpu)")
    loaded = load_trained(args.checkpoint, device)
    if getattr(loaded.model.config, "heatmap_channels", 0):
        raise ConfigError(f"{loaded.checkpoint}: this model was trained with keypoint heatmaps "
                          f"(data.keypoints={loaded.config.data.keypoints}) and predict has no keypoints for "
                          "new videos; score it on its corpus with `slr-phoenix evaluate --checkpoint ...` "
                          "instead")
    from slr_phoenix.utterance_views import PredictionPlots

    plots = args.plot and PredictionPlots.for_cli(args.plot, args.videos, loaded, args.beam_size, args.greedy)
    failed = 0
    for item in predict_videos(loaded, args.videos, beam_size=args.beam_size, greedy=args.greedy,
                               on_output=plots or None):
        if "error" in item:  # one line naming the video; the others are still recognised
            failed += 1
            print(f"slr-phoenix predict: error: {item['error']}", file=sys.stderr, flush=True)
            if args.json:
                emit(json.dumps(item, ensure_ascii=False))
            continue
        emit(json.dumps(item, ensure_ascii=False) if args.json
             else f"{item['video']}: {' '.join(item['glosses'])}")
    if failed:
        print(f"slr-phoenix predict: {failed} of {len(args.videos)} video(s) could not be read",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    _setup_logging(int(os.environ.get("RANK", "0")))
    from slr_data import SlrDataError
    from slr_metrics import SlrMetricsError
    from slr_models import SlrModelsError
    from slr_train import SlrTrainError

    from slr_phoenix.errors import SlrPhoenixError

    # every error of the slr packages is about what the user gave (a file, a config value, a
    # checkpoint, a corpus): one line and exit 2; anything else is an internal error (exit 1)
    bad_input = (SlrPhoenixError, SlrDataError, SlrMetricsError, SlrModelsError, SlrTrainError)
    commands = {"train": lambda: cmd_train(args, argv), "evaluate": lambda: cmd_evaluate(args),
                "predict": lambda: cmd_predict(args)}
    return run_command(f"slr-phoenix {args.command}", commands[args.command],
                       debug=debug_requested(args.debug), bad_input=bad_input)


if __name__ == "__main__":
    raise SystemExit(main())
