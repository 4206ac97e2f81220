import math

import pytest
import torch

from slr_train import CosineWarmup, DropPathSchedule, LRScheduler


def test_linear_warmup_then_cosine_to_min():
    s = CosineWarmup(peak_lr=1.0, total_steps=14, warmup_steps=4, min_lr=0.1)
    assert [s.lr(i) for i in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert s.lr(4) == pytest.approx(1.0)
    assert s.lr(13) == pytest.approx(0.1) and s.lr(100) == pytest.approx(0.1)
    middle = 4 + (13 - 4) / 2
    assert s.lr(int(middle)) > 0.55 > s.lr(int(middle) + 1)
    decay = [s.lr(i) for i in range(4, 14)]
    assert all(a > b for a, b in zip(decay, decay[1:]))
    assert s.lr(9) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 9)))


def test_no_warmup_starts_at_peak():
    s = CosineWarmup(peak_lr=2.0, total_steps=5)
    assert s.lr(0) == 2.0 and s.lr(4) == pytest.approx(0.0)


def test_invalid_schedules_raise():
    with pytest.raises(ValueError, match="total_steps"):
        CosineWarmup(1.0, 0)
    with pytest.raises(ValueError, match="min_lr"):
        CosineWarmup(1.0, 10, min_lr=2.0)


def _optimizer():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    return torch.optim.SGD([{"params": [a], "lr_scale": 0.5}, {"params": [b]}], lr=1.0)


def test_scheduler_applies_group_scales_and_round_trips():
    opt = _optimizer()
    sched = LRScheduler(opt, CosineWarmup(1.0, 10, 2, 0.0))
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.5]
    for _ in range(3):
        sched.step()
    lrs = [g["lr"] for g in opt.param_groups]
    state = sched.state_dict()
    opt2 = _optimizer()
    sched2 = LRScheduler(opt2.param_groups, CosineWarmup(5.0, 99))
    sched2.load_state_dict(state)
    assert [g["lr"] for g in opt2.param_groups] == lrs and sched2.step_count == 3
    sched.step(), sched2.step()
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in opt2.param_groups]


def test_scheduler_follows_groups_replaced_by_optimizer_load_state_dict():
    opt = _optimizer()
    sched = LRScheduler(opt, CosineWarmup(1.0, 10, 0, 0.0))
    opt.load_state_dict(_optimizer().state_dict())  # new group dicts with lr=1.0
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.5 * sched.lr, sched.lr])
    assert sched.lr < 1.0


def test_scheduler_state_must_match_group_count():
    sched = LRScheduler(_optimizer().param_groups, CosineWarmup(1.0, 10))
    state = sched.state_dict()
    state["scales"] = [1.0]
    with pytest.raises(ValueError, match="1 groups"):
        sched.load_state_dict(state)


def test_drop_path_schedules_and_model_hook(slr_train_kit):
    assert DropPathSchedule(0.2, 11, "constant").rate(3) == 0.2
    linear = DropPathSchedule(0.2, 11, "linear")
    assert [linear.rate(i) for i in (0, 5, 10, 50)] == pytest.approx([0.0, 0.1, 0.2, 0.2])
    model = slr_train_kit.FakeCTCModel(depth=3)
    assert linear.apply(model, 10) == pytest.approx(0.2)
    assert [b.drop_path for b in model.blocks] == pytest.approx([0.0, 0.1, 0.2])
    with pytest.raises(TypeError, match="set_drop_path_rate"):
        linear.apply(torch.nn.Linear(2, 2), 1)


# --------------------------------------------------------------------------- Mamba_SLR's schedule
def _mamba_slr_values(base, final, epochs, niter_per_ep, warmup_epochs=0.0, start_warmup_value=0.0,
                      warmup_steps=-1):
    """Mamba_SLR's per-step lr values, computed here from its formula (utils.cosine_scheduler):
    ``numpy.linspace(start_warmup_value, base, W)`` over ``W = int(warmup_epochs * niter_per_ep)``
    steps (``warmup_steps > 0`` overrides ``W``), then ``final + 0.5 * (base - final) * (1 +
    cos(pi * i / n))`` for ``i`` in ``0 .. n - 1``, ``n = epochs * niter_per_ep - W``."""
    import numpy as np

    warmup = warmup_steps if warmup_steps > 0 else int(warmup_epochs * niter_per_ep)
    ramp = np.linspace(start_warmup_value, base, warmup) if warmup_epochs > 0 else np.array([])
    n = epochs * niter_per_ep - warmup
    cosine = [final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / n)) for i in np.arange(n)]
    values = np.concatenate((ramp, np.array(cosine)))
    assert len(values) == epochs * niter_per_ep
    return [float(v) for v in values]


