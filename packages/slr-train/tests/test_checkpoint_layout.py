"""The checkpoint layout (slr_train.checkpoint_layout): one record read and written everywhere."""

import pytest
import torch

from slr_train import CheckpointError, CheckpointManager, load_checkpoint
from slr_train.checkpoint_layout import (BEST_KEYS, FORMAT_VERSION, HEADER_KEYS, RESUMABLE_KEYS,
                                         CheckpointRecord)
from slr_train.trainer_state import eval_model_state


def _old_format_step_payload():
    """A step checkpoint exactly as slr-train wrote it before the layout had a record."""
    model = {"w": torch.ones(2, 2), "b": torch.zeros(2)}
    return {
        "trainer": {"epoch": 1, "batch_in_epoch": 3, "global_step": 7}, "scheduler": {"step_count": 7},
        "ema": {"params": {"w": torch.full((2, 2), 0.5)}, "buffers": {}}, "nonfinite": {"consecutive": 0},
        "sampler": {"epoch": 1, "batch_in_epoch": 3, "batches_per_epoch": 5}, "rng": [{"python": {}}],
        "world_size": 1, "config": {"optim": {"lr": 0.001}}, "extra": {"vocab": ["a", "b"]},
        "engine": {"kind": "ddp", "model": model, "optimizer": {"state": {}, "param_groups": []}},
        "format_version": 1, "step": 7, "epoch": 1, "kind": "step",
    }


def _old_format_best_payload():
    return {"model": {"w": torch.ones(2, 2)}, "weights": "ema", "config": {}, "extra": {},
            "dev": {"wer_raw": 30.0, "wer_ema": 25.0, "wer": 25.0},
            "format_version": 1, "step": 9, "epoch": 2, "kind": "best"}


def test_the_keys_are_listed_once():
    assert FORMAT_VERSION == 1 and set(HEADER_KEYS) == {"format_version", "step", "epoch", "kind"}
    assert set(RESUMABLE_KEYS) >= {"engine", "trainer", "scheduler", "nonfinite", "rng", "config"}
    assert set(BEST_KEYS) == {"model", "weights", "config"}


@pytest.mark.parametrize("make", [_old_format_step_payload, _old_format_best_payload])
def test_existing_payloads_load_and_round_trip(make):
    payload = make()
    record = CheckpointRecord.from_payload(payload, "run/ckpt.pt")
    assert (record.kind, record.step, record.source) == (payload["kind"], payload["step"], "run/ckpt.pt")
    again = record.to_payload()
    assert again.keys() == payload.keys()
    assert CheckpointRecord.from_payload(again) == record


def test_record_saved_and_loaded_through_the_manager(tmp_path):
    payload = _old_format_step_payload()
    record = CheckpointRecord.from_payload(payload)
    path = CheckpointManager(tmp_path).save(record.to_payload(), step=7, epoch=1)
    loaded = CheckpointRecord.from_payload(load_checkpoint(path), path)
    assert loaded.trainer == record.trainer and torch.equal(loaded.engine["model"]["w"], torch.ones(2, 2))
    assert loaded.source == str(path)


def test_model_state_picks_the_weights():
    step = CheckpointRecord.from_payload(_old_format_step_payload())
    assert torch.equal(step.model_state("raw")["w"], torch.ones(2, 2))
    ema = step.model_state()  # auto: EMA when present; buffers / missing params fall back to the model
    assert torch.equal(ema["w"], torch.full((2, 2), 0.5)) and torch.equal(ema["b"], torch.zeros(2))
    assert step.weights_used() == "ema" and step.weights_used("raw") == "raw"
    best = CheckpointRecord.from_payload(_old_format_best_payload())
    assert torch.equal(best.model_state()["w"], torch.ones(2, 2)) and best.weights_used() == "ema"
    with pytest.raises(ValueError, match="holds 'ema' weights, not 'raw'"):
        best.model_state("raw")
    assert torch.equal(eval_model_state(_old_format_step_payload(), "raw")["w"], torch.ones(2, 2))


@pytest.mark.parametrize("key", ["trainer", "engine", "rng", "step", "kind"])
def test_a_missing_key_names_file_and_key(key):
    payload = _old_format_step_payload()
    del payload[key]
    with pytest.raises(CheckpointError) as info:
        CheckpointRecord.from_payload(payload, "run/ckpt-000000007-step.pt")
    assert str(info.value).startswith(f"run/ckpt-000000007-step.pt: key {key!r}: ")
    assert info.value.path == "run/ckpt-000000007-step.pt" and info.value.key == key


def test_a_missing_key_in_a_saved_checkpoint(tmp_path):
    payload = _old_format_best_payload()
    del payload["weights"]
    path = CheckpointManager(tmp_path).save(payload, step=9, epoch=2, kind="best")
    with pytest.raises(CheckpointError, match=r"best-000000009\.pt: key 'weights': missing from this best"):
        eval_model_state(path)


def test_wrong_types_and_versions_are_refused():
    payload = _old_format_step_payload()
    payload["world_size"] = "one"
    with pytest.raises(CheckpointError, match=r"ckpt.pt: key 'world_size': expected int, got str"):
        CheckpointRecord.from_payload(payload, "ckpt.pt")
    payload = _old_format_step_payload() | {"format_version": 2}
    with pytest.raises(CheckpointError, match="ckpt.pt: not an slr-train checkpoint of format 1"):
        CheckpointRecord.from_payload(payload, "ckpt.pt")
    with pytest.raises(CheckpointError, match="key 'weights': 'both' is not 'raw' or 'ema'"):
        CheckpointRecord.from_payload(_old_format_best_payload() | {"weights": "both"}, "best.pt")
    with pytest.raises(CheckpointError, match="key 'kind'"):
        CheckpointRecord.from_payload(_old_format_step_payload() | {"kind": "final"}, "ckpt.pt")
