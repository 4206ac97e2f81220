import json
import random
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

from slr_train import CheckpointError, CheckpointManager, load_checkpoint
from slr_train.checkpoint import verify_manifest
from slr_train.rng import capture_rng_state, restore_rng_state


def _payload(value: float) -> dict:
    return {"model": {"w": torch.full((4, 4), value)}, "note": "x", "nested": [1, 2.5, (3, "a"), None]}


def test_save_then_latest_and_load_with_weights_only(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=3)
    path = manager.save(_payload(1.0), step=5, epoch=0)
    assert path.name == "ckpt-000000005-step.pt" and path.with_suffix(".json").is_file()
    info = manager.latest()
    assert (info.step, info.epoch, info.kind, info.path) == (5, 0, "step", path)
    loaded = manager.load(info)
    assert torch.equal(loaded["model"]["w"], torch.ones(4, 4))
    assert loaded["nested"] == [1, 2.5, (3, "a"), None] and loaded["step"] == 5 and loaded["format_version"] == 1
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["files"][path.name]["bytes"] == path.stat().st_size
    assert len(manifest["files"][path.name]["sha256"]) == 64


def test_epoch_checkpoint_sorts_after_step_checkpoint_of_same_step(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(_payload(1.0), step=10, epoch=1, kind="epoch")
    manager.save(_payload(2.0), step=10, epoch=0, kind="step")
    assert manager.latest().kind == "epoch"


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete_pt", "garble_manifest"])
def test_corrupt_newest_falls_back_to_previous_with_warning(tmp_path, damage):
    manager = CheckpointManager(tmp_path, keep_last=3)
    manager.save(_payload(1.0), step=1, epoch=0)
    newest = manager.save(_payload(2.0), step=2, epoch=0)
    if damage == "truncate":
        data = newest.read_bytes()
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        data = bytearray(newest.read_bytes())
        data[len(data) // 2] ^= 0xFF
        newest.write_bytes(bytes(data))
    elif damage == "delete_pt":
        newest.unlink()
    else:
        newest.with_suffix(".json").write_text("{not json")
    with pytest.warns(RuntimeWarning, match="ckpt-000000002-step"):
        info = manager.latest()
    assert info.step == 1
    assert torch.equal(manager.load(info)["model"]["w"], torch.ones(4, 4))
    with pytest.raises(CheckpointError, match="ckpt-000000002-step"):
        load_checkpoint(newest)


def test_checkpoint_without_manifest_is_skipped_with_a_warning(tmp_path):
    """A process killed between writing the .pt and its manifest leaves an incomplete checkpoint."""
    manager = CheckpointManager(tmp_path)
    manager.save(_payload(1.0), step=1, epoch=0)
    newest = manager.save(_payload(2.0), step=2, epoch=0)
    newest.with_suffix(".json").unlink()
    with pytest.warns(RuntimeWarning, match=r"ckpt-000000002-step\.json: manifest missing"):
        choice = manager.find()
    assert choice.info.step == 1
    assert [(c.path, c.step) for c in choice.invalid] == [(newest, 2)]


def test_temp_files_of_interrupted_writes_are_not_checkpoints(tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save(_payload(1.0), step=1, epoch=0)
    (tmp_path / ".tmp-ckpt-000000003-step.pt.abc").write_bytes(b"half")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choice = manager.find()
    assert choice.info.step == 1 and choice.invalid == ()


def test_keep_last_prunes_old_but_keeps_best(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=2)
    manager.save({"wer": 30.0}, step=3, epoch=1, kind="best")
    for step in range(1, 6):
        manager.save(_payload(step), step=step, epoch=0)
    manager.save({"wer": 20.0}, step=5, epoch=2, kind="best")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best-000000005.json", "best-000000005.pt", "ckpt-000000004-step.json",
                     "ckpt-000000004-step.pt", "ckpt-000000005-step.json", "ckpt-000000005-step.pt"]
    assert manager.best().step == 5 and manager.latest().step == 5


def test_empty_directory_has_no_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path / "missing")
    assert manager.latest() is None and manager.best() is None


def test_unsafe_payload_is_refused_by_weights_only_loading(tmp_path):
    manager = CheckpointManager(tmp_path)
    path = manager.save({"obj": Fraction(1, 3)}, step=1, epoch=0)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(path)


def test_manifest_version_is_checked(tmp_path):
    manager = CheckpointManager(tmp_path)
    path = manager.save(_payload(1.0), step=1, epoch=0)
    manifest = json.loads(path.with_suffix(".json").read_text())
    manifest["format_version"] = 99
    path.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="format_version 99"):
        verify_manifest(path.with_suffix(".json"))


def test_rng_state_survives_weights_only_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.random(), np.random.standard_normal(), torch.randn(1)
    state = capture_rng_state()
    expected = (random.random(), np.random.standard_normal(3), torch.randn(3))
    path = CheckpointManager(tmp_path).save({"rng": state}, step=1, epoch=0)
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng_state(load_checkpoint(path)["rng"])
    assert random.random() == expected[0]
    assert np.array_equal(np.random.standard_normal(3), expected[1])
    assert torch.equal(torch.randn(3), expected[2])