@pytest.mark.parametrize("epochs, steps, warmup_epochs, warmup_steps, batch, accum, world", [
    (100, 354, 5, None, 2, 1, 8),     # run_phoenix.sh on 8 GPUs: 5672 videos // 16 = 354 steps per epoch
    (5, 7, 2, None, 2, 2, 4),
    (4, 9, 0.5, None, 3, 1, 1),       # int(4.5) = 4 warmup steps (truncated, not rounded)
    (3, 5, 1, 7, 1, 1, 1),            # warmup_steps overrides warmup_epochs
    (3, 5, 0.2, None, 1, 1, 1),       # a single warmup step: linspace(a, b, 1) == [a]
    (3, 5, 0, None, 4, 1, 2),         # no warmup at all
])
def test_mamba_slr_schedule_reproduces_the_original_values_exactly(epochs, steps, warmup_epochs, warmup_steps,
                                                                    batch, accum, world):
    from slr_train import OptimConfig
    from slr_train.schedules import optimiser_schedule

    optim = OptimConfig(lr=1e-3, warmup_lr=1e-4, min_lr=1e-5, epochs=epochs, warmup_epochs=warmup_epochs,
                        warmup_steps=warmup_steps, grad_accum_steps=accum, lr_schedule="mamba_slr",
                        lr_scaling="linear_256")
    schedule = optimiser_schedule(optim, steps, batch, world)
    total = batch * accum * world
    # main.py scales before building the schedule: value * total_batch_size / 256
    expected = _mamba_slr_values(1e-3 * total / 256, 1e-5 * total / 256, epochs, steps, warmup_epochs,
                                 1e-4 * total / 256, warmup_steps if warmup_steps is not None else -1)
    ours = [schedule.lr(s) for s in range(epochs * steps)]
    assert ours == expected  # bit-identical, step by step
    assert schedule.lr(epochs * steps) == schedule.min_lr  # beyond the end (more epochs): min_lr


def test_mamba_slr_group_rates_are_value_times_lr_scale():
    opt = _optimizer()  # groups with lr_scale 0.5 and (implicitly) 1
    schedule = CosineWarmup(1e-3, 20, 4, 1e-5, 1e-4, "mamba_slr")
    sched = LRScheduler(opt, schedule)
    for step in range(6):
        assert [g["lr"] for g in opt.param_groups] == [schedule.lr(step) * 0.5, schedule.lr(step) * 1.0]
        sched.step()
    assert CosineWarmup(1e-3, 20, 4, 1e-5, 1e-4, "mamba_slr").lr(0) == 1e-4
    assert CosineWarmup(1e-3, 20, 4, 1e-5, 1e-4, "mamba_slr").lr(3) == 1e-3


def test_slr_warmup_starts_from_warmup_lr_and_defaults_to_the_old_values():
    s = CosineWarmup(peak_lr=1.0, total_steps=14, warmup_steps=4, min_lr=0.1, warmup_lr=0.2)
    assert [s.lr(i) for i in range(4)] == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert s.lr(13) == pytest.approx(0.1)
    old = CosineWarmup(peak_lr=3e-3, total_steps=50, warmup_steps=7, min_lr=1e-5)  # warmup_lr 0, slr
    assert [old.lr(i) for i in range(7)] == [3e-3 * (i + 1) / 7 for i in range(7)]


def test_scheduler_state_keeps_warmup_lr_and_formula_and_reads_old_states():
    sched = LRScheduler(_optimizer(), CosineWarmup(1.0, 10, 3, 0.1, 0.05, "mamba_slr"))
    sched.step()
    restored = LRScheduler(_optimizer(), CosineWarmup(1.0, 10))
    restored.load_state_dict(sched.state_dict())
    assert restored.schedule == sched.schedule and restored.lr == sched.lr
    old_state = {k: v for k, v in sched.state_dict().items() if k not in ("warmup_lr", "formula")}
    restored.load_state_dict(old_state)  # a checkpoint written before the fields existed
    assert restored.schedule == CosineWarmup(1.0, 10, 3, 0.1)


def test_invalid_formula_or_warmup_lr_raise():
    with pytest.raises(ValueError, match="formula"):
        CosineWarmup(1.0, 10, formula="step")
    with pytest.raises(ValueError, match="warmup_lr"):
        CosineWarmup(1.0, 10, warmup_lr=-1.0)
