"""The PHOENIX-2014 pipeline: prepare data, train, evaluate the best checkpoint on dev and test.

Runs in every process (plain ``python`` or under torchrun); rank 0 alone writes files.
Run directory (``--out``)::

    config.yaml        the fully resolved config
    vocab.json         the gloss vocabulary (blank = 0)
    checkpoints/       atomic, verified checkpoints; best-*.pt is the one tested
    tensorboard/       TensorBoard scalars
    history.json       per-epoch loss, lr, dev WER (raw and EMA weights)
    dev.stm test.stm   references; dev.ctm test.ctm hypotheses (best checkpoint, beam search)
    dev.sys.txt dev.pra dev.json dev.confusions.txt (and test.*): sclite-style reports
    plots/loss.png plots/lr.png plots/wer.png
    results.json       {"dev": {"wer": ...}, "test": {"wer": ...}, "epochs": ..., "best_epoch": ...}
    report.html        all of it on one self-contained page, with alignment views of the worst dev videos
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from slr_models import create_decoder, create_model, create_model_from_config
from slr_models.decoding import Decoder, decoder_options
from slr_train import EvalSet, Trainer, WERScorer, distributed_session, eval_model_state, evaluate, seed_everything
from slr_train import distributed as D
from slr_train.atomic import atomic_write_bytes, atomic_write_json

from slr_phoenix.data import (
    build_run_data,
    eval_temporal_config,
    eval_transform_config,
    prepare_corpus,
    reference_stm,
)
from slr_phoenix.plots import write_plots
from slr_phoenix.reports import split_summary, write_split_reports
from slr_phoenix.run_report import try_write_run_report
from slr_phoenix.settings import AppConfig, ConfigError, EvalSettings, dump_yaml, read_yaml

_log = logging.getLogger(__name__)

# Keys that may change between the runs sharing one directory (resuming with more epochs, ...).
RESUMABLE_CHANGES = (
    "train.optim.epochs", "train.checkpoint.resume", "train.logging", "train.loader.num_workers",
    "data.num_decode_threads", "data.cache_dir", "data.root", "eval",
)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Keys whose values differ, ignoring :data:`RESUMABLE_CHANGES`."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return [k for k in keys if not any(k == p or k.startswith(p + ".") for p in RESUMABLE_CHANGES)]


def prepare_run_dir(run_dir: Path, config: AppConfig) -> None:
    """Create ``run_dir`` and save the resolved config; refuse a directory of a different run."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.yaml"
    resolved = config.to_dict()
    if path.is_file() and config.train.checkpoint.resume is not None:
        saved = read_yaml(path)
        try:  # keys added since the run was started take their defaults (today's behaviour)
            saved = AppConfig.from_dict(saved, source=str(path)).to_dict()
        except ConfigError:
            pass  # compared as written
        changed = config_differences(saved, resolved)
        if changed:
            hint = ""
            if "train.init_from.path" in changed:
                started = (saved.get("train") or {}).get("init_from", {}).get("path")
                hint = f"; it was started with --init-from {started}: give that again to continue it" if started else ""
            raise ConfigError(f"{path}: this run directory belongs to a run with a different config "
                              f"(differs in {', '.join(changed[:8])}){hint}; choose another --out or --resume none "
                              "with an empty directory")
    atomic_write_bytes(path, dump_yaml(resolved).encode("utf-8"))


def decoder_from_settings(settings: EvalSettings, name: str | None = None) -> Decoder:
    """The registered decoder ``name`` (default ``settings.decoder``), built once by
    ``slr_models.create_decoder``, with ``settings.beam_size`` as its ``beam_size`` where it has one."""
    name = name or settings.decoder
    options = {"beam_size": settings.beam_size} if "beam_size" in decoder_options(name) else {}
    return create_decoder(name, **options)


def make_decoder(config: AppConfig, decoder: str | None = None) -> Decoder:
    """The decoder ``decoder`` (default ``config.eval.decoder``) of ``config.eval``."""
    return decoder_from_settings(config.eval, decoder)


def checkpoint_extra(config: AppConfig, model: torch.nn.Module, vocab) -> dict[str, Any]:
    """Plain data stored in every checkpoint: enough to rebuild model, vocabulary and transforms
    (the eval transform is the one the run evaluates with: its ``data.augment`` profile's)."""
    img = model.config.img_size
    return {"app_config": config.to_dict(), "model": model.config.to_dict(), "vocab": vocab.to_dict(),
            "eval_transform": eval_transform_config(config.data, img).to_dict(),
            "eval_temporal": eval_temporal_config(config.data).to_dict()}


