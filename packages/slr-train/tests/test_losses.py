"""CTC loss reductions: ``sum`` (per-sample NLL) and ``mean_per_target`` (torch's CTCLoss 'mean')."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from slr_train import EMAConfig, LossConfig, Trainer, TrainSet, build_adamw
from slr_train.losses import ctc_loss_sum


def _batch_and_output(kit, indices, model):
    data = kit.FakeDataset(8, seed=2, augment=False)
    batch = kit.collate([data[i] for i in indices])
    return batch, model(batch.frames, batch.lengths, seq_idx=batch.seq_idx)


def test_mean_per_target_is_torch_ctc_mean_times_batch_size(slr_train_kit):
    torch.manual_seed(0)
    batch, out = _batch_and_output(slr_train_kit, [0, 1, 2, 3, 4], slr_train_kit.FakeCTCModel())
    assert len(set(batch.label_lengths.tolist())) > 1  # the division by target length matters
    args = (out.log_probs, batch.labels, out.lengths, batch.label_lengths)
    reference = torch.nn.CTCLoss(blank=0)(*args)  # Mamba_SLR's criterion, default reduction 'mean'
    torch.testing.assert_close(ctc_loss_sum(out, batch, reduction="mean_per_target") / 5, reference)
    torch.testing.assert_close(ctc_loss_sum(out, batch), F.ctc_loss(*args, reduction="sum"))
    with pytest.raises(ValueError, match="reduction"):
        ctc_loss_sum(out, batch, reduction="mean")


def _one_step(kit, cfg, batches, run_dir, reduction, losses=None):
    torch.manual_seed(0)
    model = kit.FakeCTCModel(dropout=0.0)
    data = kit.FakeDataset(8, seed=2, augment=False)
    cfg = dataclasses.replace(
        cfg, optim=dataclasses.replace(cfg.optim, epochs=1, grad_accum_steps=len(batches), warmup_steps=0,
                                       clip_grad_norm=0.0),
        ema=EMAConfig(enabled=False), loss=LossConfig(reduction))
    train = TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate,
                     lambda lengths, world, rank: kit.GlobalBatchSampler(batches, world, rank))
    on_step = (lambda step, metrics: losses.append(metrics["loss"])) if losses is not None else None
    Trainer(model, cfg, train, run_dir, on_step=on_step).fit()
    return {k: v for k, v in model.state_dict().items() if k != "calls"}, cfg


def test_accumulated_mean_per_target_step_is_an_adamw_step_on_torch_ctc_mean(slr_train_kit, slr_train_tiny_config,
                                                                            tmp_path):
    kit = slr_train_kit
    losses: list[float] = []
    trained, cfg = _one_step(kit, slr_train_tiny_config, [[0, 1], [2, 3, 4]], tmp_path / "a", "mean_per_target",
                             losses)
    # the reference: the whole global batch at once, CTCLoss(blank=0) 'mean', one AdamW update
    torch.manual_seed(0)
    model = kit.FakeCTCModel(dropout=0.0)
    batch, out = _batch_and_output(kit, [0, 1, 2, 3, 4], model)
    loss = torch.nn.CTCLoss(blank=0)(out.log_probs, batch.labels, out.lengths, batch.label_lengths)
    assert losses == [pytest.approx(float(loss.detach()), rel=1e-6)]
    optimizer = build_adamw(model, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                            layer_decay=cfg.optim.layer_decay, betas=cfg.optim.betas, eps=cfg.optim.eps)
    loss.backward()
    optimizer.step()
    for name, value in model.state_dict().items():
        if name != "calls":
            torch.testing.assert_close(trained[name], value, rtol=1e-5, atol=1e-7, msg=name)
    summed, _ = _one_step(kit, slr_train_tiny_config, [[0, 1], [2, 3, 4]], tmp_path / "b", "sum")
    assert not torch.allclose(summed["head.weight"], trained["head.weight"])  # the reduction changes the step
