import json

import pytest

from slr_train import (CheckpointConfig, EMAConfig, EngineConfig, FaultConfig, OptimConfig, PrecisionConfig,
                       TrainConfig)


def test_defaults_match_the_reference_recipe():
    cfg = TrainConfig()
    assert cfg.optim.lr == 1e-3 and cfg.optim.weight_decay == 0.05 and cfg.optim.layer_decay == 0.75
    assert cfg.optim.clip_grad_norm == 5.0 and cfg.optim.betas == (0.9, 0.999)
    assert cfg.precision.dtype == "bf16" and cfg.ema.decay == 0.9999 and cfg.ema.enabled
    assert cfg.engine.kind == "ddp" and cfg.checkpoint.resume == "auto"
    assert cfg.faults.ctc_infeasible == "drop"


def test_round_trip_through_plain_json():
    cfg = TrainConfig(optim=OptimConfig(lr=3e-4, epochs=7, betas=[0.8, 0.9]), ema=EMAConfig(enabled=False),
                      engine=EngineConfig(kind="deepspeed", deepspeed_config={"zero_optimization": {"stage": 2}}),
                      seed=5)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert data["optim"]["betas"] == [0.8, 0.9]
    restored = TrainConfig.from_dict(data)
    assert restored == cfg
    assert restored.optim.betas == (0.8, 0.9)


def test_partial_dict_takes_defaults():
    cfg = TrainConfig.from_dict({"optim": {"epochs": 3}, "precision": {"dtype": "fp32"}})
    assert cfg.optim.epochs == 3 and cfg.optim.lr == 1e-3 and cfg.precision.dtype == "fp32"


@pytest.mark.parametrize("data, message", [
    ({"optim": {"lrr": 1}}, r"optim: unknown key\(s\) \['optim.lrr'\]"),
    ({"optim": {"lr": "3e-4x"}}, r"optim.lr: expected a number, got '3e-4x'"),
    ({"optim": {"epochs": 2.5}}, "optim.epochs: expected an integer"),
    ({"optim": {"betas": [0.9]}}, r"optim.betas: expected a list of 2"),
    ({"precision": {"dtype": "fp16"}}, "precision.dtype: expected one of 'bf16', 'fp32'"),
    ({"checkpoint": {"resume": 3}}, "checkpoint.resume: expected a string or null"),
    ({"seed": True}, "seed: expected an integer, got True"),
    ({"bogus": 1}, r"config: unknown key\(s\) \['bogus'\]"),
    ({"optim": 3}, "optim: expected a mapping"),
])
def test_unknown_or_malformed_keys_are_reported(data, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(data)


@pytest.mark.parametrize("make, message", [
    (lambda: OptimConfig(lr=0), "optim.lr"),
    (lambda: OptimConfig(layer_decay=1.5), "optim.layer_decay"),
    (lambda: OptimConfig(grad_accum_steps=0), "optim.grad_accum_steps"),
    (lambda: OptimConfig(min_lr=1.0), "optim.min_lr"),
    (lambda: OptimConfig(drop_path_schedule="cubic"), "optim.drop_path_schedule"),
    (lambda: PrecisionConfig("fp16"), "precision.dtype"),
    (lambda: EMAConfig(decay=1.0), "ema.decay"),
    (lambda: CheckpointConfig(keep_last=0), "checkpoint.keep_last"),
    (lambda: CheckpointConfig(resume=""), "checkpoint.resume"),
    (lambda: EngineConfig(kind="fsdp"), "engine.kind"),
    (lambda: EngineConfig(zero_stage=3), "engine.zero_stage"),
    (lambda: FaultConfig(ctc_infeasible="ignore"), "faults.ctc_infeasible"),
    (lambda: FaultConfig(max_consecutive_nonfinite=0), "faults.max_consecutive_nonfinite"),
])
def test_invalid_values_name_the_field(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_resume_none_as_a_string_means_a_fresh_start():
    assert CheckpointConfig(resume="none").resume is None and CheckpointConfig(resume="None").resume is None
    assert CheckpointConfig(resume="auto").resume == "auto" and CheckpointConfig(resume="a.pt").resume == "a.pt"
    assert TrainConfig.from_dict({"checkpoint": {"resume": "none"}}).checkpoint.resume is None


def test_configs_are_frozen_and_copy_deepspeed_mappings():
    ds = {"zero_optimization": {"stage": 1}}
    cfg = EngineConfig(kind="deepspeed", deepspeed_config=ds)
    ds["zero_optimization"]["stage"] = 2
    assert cfg.deepspeed_config["zero_optimization"]["stage"] == 1
    with pytest.raises(AttributeError):
        cfg.kind = "ddp"


def test_configs_saved_before_the_recipe_options_still_load_with_todays_behaviour():
    from slr_train import InitFromConfig, LossConfig

    saved = TrainConfig().to_dict()
    for key in ("warmup_lr", "lr_schedule", "lr_scaling"):
        del saved["optim"][key]
    del saved["loss"], saved["init_from"]
    cfg = TrainConfig.from_dict(saved)
    assert cfg == TrainConfig()
    assert (cfg.optim.warmup_lr, cfg.optim.lr_schedule, cfg.optim.lr_scaling) == (0.0, "slr", "none")
    assert cfg.loss == LossConfig("sum") and cfg.init_from == InitFromConfig(path=None)


def test_recipe_options_round_trip():
    data = {"optim": {"lr": 1e-3, "warmup_lr": 1e-4, "min_lr": 1e-5, "lr_schedule": "mamba_slr",
                      "lr_scaling": "linear_256"},
            "loss": {"reduction": "mean_per_target"},
            "init_from": {"path": "/x/pre.pth", "keys": ["model_ema"], "remap": "mamba_slr"}}
    cfg = TrainConfig.from_dict(data)
    assert cfg.init_from.keys == ("model_ema",)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("data, message", [
    ({"optim": {"lr_scaling": "sqrt"}}, "optim.lr_scaling: expected one of 'none', 'linear_256'"),
    ({"optim": {"lr_schedule": "step"}}, "optim.lr_schedule: expected one of 'slr', 'mamba_slr'"),
    ({"optim": {"lr": 1e-3, "warmup_lr": 1e-2}}, r"optim.warmup_lr: must be in \[0, lr=0.001\]"),
    ({"loss": {"reduction": "mean"}}, "loss.reduction: expected one of 'sum', 'mean_per_target'"),
    ({"init_from": {"remap": "yes"}}, "init_from.remap: expected one of"),
    ({"init_from": {"weights": "best"}}, "init_from.weights: expected one of"),
    ({"init_from": {"path": ""}}, "init_from.path: must not be empty"),
    ({"init_from": {"keys": [""]}}, "init_from.keys: must be non-empty strings"),
])
def test_recipe_options_are_validated(data, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(data)


def test_linear_256_scales_lr_warmup_lr_and_min_lr_by_the_total_batch():
    optim = OptimConfig(lr=1e-3, warmup_lr=1e-4, min_lr=1e-5, grad_accum_steps=2, lr_scaling="linear_256")
    assert optim.total_batch_size(2, 4) == 16
    assert optim.scaled_lrs(2, 4) == (1e-3 * 16 / 256, 1e-4 * 16 / 256, 1e-5 * 16 / 256)
    assert OptimConfig(lr=1e-3, warmup_lr=1e-4, min_lr=1e-5).scaled_lrs(None, 8) == (1e-3, 1e-4, 1e-5)
    with pytest.raises(ValueError, match="optim.lr_scaling: 'linear_256'.*batch size"):
        optim.scaled_lrs(None, 1)
