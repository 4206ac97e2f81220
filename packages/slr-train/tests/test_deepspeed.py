"""DeepSpeed engine: config resolution (always) and a CPU smoke test (slow; needs deepspeed)."""

import importlib.util
import json

import pytest
import torch
import torch.multiprocessing as mp

from slr_train import DeepSpeedConfigError, EngineConfig, OptimConfig, PrecisionConfig
from slr_train.engines.deepspeed_engine import _primitive, resolve_deepspeed_config


def _resolve(ds, zero_stage=None, precision="bf16", clip=5.0):
    return resolve_deepspeed_config(EngineConfig(kind="deepspeed", deepspeed_config=ds, zero_stage=zero_stage),
                                    OptimConfig(clip_grad_norm=clip), PrecisionConfig(precision))


def test_config_is_completed_from_slr_train_settings(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"zero_optimization": {"stage": 1}, "bf16": {"enabled": True}}))
    cfg = _resolve(str(path))
    assert cfg["zero_optimization"]["stage"] == 1 and cfg["gradient_clipping"] == 5.0
    assert cfg["bf16"] == {"enabled": True, "check_grad_overflow": True}
    assert cfg["managed_gradient_accumulation"] is False and cfg["gradient_accumulation_steps"] == 1
    assert _resolve(str(path), zero_stage=2)["zero_optimization"] == {"stage": 2, "overlap_comm": False}
    assert _resolve(None)["zero_optimization"]["stage"] == 0


@pytest.mark.parametrize("ds, message", [
    ({"gradient_accumulation_steps": 4}, "gradient_accumulation_steps=4 is not supported"),
    ({"gradient_clipping": 1.0}, "gradient_clipping=1.0 contradicts optim.clip_grad_norm=5.0"),
    ({"bf16": {"enabled": False}}, "bf16.enabled=False contradicts precision.dtype='bf16'"),
    ({"bf16": {"check_grad_overflow": False}}, "check_grad_overflow=false"),
    ({"fp16": {"enabled": True}}, "fp16 is not supported"),
    ({"zero_optimization": {"stage": 3}}, "stage=3 is not supported"),
])
def test_contradictions_are_reported(ds, message):
    with pytest.raises(DeepSpeedConfigError, match=message):
        _resolve(ds)


def test_fp32_without_zero_is_refused():
    with pytest.raises(DeepSpeedConfigError, match="fp32 with ZeRO stage 0"):
        _resolve({}, precision="fp32")
    assert _resolve({}, zero_stage=1, precision="fp32")["zero_optimization"]["stage"] == 1


def test_bad_json_names_file_and_line(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text('{\n  "zero_optimization": {"stage": 1},\n  oops\n}')
    with pytest.raises(DeepSpeedConfigError, match=r"ds\.json:3: invalid JSON"):
        _resolve(str(path))
    with pytest.raises(FileNotFoundError, match="missing.json"):
        _resolve(str(tmp_path / "missing.json"))


def test_optimizer_state_is_made_weights_only_safe():
    import enum

    class Stage(enum.IntEnum):
        one = 1

    state = {"t": torch.ones(2), "stage": Stage.one, "obj": object(), "lists": [[1, 2], [object()]],
             "ok": [[1, 2], ["a"]], "mapping": {"a": (1.5, "x")}}
    clean = _primitive(state)
    assert type(clean["stage"]) is int and "obj" not in clean and clean["ok"] == [[1, 2], ["a"]]
    assert "lists" not in clean  # a list is kept whole or not at all (indices must not shift)
    assert clean["mapping"] == {"a": (1.5, "x")}


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("stage, ranks", [(0, 1), (2, 2)])
def test_deepspeed_engine_trains_skips_nan_and_resumes_on_cpu(tmp_path, stage, ranks):
    if importlib.util.find_spec("deepspeed") is None:
        pytest.skip("deepspeed is not installed (pip install 'slr-train[deepspeed]')")
    import slr_train_ds_workers as workers

    mp.spawn(workers.ds_worker, args=(ranks, workers.kit.free_port(), str(tmp_path), stage), nprocs=ranks, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(ranks)]
    for out in results:
        assert out["engine"] == "DeepSpeedEngine" and out["param_dtype"] == "torch.bfloat16"
        assert out["skipped"] == 1  # the NaN sample, whichever rank loads it
        assert out["sharded"] == (stage > 0)
        assert out["resumed_steps"] == 2 * out["history"][0]["step"]
        assert [h["epoch"] for h in out["history2"]] == [1, 2]
        assert out["history2"][0]["train_loss"] == out["history"][0]["train_loss"]
        assert out["history2"][1]["train_loss"] < out["history"][0]["train_loss"]
        assert out["history"][0]["dev_wer_raw"] < 100.0
        assert out["group_left"] == (ranks > 1)  # a group the engine created itself is gone after close()
    assert results[0]["history2"][1]["train_loss"] == results[-1]["history2"][1]["train_loss"]
