"""Worker functions for slr-train's multi-process tests (spawned with torch.multiprocessing)."""

from __future__ import annotations

from pathlib import Path

import torch

import slr_train_testkit as kit

GLOBAL_BATCHES = [[0, 1, 2, 4], [5, 6, 7, 8], [9, 3, 10, 11]]  # item 3 is NaN: rank 1's half of batch 3
NAN_ITEMS = frozenset({3})


def ddp_config():
    from slr_train import (CheckpointConfig, EMAConfig, LoggingConfig, OptimConfig, PrecisionConfig, TrainConfig)

    return TrainConfig(optim=OptimConfig(lr=5e-3, epochs=3, warmup_steps=1, clip_grad_norm=1.0, grad_accum_steps=2),
                       precision=PrecisionConfig("fp32"), ema=EMAConfig(decay=0.9),
                       checkpoint=CheckpointConfig(every_steps=1, keep_last=2),
                       logging=LoggingConfig(progress=False, tensorboard=False), deterministic=True)


def train_and_evaluate(run_dir: Path) -> dict:
    """The same work with 1 or N ranks: fit on GLOBAL_BATCHES, then evaluate a fixed model."""
    from slr_train import EvalSet, Trainer, TrainSet, WERScorer, evaluate

    torch.manual_seed(0)
    model = kit.FakeCTCModel(dropout=0.0)
    data = kit.FakeDataset(12, seed=2, augment=False, nan_items=NAN_ITEMS)
    dev = kit.FakeDataset(11, seed=4, augment=False, prefix="dev")
    dev_set = EvalSet("dev", dev, kit.collate, dev.num_frames)
    train = TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate,
                     lambda lengths, world, rank: kit.GlobalBatchSampler(GLOBAL_BATCHES, world, rank))
    trainer = Trainer(model, ddp_config(), train, run_dir, dev=dev_set, to_glosses=kit.to_glosses,
                      decoder=kit.greedy, scorer=kit.fake_scorer())
    result = trainer.fit()
    out = {"weights": {k: v.detach().clone() for k, v in model.state_dict().items() if k != "calls"},
           "ema": {k: v.clone() for k, v in trainer.ema.params.items()}, "skipped": result.skipped_steps,
           "history": result.history}
    torch.manual_seed(1)
    fixed = kit.FakeCTCModel(dropout=0.0)
    fake = evaluate(fixed, dev_set, kit.to_glosses, decoder=kit.greedy, scorer=kit.fake_scorer(), batch_size=2)
    out["eval_fake"] = (fake.counts.to_list(), fake.wer, fake.hypotheses)
    try:
        import slr_metrics  # noqa: F401
    except ImportError:
        out["eval_metrics"] = None
    else:
        real = evaluate(fixed, dev_set, kit.to_glosses, decoder=kit.greedy, scorer=WERScorer("none"), batch_size=2)
        out["eval_metrics"] = (real.counts.to_list(), real.wer, real.hypotheses)
    return out


def train_mean_per_target(run_dir: Path) -> dict:
    """Fit on uneven global batches (accumulation 2) with ``loss.reduction="mean_per_target"``."""
    import dataclasses

    from slr_train import EMAConfig, LossConfig, Trainer, TrainSet

    torch.manual_seed(0)
    model = kit.FakeCTCModel(dropout=0.0)
    data = kit.FakeDataset(12, seed=2, augment=False)
    batches = [[0, 1, 2, 4], [5, 6, 7], [9, 3, 10], [8, 11]]  # rank shares of 2 or 1 videos
    train = TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate,
                     lambda lengths, world, rank: kit.GlobalBatchSampler(batches, world, rank))
    cfg = ddp_config()
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=2), loss=LossConfig("mean_per_target"),
                              ema=EMAConfig(enabled=False), checkpoint=dataclasses.replace(cfg.checkpoint, every_steps=0))
    result = Trainer(model, cfg, train, run_dir).fit()
    return {"weights": {k: v.detach().clone() for k, v in model.state_dict().items() if k != "calls"},
            "history": result.history}


def ddp_loss_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    from slr_train import distributed_session

    kit.set_dist_env(rank, world_size, port)
    torch.set_num_threads(1)
    with distributed_session():
        torch.save(train_mean_per_target(Path(out_dir) / "run"), Path(out_dir) / f"rank{rank}.pt")


def ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    from slr_train import distributed_session

    kit.set_dist_env(rank, world_size, port)
    torch.set_num_threads(1)
    with distributed_session() as env:
        assert env.world_size == world_size and env.backend == "gloo"
        out = train_and_evaluate(Path(out_dir) / "run")
        torch.save(out, Path(out_dir) / f"rank{rank}.pt")


def eval_failure_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """Only rank 1's decoder fails: every rank must raise EvaluationError naming rank 1."""
    from slr_train import EvalSet, EvaluationError, distributed_session, evaluate

    kit.set_dist_env(rank, world_size, port)
    with distributed_session():
        dev = kit.FakeDataset(6, seed=4, augment=False, prefix="dev")

        def crash_on_rank_1(log_probs, lengths):
            if rank == 1:
                raise RuntimeError("decoder crashed on rank 1")
            return kit.greedy(log_probs, lengths)

        decoder = kit.FunctionDecoder(crash_on_rank_1)
        try:
            evaluate(kit.FakeCTCModel(), EvalSet("dev", dev, kit.collate), kit.to_glosses, decoder=decoder,
                     scorer=kit.fake_scorer())
        except EvaluationError as e:
            Path(out_dir, f"rank{rank}.txt").write_text(str(e))


def save_failure_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    """Rank 1's shard hits a full disk: the save fails on every rank (no hang) and leaves nothing behind."""
    import errno
    import os

    from slr_train import CheckpointManager, distributed_session
    from slr_train import atomic as atomic_module

    kit.set_dist_env(rank, world_size, port)
    with distributed_session():
        manager = CheckpointManager(Path(out_dir) / "checkpoints", keep_last=5)
        manager.save({"w": torch.ones(1)}, step=1, epoch=0, shard={"rank": torch.tensor([rank])})
        real_open_temp = atomic_module._open_temp

        def full_on_rank_1(target, mode):
            if rank == 1 and ".rank001." in target.name:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_open_temp(target, mode)

        atomic_module._open_temp = full_on_rank_1
        try:
            manager.save({"w": torch.full((1,), 2.0)}, step=2, epoch=0, shard={"rank": torch.tensor([rank])})
        except Exception as e:  # noqa: BLE001 - recorded for the test
            Path(out_dir, f"rank{rank}.txt").write_text(f"{type(e).__name__}: {e}")
        finally:
            atomic_module._open_temp = real_open_temp
        choice, payload = manager.load_newest()
        Path(out_dir, f"rank{rank}.resume.txt").write_text(f"{choice.info.step} {int(payload['shard']['rank'])}")