def autocast_dtype(config: AppConfig) -> torch.dtype | None:
    return torch.bfloat16 if config.train.precision.dtype == "bf16" else None


def evaluate_splits(model: torch.nn.Module, evals: dict[str, EvalSet], vocab, config: AppConfig,
                    corpus, out_dir: Path, env) -> dict[str, Any]:
    """Decode and score every split in ``evals``; rank 0 writes the files. Collective."""
    decoder = make_decoder(config)
    results: dict[str, Any] = {}
    for split, eval_set in evals.items():
        start = time.time()
        result = evaluate(model, eval_set, vocab.decode, decoder=decoder, scorer=WERScorer(config.eval.protocol),
                          batch_size=config.train.loader.eval_batch_size, device=env.device,
                          autocast_dtype=autocast_dtype(config))
        if env.is_main:
            stm = reference_stm(corpus, split, out_dir / f"{split}.stm")
            report = write_split_reports(out_dir, split, stm, result.hypotheses, config.eval.protocol,
                                         expected_counts=result.counts)
            results[split] = split_summary(report) | {"seconds": round(time.time() - start, 2)}
            _log.info("%s WER %.2f %% (%s)", split, report.wer, report.counts)
    return results


def train(config: AppConfig, run_dir: Path) -> dict[str, Any] | None:
    """Train and test; returns ``results.json``'s content on rank 0 (``None`` elsewhere)."""
    start = time.time()
    with distributed_session() as env:
        corpus = prepare_corpus(config.data)
        vocab = corpus.vocab
        seed_everything(config.train.seed)  # the same initial weights on every rank and in every run
        model = create_model(config.model.name, len(vocab), **config.model.overrides)
        data = build_run_data(corpus, config.data, model.config.img_size, config.train.seed,
                              splits=tuple(dict.fromkeys(("dev", *config.eval.splits))))
        dev_decoder = make_decoder(config, config.eval.dev_decoder)
        trainer = Trainer(model, config.train, data.train, run_dir, dev=data.evals.get("dev"), to_glosses=vocab.decode,
                          decoder=dev_decoder,
                          scorer=WERScorer(config.eval.protocol), extra_state=checkpoint_extra(config, model, vocab),
                          env=env)
        trainer.initialise_weights()  # train.init_from (unless resuming): a file that does not fit fails here
        if env.is_main:
            prepare_run_dir(run_dir, config)
            vocab.save(run_dir / "vocab.json")
            _log.info("%s", corpus.summary())
        D.barrier()
        try:
            fit = trainer.fit()
        finally:
            trainer.close()
        if fit.best_checkpoint is None:
            raise RuntimeError("training produced no best checkpoint (is there a dev split?)")
        test_model = create_model_from_config(model.config.to_dict()).to(env.device)
        test_model.load_state_dict(eval_model_state(str(fit.best_checkpoint)))
        evals = {split: data.evals[split] for split in config.eval.splits}
        scores = evaluate_splits(test_model, evals, vocab, config, corpus, run_dir, env)
        if not env.is_main:
            return None
        dev_decoding = f"{dev_decoder.tag} decoding"
        loss_unit = "target gloss" if config.train.loss.reduction == "mean_per_target" else "video"
        write_plots(fit.history, run_dir / "plots", dev_decoding=dev_decoding, loss_unit=loss_unit)
        results = {
            **scores,
            "epochs": fit.epochs,
            "best_epoch": fit.best.epoch if fit.best else None,
            "best_weights": fit.best.weights if fit.best else None,
            "best_checkpoint": str(Path(fit.best_checkpoint).relative_to(run_dir)),
            f"dev_wer_{config.eval.dev_decoder}_during_training": fit.best.wer if fit.best else None,
            "decoder": make_decoder(config).tag,
            "protocol": config.eval.protocol,
            "model": model.config.name,
            "corpus": corpus.name if config.data.corpus != "synthetic" else "synthetic",
            "world_size": env.world_size,
            "skipped_steps": fit.skipped_steps,
            "dropped_infeasible": len(fit.feasibility.infeasible),
            "seconds": round(time.time() - start, 1),
        }
        atomic_write_json(run_dir / "results.json", results)
        try_write_run_report(run_dir, config=config, results=results, model=test_model, evals=data.evals,
                             vocab=vocab, history=fit.history)
        return results
