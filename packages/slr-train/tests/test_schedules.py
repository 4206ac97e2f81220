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
