"""The Trainer: epochs of optimiser steps with checkpoints, evaluation and exact resume.

One optimiser step uses ``grad_accum_steps`` consecutive batches of the epoch (fewer at its
end); how its loss makes N ranks x M micro-batches compute the gradient of one global batch, and
how non-finite losses (on any rank) or gradient norms skip the update, is
:mod:`slr_train.optimiser_step`. What the step, epoch and best checkpoints hold is
:mod:`slr_train.trainer_checkpoints`. ``init_from`` weights are loaded before the engine is
built, only when the run does not resume from a checkpoint. Where a run resumes from is
:mod:`slr_train.resume`; Ctrl-C raises ``TrainingInterrupted`` (a ``KeyboardInterrupt``) and
leaves only complete checkpoints.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from slr_models.decoding import Decoder
from torch import nn

from slr_train import distributed as D
from slr_train.atomic import atomic_write_json
from slr_train.checkpoint import CheckpointManager
from slr_train.checkpoint_layout import CheckpointRecord
from slr_train.compiling import resolve_compile
from slr_train.config import TrainConfig
from slr_train.data import EvalSet, TrainSet, train_loader
from slr_train.determinism import configure_determinism, seed_everything
from slr_train.ema import ModelEMA
from slr_train.engines import Engine, build_engine
from slr_train.evaluation import EvalResult, WERScorer, check_decoder, evaluate
from slr_train.feasibility import FeasibilityReport, apply_feasibility_policy, check_ctc_feasibility
from slr_train.init_from import InitReport, init_model_from
from slr_train.monitor import ProgressBar, ScalarLogger
from slr_train.nonfinite import NonFiniteGuard, NonFiniteLossError
from slr_train.optimiser_step import WindowStep, run_optimiser_step
from slr_train.resume import ResumeSource, find_resume_source, interrupted_at
from slr_train.rng import restore_rng_state
from slr_train.schedules import (CosineWarmup, DropPathSchedule, LRScheduler, describe_schedule,
                                 optimiser_schedule)
from slr_train.trainer_checkpoints import best_record, restore_resumed, resumable_record
from slr_train.trainer_state import BestRecord, TrainerState

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitResult:
    """What :meth:`Trainer.fit` leaves behind (``best_checkpoint`` is ``None`` without dev data)."""

    epochs: int
    global_step: int
    history: list[dict[str, Any]]
    best: BestRecord | None
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    feasibility: FeasibilityReport
    skipped_steps: int
    init_report: InitReport | None = None


class Trainer:
    """Trains ``model`` on ``train`` under ``config``; files go to ``run_dir``.

    ``run_dir/checkpoints`` (atomic, verified), ``run_dir/tensorboard`` and ``run_dir/history.json``
    (one entry per epoch). ``dev`` is evaluated after every ``eval_every_epochs`` epochs with raw
    and EMA weights (``to_glosses`` maps ids to glosses; ``decoder``, an ``slr_models.decoding.Decoder``
    built once with ``create_decoder``, defaults to ``greedy``, ``scorer`` to ``slr_metrics.WERAccumulator``).
    ``extra_state`` (plain data: model config, vocabulary, ...) is stored in every checkpoint.
    ``on_step(step, metrics)`` is called on every rank after each optimiser step. Call inside
    ``distributed_session()`` when launched by torchrun.
    ``config.init_from`` is applied by :meth:`initialise_weights` (called by :meth:`fit`).
    """

    def __init__(self, model: nn.Module, config: TrainConfig, train: TrainSet, run_dir: str | Path, *,
                 dev: EvalSet | None = None, to_glosses: Callable[[list[int]], list[str]] | None = None,
                 decoder: Decoder | None = None, scorer: WERScorer | None = None,
                 extra_state: dict[str, Any] | None = None,
                 env: D.DistEnv | None = None, on_step: Callable[[int, dict[str, float]], None] | None = None) -> None:
        if dev is not None and to_glosses is None:
            raise ValueError("evaluating dev data needs to_glosses (e.g. vocabulary.decode)")
        self.model, self.config, self.train_set, self.dev = model, config, train, dev
        self.run_dir = Path(run_dir)
        self.to_glosses, self.decoder, self.scorer = to_glosses, check_decoder(decoder), scorer
        self.extra_state = dict(extra_state or {})
        self.on_step = on_step
        self.env = env or D.DistEnv(D.get_rank(), 0, D.get_world_size(), None,
                                    torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available()
                                    else torch.device("cpu"))
        self.state = TrainerState()
        explicit = config.checkpoint.resume if config.checkpoint.resume not in (None, "auto") else None
        self.checkpoints = CheckpointManager(self.run_dir / "checkpoints", config.checkpoint.keep_last,
                                             inputs=(config.init_from.path, explicit))
        self.engine: Engine | None = None
        self.last_checkpoint: Path | None = None
        self.best_checkpoint: Path | None = None
        self.init_report: InitReport | None = None
        self.resume_source: ResumeSource | None = None
        self._weights_initialised = False
        config.optim.scaled_lrs(train.batch_size, self.env.world_size)  # fails now if it cannot scale

    def initialise_weights(self) -> InitReport | None:
        """Collective: loads ``config.init_from`` into the model unless the run resumes from a checkpoint.

        Decides once whether the run resumes (``checkpoint.resume``, :mod:`slr_train.resume`) and
        loads that checkpoint (``resume_source``; ``CheckpointError`` when none is usable): a resumed
        run gets its weights from its checkpoint, so ``init_from`` is not read at all. Call before
        :meth:`fit` to fail early on a file that does not fit the model (``InitFromError``); ``fit``
        calls it otherwise. Returns the report, ``None`` when nothing was loaded.
        """
        if self._weights_initialised:
            return self.init_report
        self.resume_source = find_resume_source(self.checkpoints, self.config.checkpoint.resume)
        if self.resume_source is not None and self.env.is_main:
            _log.info("%s", self.resume_source.describe())
        init = self.config.init_from
        if init.path is not None and self.resume_source is None:
            self.init_report = init_model_from(self.model, init)
            if self.env.is_main:
                _log.info("%s", self.init_report.format())
        elif init.path is not None and self.env.is_main:
            _log.info("init_from %s not applied: the run resumes from %s", init.path, self.resume_source.path)
        self._weights_initialised = True
        return self.init_report

    # ----------------------------------------------------------------------------------- setup
    def _feasible_positions(self) -> tuple[FeasibilityReport, list[int]]:
        train = self.train_set
        if not hasattr(self.model, "output_lengths"):
            raise TypeError(f"{type(self.model).__name__} has no output_lengths(num_frames); the CTC "
                            "feasibility check needs it (docs/interfaces.md)")
        with torch.no_grad():
            report = check_ctc_feasibility(train.video_ids, train.num_frames, train.labels, self.model.output_lengths)
        keep = apply_feasibility_policy(report, self.config.faults.ctc_infeasible, log=self.env.is_main)
        if self.env.is_main and not report.infeasible:
            _log.info("%s", report.format())
        return report, keep

    def _setup(self) -> FeasibilityReport:
        cfg = self.config
        if cfg.deterministic:
            configure_determinism(True)
        self.initialise_weights()
        seed_everything(cfg.seed + self.env.rank)
        report, self.positions = self._feasible_positions()
        lengths = [int(self.train_set.num_frames[i]) for i in self.positions]
        self.sampler = self.train_set.batch_sampler_factory(lengths, self.env.world_size, self.env.rank)
        self.sampler.set_epoch(0)
        batches = len(self.sampler)
        counts = D.all_gather_objects(batches)
        if len(set(counts)) != 1 or batches == 0:
            raise RuntimeError(f"the batch sampler gives ranks different or zero batch counts per epoch: {counts}")
        accum = cfg.optim.grad_accum_steps
        self.state.batches_per_epoch = batches
        self.state.steps_per_epoch = math.ceil(batches / accum)
        compile_on, why = resolve_compile(cfg.compile, self.env.device, cfg.engine.kind)
        if self.env.is_main and cfg.compile is not False:
            _log.info("%s: %s", why, "compiling the model's forward" if compile_on else "eager")
        self.engine = build_engine(self.model, cfg.optim, cfg.precision, self.env, cfg.engine,
                                   compile=compile_on)
        self.scheduler = LRScheduler(self.engine, self._schedule())
        self.ema = ModelEMA(self.engine.module, cfg.ema.decay, cfg.ema.warmup) if cfg.ema.enabled else None
        total = self.scheduler.schedule.total_steps
        self.drop_path = (DropPathSchedule(cfg.optim.drop_path_rate, total, cfg.optim.drop_path_schedule)
                          if cfg.optim.drop_path_rate is not None else None)
        self.guard = NonFiniteGuard(cfg.faults.max_consecutive_nonfinite)
        main = self.env.is_main
        self.progress = ProgressBar(main and cfg.logging.progress)
        self.scalars = ScalarLogger(self.run_dir / "tensorboard", main and cfg.logging.tensorboard)
        self._resume()
        return report

    def _schedule(self) -> CosineWarmup:
        """The configured schedule at the effective (``lr_scaling``) rates; logged once on rank 0."""
        schedule = optimiser_schedule(self.config.optim, self.state.steps_per_epoch, self.train_set.batch_size,
                                      self.env.world_size)
        if self.env.is_main:
            _log.info("%s", describe_schedule(schedule, self.config.optim, self.train_set.batch_size,
                                              self.env.world_size))
        return schedule

    # ---------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, kind: str) -> Path:
        """Collective: a resumable checkpoint of everything (``kind``: ``"step"`` or ``"epoch"``)."""
        assert self.engine is not None
        try:
            record = resumable_record(kind, state=self.state, config=self.config, extra=self.extra_state,
                                      engine=self.engine, scheduler=self.scheduler, ema=self.ema, guard=self.guard,
                                      sampler=self.sampler, env=self.env)
            path = self.engine.save(self.checkpoints, record.to_payload(),
                                    step=self.state.global_step, epoch=self.state.epoch, kind=kind)
        except OSError as e:  # e.g. disk full: nothing of this checkpoint is left behind
            if self.env.is_main:
                _log.error("checkpoint of step %d not written (%s); the last complete one is %s",
                           self.state.global_step, e, self.last_checkpoint)
            raise
        self.last_checkpoint = path
        return path

    def _resume(self) -> None:
        source = self.resume_source  # decided (and loaded) once by initialise_weights
        if source is None:
            return
        assert self.engine is not None
        record = CheckpointRecord.from_payload(self.engine.load(source.path, source.payload), source.path)
        source.payload = None  # not kept alive for the whole run
        restore_resumed(record, source.path, state=self.state, scheduler=self.scheduler, ema=self.ema,
                        guard=self.guard, log=self.env.is_main)
        self.last_checkpoint = source.path
        best = self.checkpoints.find("best").info
        self.best_checkpoint = best.path if best is not None else None
        rng = record.rng
        restore_rng_state(rng[self.env.rank % len(rng)])
        if self.env.is_main:
            _log.info("resumed from %s at epoch %d, batch %d, step %d", self.last_checkpoint, self.state.epoch,
                      self.state.batch_in_epoch, self.state.global_step)

    def _save_best(self, results: dict[str, EvalResult]) -> None:
        assert self.engine is not None and self.state.best is not None
        best = self.state.best
        record = best_record(best, results, config=self.config, extra=self.extra_state, module=self.engine.module,
                             ema=self.ema)
        meta = {"wer": best.wer, "weights": best.weights}
        self.best_checkpoint = self.checkpoints.save(record.to_payload(), step=best.step, epoch=best.epoch,
                                                     kind="best", meta=meta)

    # ------------------------------------------------------------------------------- stepping
    def _train_step(self, window: list[Any]) -> WindowStep:
        """One optimiser step over ``window`` (:func:`run_optimiser_step`), counted in the epoch's totals."""
        assert self.engine is not None
        result = run_optimiser_step(self.engine, window, scheduler=self.scheduler, ema=self.ema,
                                    drop_path=self.drop_path, step=self.state.global_step,
                                    reduction=self.config.loss.reduction, env=self.env)
        if result.applied:
            self.state.epoch_loss_sum += result.loss_sum
            self.state.epoch_samples += result.samples
        else:
            self.state.epoch_skipped += 1
        return result

    def _after_step(self, result: WindowStep, throughput: float) -> None:
        step, loss, lr, applied = self.state.global_step, result.loss, result.lr, result.applied
        if not applied:
            if self.env.is_main:
                _log.warning("step %d skipped: non-finite loss or gradient (%d in a row, %d in total)", step,
                             self.guard.consecutive + 1, self.guard.total_skipped + 1)
            self.scalars.scalars({"train/skipped_steps": self.guard.total_skipped + 1}, step)
        last = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
        self.guard.record(not applied, step=step, context=f"Check the data and the learning rate{last}.")
        self.progress.update(loss, lr, throughput, self.guard.total_skipped)
        metrics = {"loss": loss, "lr": lr, "grad_norm": result.grad_norm, "frames": result.frames,
                   "frames_per_s": throughput, "applied": float(applied)}
        if applied and step % self.config.logging.log_every_steps == 0:
            self.scalars.scalars({f"train/{k}": metrics[k] for k in ("loss", "lr", "grad_norm", "frames_per_s")},
                                 step)
        if self.on_step is not None:
            self.on_step(step, metrics)

    def _run_epoch(self) -> None:
        state, cfg = self.state, self.config
        accum = cfg.optim.grad_accum_steps
        loader = train_loader(self.train_set, self.sampler, self.positions, epoch=state.epoch,
                              start_batch=state.batch_in_epoch, seed=cfg.seed,
                              num_workers=cfg.loader.num_workers, pin_memory=cfg.loader.pin_memory)
        self.progress.start_epoch(state.epoch + 1, state.steps_per_epoch, state.batch_in_epoch // accum)
        if self.env.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.env.device)
        iterator = iter(loader)
        started, frames_done = time.perf_counter(), 0
        while state.batch_in_epoch < state.batches_per_epoch:
            size = min(accum, state.batches_per_epoch - state.batch_in_epoch)
            window = [next(iterator) for _ in range(size)]
            result = self._train_step(window)
            state.batch_in_epoch += size
            state.global_step += 1
            frames_done += result.frames
            self._after_step(result, frames_done / max(time.perf_counter() - started, 1e-9))
            every = cfg.checkpoint.every_steps
            if every and state.global_step % every == 0 and state.batch_in_epoch < state.batches_per_epoch:
                self.save_checkpoint("step")
        self.progress.close()

    # ----------------------------------------------------------------------------- evaluation
    def evaluate(self, eval_set: EvalSet) -> dict[str, EvalResult]:
        """Collective: ``{"raw": ..., "ema": ...}`` results on ``eval_set``: the weights ``ema.evaluate``
        names (``ema`` only if enabled)."""
        assert self.engine is not None and self.to_glosses is not None
        kwargs = dict(decoder=self.decoder, scorer=self.scorer, batch_size=self.config.loader.eval_batch_size,
                      device=self.env.device, num_workers=self.config.loader.num_workers,
                      autocast_dtype=torch.bfloat16 if self.config.precision.dtype == "bf16" else None)
        which = self.config.ema.evaluate
        results = {}
        model = self.engine.compiled or self.engine.module  # the EMA weights load into the module inside
        if which != "ema" or self.ema is None:
            results["raw"] = evaluate(model, eval_set, self.to_glosses, **kwargs)
        if self.ema is not None and which != "raw":
            with self.ema.applied_to(self.engine.module):
                results["ema"] = evaluate(model, eval_set, self.to_glosses, **kwargs)
        return results

    def _end_epoch(self, seconds: float) -> None:
        state, cfg = self.state, self.config
        state.epoch += 1
        state.batch_in_epoch = 0
        entry: dict[str, Any] = {
            "epoch": state.epoch, "step": state.global_step, "lr": self.scheduler.lr, "seconds": round(seconds, 3),
            "train_loss": state.epoch_loss_sum / state.epoch_samples if state.epoch_samples else None,
            "skipped_steps": state.epoch_skipped}
        if self.env.device.type == "cuda":  # peak of this epoch's training steps, this rank
            entry["max_memory_mb"] = round(torch.cuda.max_memory_allocated(self.env.device) / 2**20, 1)
        due = self.dev is not None and cfg.eval_every_epochs and (
            state.epoch % cfg.eval_every_epochs == 0 or state.epoch == cfg.optim.epochs)
        if due:
            results = self.evaluate(self.dev)
            for name, result in results.items():
                entry[f"dev_wer_{name}"] = result.wer
            self.scalars.scalars({f"dev/wer_{k}": r.wer for k, r in results.items()}, state.global_step)
            winner = min(results, key=lambda k: (results[k].wer, k != "raw"))
            if state.best is None or results[winner].wer < state.best.wer:
                state.best = BestRecord(results[winner].wer, state.epoch, state.global_step, winner)
                self._save_best(results)
        state.history.append(entry)
        state.epoch_loss_sum, state.epoch_samples, state.epoch_skipped = 0.0, 0, 0
        compiled = self.engine.compiled if self.engine is not None else None
        if compiled is not None and self.env.is_main:
            _log.info("torch.compile: %s, %d graph(s) compiled so far (recompilations included)",
                      "eager after a failure" if compiled.eager else "compiled", compiled.graphs_compiled)
        if self.env.is_main:
            atomic_write_json(self.run_dir / "history.json", {"history": state.history, "best": (
                vars(state.best) if state.best else None)})
            _log.info("epoch %d: %s", state.epoch, entry)
        self.save_checkpoint("epoch")
        self.scalars.flush()

    # ------------------------------------------------------------------------------------ fit
    def fit(self) -> FitResult:
        """Trains to ``optim.epochs`` (resuming per ``checkpoint.resume``); collective on every rank.

        Ctrl-C raises ``TrainingInterrupted`` (a ``KeyboardInterrupt`` naming the last
        checkpoint); a failed checkpoint write (e.g. disk full) raises its ``OSError`` naming the file.
        """
        try:
            report = self._setup()
            while self.state.epoch < self.config.optim.epochs:
                started = time.perf_counter()
                self._run_epoch()
                self._end_epoch(time.perf_counter() - started)
        except NonFiniteLossError:
            _log.error("training stopped by non-finite losses; last good checkpoint: %s", self.last_checkpoint)
            raise
        except KeyboardInterrupt as e:
            raise interrupted_at(self.state, self.last_checkpoint, log=self.env.is_main) from e
        finally:
            for part in (getattr(self, "progress", None), getattr(self, "scalars", None)):  # absent if _setup failed
                if part is not None:
                    part.close()
        return FitResult(epochs=self.state.epoch, global_step=self.state.global_step, history=self.state.history,
                         best=self.state.best, best_checkpoint=self.best_checkpoint,
                         last_checkpoint=self.last_checkpoint, feasibility=report,
                         skipped_steps=self.guard.total_skipped, init_report=self.init_report)

    def close(self) -> None:
        """Releases the engine (call before tearing the process group down)."""
        if self.engine is not None:
            self.engine.close()
