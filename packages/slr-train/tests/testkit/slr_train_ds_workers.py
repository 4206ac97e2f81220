"""DeepSpeed worker for slr-train's engine smoke test (spawned; one or two ranks on CPU)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

import slr_train_testkit as kit


def ds_config(stage: int, run: str, epochs: int = 1):
    from slr_train import (CheckpointConfig, EMAConfig, EngineConfig, LoggingConfig, OptimConfig, PrecisionConfig,
                           TrainConfig)

    return TrainConfig(optim=OptimConfig(lr=1e-2, epochs=epochs, warmup_steps=1, clip_grad_norm=1.0),
                       precision=PrecisionConfig("bf16"), ema=EMAConfig(decay=0.9),
                       engine=EngineConfig(kind="deepspeed", deepspeed_config={"zero_optimization": {"stage": 0}},
                                           zero_stage=stage),
                       checkpoint=CheckpointConfig(every_steps=2, keep_last=2, resume="auto"),
                       logging=LoggingConfig(progress=False, tensorboard=False))


def ds_worker(rank: int, world_size: int, port: int, out_dir: str, stage: int) -> None:
    from slr_train import DistEnv, EvalSet, Trainer, TrainSet, distributed_session, load_checkpoint

    torch.set_num_threads(1)
    out: dict = {}
    if world_size == 1:  # plain `python`: no torchrun environment, no session; the engine makes its own group
        session = contextlib.nullcontext(DistEnv())
    else:
        kit.set_dist_env(rank, world_size, port)
        session = distributed_session()
    with session as env:
        data = kit.FakeDataset(16, seed=0, nan_items={5})
        dev = kit.FakeDataset(8, seed=1, augment=False, prefix="dev")
        train = TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate, kit.sampler_factory(2))
        run = Path(out_dir) / "run"

        def trainer(epochs: int) -> Trainer:
            torch.manual_seed(0)
            return Trainer(kit.FakeCTCModel(), ds_config(stage, str(run), epochs), train, run,
                           dev=EvalSet("dev", dev, kit.collate), to_glosses=kit.to_glosses, decoder=kit.greedy,
                           scorer=kit.fake_scorer())

        first = trainer(1)
        result = first.fit()
        out["engine"] = type(first.engine).__name__
        out["param_dtype"] = str(next(first.engine.module.parameters()).dtype)
        out["history"] = result.history
        out["skipped"] = result.skipped_steps
        ckpt = load_checkpoint(result.last_checkpoint, rank=env.rank)
        out["sharded"] = "shard" in ckpt
        first.close()
        second = trainer(2)  # resumes from the epoch-1 checkpoint, trains epoch 2
        result2 = second.fit()
        out["history2"] = result2.history
        out["resumed_steps"] = result2.global_step
        second.close()
        out["group_left"] = torch.distributed.is_initialized()
    torch.save(out, Path(out_dir) / f"rank{rank}.pt")
