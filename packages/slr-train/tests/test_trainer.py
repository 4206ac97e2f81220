import dataclasses
import json
import math

import pytest
import torch

from slr_train import (CheckpointManager, CTCInfeasibleError, EMAConfig, EvalSet, FaultConfig, NonFiniteLossError,
                       Trainer, TrainSet, eval_model_state, load_checkpoint)


def _train_set(kit, dataset, sampler_factory):
    return TrainSet(dataset, dataset.video_ids, dataset.num_frames, dataset.labels, kit.collate, sampler_factory)


def _fixed(kit, batches):
    return lambda lengths, world, rank: kit.GlobalBatchSampler(batches, world, rank)


def _weights(model):
    """Parameters and buffers, without the fake model's forward-call counter."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k != "calls"}


def test_fit_learns_and_leaves_history_best_and_tensorboard(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    torch.manual_seed(0)
    train = kit.FakeDataset(32, seed=0)
    dev = kit.FakeDataset(12, seed=1, augment=False, prefix="dev")
    cfg = dataclasses.replace(slr_train_tiny_config, logging=dataclasses.replace(
        slr_train_tiny_config.logging, tensorboard=True, progress=True, log_every_steps=1),
        optim=dataclasses.replace(slr_train_tiny_config.optim, lr=1e-2, epochs=3))
    trainer = Trainer(kit.FakeCTCModel(), cfg, _train_set(kit, train, kit.sampler_factory(4)), tmp_path,
                      dev=EvalSet("dev", dev, kit.collate, dev.num_frames), to_glosses=kit.to_glosses,
                      decoder=kit.greedy, scorer=kit.fake_scorer(), extra_state={"vocab": kit.GLOSSES})
    result = trainer.fit()
    assert result.epochs == 3 and result.global_step == 24 and result.skipped_steps == 0
    history = json.loads((tmp_path / "history.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert {"dev_wer_raw", "dev_wer_ema"} <= set(history[0])
    assert result.best.wer == min(min(h["dev_wer_raw"], h["dev_wer_ema"]) for h in history)
    assert result.best.wer < 50.0
    best = load_checkpoint(result.best_checkpoint)
    assert best["kind"] == "best" and best["extra"]["vocab"] == kit.GLOSSES and best["dev"]["wer"] == result.best.wer
    model = kit.FakeCTCModel()
    model.load_state_dict(eval_model_state(result.best_checkpoint))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    last = load_checkpoint(result.last_checkpoint)
    assert set(last) >= {"engine", "scheduler", "ema", "rng", "trainer", "config", "sampler", "nonfinite"}
    raw, ema = eval_model_state(last, "raw"), eval_model_state(last, "ema")
    assert not torch.equal(raw["head.weight"], ema["head.weight"])

    # resuming a finished run does nothing more
    again = Trainer(kit.FakeCTCModel(), cfg, _train_set(kit, train, kit.sampler_factory(4)), tmp_path,
                    dev=EvalSet("dev", dev, kit.collate), to_glosses=kit.to_glosses, decoder=kit.greedy,
                    scorer=kit.fake_scorer()).fit()
    assert again.global_step == 24 and again.history == result.history


@pytest.mark.parametrize("which", ["ema", "raw"])
def test_ema_evaluate_scores_only_the_named_weights_and_keeps_them_as_best(slr_train_kit, slr_train_tiny_config,
                                                                          tmp_path, which):
    kit = slr_train_kit
    torch.manual_seed(0)
    train = kit.FakeDataset(16, seed=0)
    dev = kit.FakeDataset(8, seed=1, augment=False, prefix="dev")
    base = slr_train_tiny_config
    cfg = dataclasses.replace(base, ema=dataclasses.replace(base.ema, evaluate=which),
                              optim=dataclasses.replace(base.optim, epochs=1))
    result = Trainer(kit.FakeCTCModel(), cfg, _train_set(kit, train, kit.sampler_factory(4)), tmp_path,
                     dev=EvalSet("dev", dev, kit.collate), to_glosses=kit.to_glosses, decoder=kit.greedy,
                     scorer=kit.fake_scorer()).fit()
    other = {"ema": "raw", "raw": "ema"}[which]
    assert all(f"dev_wer_{which}" in h and f"dev_wer_{other}" not in h for h in result.history)
    assert result.best.weights == which and result.best.wer == min(h[f"dev_wer_{which}"] for h in result.history)
    best = load_checkpoint(result.best_checkpoint)
    assert best["weights"] == which and set(best["dev"]) == {f"wer_{which}", "wer"}
    last = load_checkpoint(result.last_checkpoint)  # the end of the one epoch, where best was scored
    assert last["ema"] is not None  # the EMA is kept either way
    kept, dropped = eval_model_state(last, which), eval_model_state(last, other)
    assert all(torch.equal(best["model"][k], v) for k, v in kept.items())
    assert not torch.equal(best["model"]["head.weight"], dropped["head.weight"])


def test_ema_evaluate_ema_needs_the_ema():
    with pytest.raises(ValueError, match="ema.evaluate: 'ema' evaluates the EMA weights, but ema.enabled is false"):
        EMAConfig(enabled=False, evaluate="ema")
    with pytest.raises(ValueError, match="ema.evaluate: must be"):
        EMAConfig(evaluate="best")
    assert EMAConfig().evaluate == "both" and EMAConfig(enabled=False, evaluate="raw").evaluate == "raw"


def _one_step_weights(kit, cfg, batches, tmp_path, accum):
    torch.manual_seed(0)
    model = kit.FakeCTCModel(dropout=0.0)
    data = kit.FakeDataset(8, seed=2, augment=False)
    cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, epochs=1, grad_accum_steps=accum),
                              ema=EMAConfig(enabled=False))
    Trainer(model, cfg, _train_set(kit, data, _fixed(kit, batches)), tmp_path).fit()
    return _weights(model)


def test_gradient_accumulation_equals_one_big_batch(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    big = _one_step_weights(kit, slr_train_tiny_config, [[0, 1, 2, 3, 4]], tmp_path / "a", accum=1)
    accumulated = _one_step_weights(kit, slr_train_tiny_config, [[0, 1], [2, 3, 4]], tmp_path / "b", accum=2)
    for k in big:
        torch.testing.assert_close(accumulated[k], big[k], rtol=1e-5, atol=1e-6)
    moved = _one_step_weights(kit, slr_train_tiny_config, [[0, 1]], tmp_path / "c", accum=1)
    assert not torch.allclose(moved["head.weight"], big["head.weight"])


def test_repeated_runs_are_bitwise_identical(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    results = []
    for name in ("a", "b"):
        torch.manual_seed(0)
        model = kit.FakeCTCModel()
        data = kit.FakeDataset(16, seed=0)
        Trainer(model, slr_train_tiny_config, _train_set(kit, data, kit.sampler_factory(4)), tmp_path / name).fit()
        results.append(_weights(model))
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_nonfinite_loss_skips_the_step(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    torch.manual_seed(0)
    model = kit.FakeCTCModel()
    data = kit.FakeDataset(8, seed=0, nan_items={3})
    snapshots = {}

    def on_step(step, metrics):
        snapshots[step] = (_weights(model), metrics["applied"])

    cfg = dataclasses.replace(slr_train_tiny_config, optim=dataclasses.replace(slr_train_tiny_config.optim, epochs=1))
    result = Trainer(model, cfg, _train_set(kit, data, _fixed(kit, [[0, 1], [2, 3], [4, 5]])), tmp_path,
                     on_step=on_step).fit()
    assert [snapshots[s][1] for s in (1, 2, 3)] == [1.0, 0.0, 1.0]
    assert all(torch.equal(snapshots[1][0][k], snapshots[2][0][k]) for k in snapshots[1][0])
    assert not torch.equal(snapshots[2][0]["head.weight"], snapshots[3][0]["head.weight"])
    assert result.skipped_steps == 1 and result.history[0]["skipped_steps"] == 1


def test_too_many_nonfinite_steps_stop_with_last_good_checkpoint(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    torch.manual_seed(0)
    model = kit.FakeCTCModel()
    data = kit.FakeDataset(10, seed=0, nan_items={4, 5, 6, 7, 8, 9})
    snapshots = {}
    cfg = dataclasses.replace(slr_train_tiny_config, faults=FaultConfig(max_consecutive_nonfinite=2),
                              checkpoint=dataclasses.replace(slr_train_tiny_config.checkpoint, every_steps=1,
                                                             keep_last=5))
    trainer = Trainer(model, cfg, _train_set(kit, data, _fixed(kit, [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]])),
                      tmp_path, on_step=lambda step, m: snapshots.__setitem__(step, _weights(model)))
    with pytest.raises(NonFiniteLossError, match=r"2 consecutive .* step 4.*ckpt-000000003-step\.pt"):
        trainer.fit()
    info = CheckpointManager(tmp_path / "checkpoints").latest()
    assert info.step == 3
    saved = load_checkpoint(info.path)["engine"]["model"]
    assert all(torch.equal(saved[k], snapshots[2][k]) for k in snapshots[2])


def test_infeasible_samples_are_dropped_or_raise(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    data = kit.FakeDataset(8, seed=0)
    labels = list(data.labels)
    labels[2] = [1] * 40  # needs 79 output frames
    seen = []

    def factory(lengths, world, rank):
        seen.append(len(lengths))
        return kit.FakeBucketSampler(lengths, 2, world, rank)

    train = TrainSet(data, data.video_ids, data.num_frames, labels, kit.collate, factory)
    cfg = dataclasses.replace(slr_train_tiny_config, optim=dataclasses.replace(slr_train_tiny_config.optim, epochs=1))
    result = Trainer(kit.FakeCTCModel(), cfg, train, tmp_path / "drop").fit()
    assert [s.video_id for s in result.feasibility.infeasible] == ["vid002"] and seen == [7]
    strict = dataclasses.replace(cfg, faults=FaultConfig(ctc_infeasible="error"))
    with pytest.raises(CTCInfeasibleError, match="vid002"):
        Trainer(kit.FakeCTCModel(), strict, train, tmp_path / "error").fit()


def test_drop_path_schedule_is_applied(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    model = kit.FakeCTCModel(depth=3)
    cfg = dataclasses.replace(slr_train_tiny_config, optim=dataclasses.replace(
        slr_train_tiny_config.optim, epochs=1, drop_path_rate=0.3, drop_path_schedule="linear"))
    data = kit.FakeDataset(8, seed=0)
    rates = []
    Trainer(model, cfg, _train_set(kit, data, kit.sampler_factory(2)), tmp_path,
            on_step=lambda s, m: rates.append(model.blocks[-1].drop_path)).fit()
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_dev_without_to_glosses_is_rejected(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    data = kit.FakeDataset(4)
    with pytest.raises(ValueError, match="to_glosses"):
        Trainer(kit.FakeCTCModel(), slr_train_tiny_config, _train_set(kit, data, kit.sampler_factory(2)), tmp_path,
                dev=EvalSet("dev", data, kit.collate))


def test_linear_256_scaling_and_the_mamba_slr_schedule_reach_the_optimiser(slr_train_kit, slr_train_tiny_config,
                                                                           tmp_path, caplog):
    import logging

    from slr_train import OptimConfig

    kit = slr_train_kit
    data = kit.FakeDataset(16, seed=0)  # 4 batches of 4, accumulation 2: 2 steps per epoch
    optim = OptimConfig(lr=1e-3, warmup_lr=1e-4, min_lr=1e-5, epochs=2, warmup_epochs=1, grad_accum_steps=2,
                        lr_schedule="mamba_slr", lr_scaling="linear_256")
    cfg = dataclasses.replace(slr_train_tiny_config, optim=optim)
    lrs = []
    trainer = Trainer(kit.FakeCTCModel(), cfg, TrainSet(data, data.video_ids, data.num_frames, data.labels,
                                                        kit.collate, kit.sampler_factory(4), batch_size=4),
                      tmp_path, on_step=lambda step, metrics: lrs.append(metrics["lr"]))
    with caplog.at_level(logging.INFO, logger="slr_train.trainer"):
        trainer.fit()
    total = 4 * 2 * 1  # per process x accumulation x processes
    lr, warmup_lr, min_lr = 1e-3 * total / 256, 1e-4 * total / 256, 1e-5 * total / 256
    assert (lr, warmup_lr, min_lr) == (3.125e-05, 3.125e-06, 3.125e-07)
    assert lrs[:2] == [warmup_lr, lr]  # linspace(warmup_lr, lr, 2): from warmup_lr, reaching lr
    assert lrs[2] == min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(0.0))
    assert lrs[3] == min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * 1 / 2))
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("learning rate:")]
    assert logged == ["learning rate: lr 3.125e-05, warmup_lr 3.125e-06, min_lr 3.125e-07 (lr_scaling linear_256: "
                      "x 8/256, total batch = 4 per process x 2 accumulation x 1 processes); mamba_slr schedule, "
                      "2 warmup of 4 optimiser steps"]
    for group in trainer.engine.param_groups:  # after the last step: min_lr times each group's scale
        assert group["lr"] == min_lr * group["lr_scale"]


def test_linear_256_without_a_batch_size_is_an_error(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    data = kit.FakeDataset(8, seed=0)
    cfg = dataclasses.replace(slr_train_tiny_config,
                              optim=dataclasses.replace(slr_train_tiny_config.optim, lr_scaling="linear_256"))
    with pytest.raises(ValueError, match=r"optim.lr_scaling: 'linear_256' .*TrainSet.batch_size"):
        Trainer(kit.FakeCTCModel(), cfg, _train_set(kit, data, kit.sampler_factory(4)), tmp_path)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate, kit.sampler_factory(4), batch_size=0)
