"""Which checkpoint is chosen and why (find, load_newest, select_checkpoint), and what a failed or
interrupted save leaves on disk (nothing of it: the older checkpoints stay valid)."""

import errno
import json
import re
import warnings
from fractions import Fraction

import pytest
import torch

from slr_train import (CheckpointError, CheckpointManager, OutputPathError, load_checkpoint,
                       select_checkpoint)
from slr_train.resume import find_resume_source


def _payload(value):
    return {"model": {"w": torch.full((2,), float(value))}}


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def _quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kwargs)


def _run_dir(tmp_path):
    """A run directory with a best checkpoint (step 5) and the newest epoch checkpoint (step 8)."""
    manager = CheckpointManager(tmp_path / "run" / "checkpoints", keep_last=2)
    manager.save(_payload(1), step=4, epoch=1, kind="epoch")
    best = manager.save(_payload(2), step=5, epoch=2, kind="best", meta={"wer": 20.0, "weights": "raw"})
    latest = manager.save(_payload(3), step=8, epoch=2, kind="epoch")
    return manager, best, latest


# ---------------------------------------------------------------------------------- choosing
def test_find_says_which_checkpoint_and_why(tmp_path):
    manager, best, latest = _run_dir(tmp_path)
    choice = _quiet(manager.find, "best")
    assert choice.info.path == best and choice.invalid == ()
    assert choice.describe() == f"using {best} (best by dev WER 20.00 %, raw weights, epoch 2, step 5)"
    latest_choice = _quiet(manager.find, "latest")
    assert latest_choice.describe() == f"using {latest} (newest epoch-end checkpoint, epoch 2, step 8)"
    with pytest.raises(ValueError, match="role must be"):
        manager.find("newest")


def test_select_checkpoint_uses_the_best_else_falls_back_saying_why(tmp_path):
    manager, best, latest = _run_dir(tmp_path)
    run = tmp_path / "run"
    assert _quiet(select_checkpoint, run).info.path == best
    assert select_checkpoint(run, prefer="latest").info.path == latest
    best.with_suffix(".json").unlink()  # the probe: the best checkpoint's manifest is missing
    choice = _quiet(select_checkpoint, run)
    assert choice.info.path == latest and choice.role == "latest"
    assert choice.fallback_from.role == "best" and [c.path for c in choice.fallback_from.invalid] == [best]
    assert re.fullmatch(re.escape(f"using {latest} (newest epoch-end checkpoint, epoch 2, step 8), because no valid "
                                  f"best checkpoint in {run / 'checkpoints'}, 1 invalid (newest: "
                                  f"{best.with_suffix('.json')}: manifest missing") + r".*\)", choice.describe())
    with pytest.raises(CheckpointError, match=r"no valid best checkpoint in .*, 1 invalid \(newest: .*best-000000005"):
        select_checkpoint(run, fallback=False)


def test_select_checkpoint_of_a_file_verifies_it_and_never_substitutes(tmp_path):
    _, best, latest = _run_dir(tmp_path)
    choice = select_checkpoint(latest)
    assert choice.role == "file" and choice.info.path == latest
    assert choice.describe() == f"using {latest} (given, epoch-end checkpoint, epoch 2, step 8)"
    assert select_checkpoint(latest.with_suffix(".json")).info.path == latest  # the manifest names it too
    latest.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=re.escape(str(latest))):
        select_checkpoint(latest)
    with pytest.raises(CheckpointError, match="no such checkpoint file or run directory"):
        select_checkpoint(tmp_path / "absent.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=f"^{re.escape(str(tmp_path / 'empty'))}: no checkpoint in"):
        select_checkpoint(tmp_path / "empty")


def test_nothing_valid_at_all_names_both_searches(tmp_path):
    manager, best, latest = _run_dir(tmp_path)
    for path in (best, latest, manager.directory / "ckpt-000000004-epoch.pt"):
        path.with_suffix(".json").write_text('{"format_version": 1}')
    with pytest.raises(CheckpointError) as caught:
        select_checkpoint(tmp_path / "run")
    assert str(caught.value).startswith(f"no valid best checkpoint in {manager.directory}, 1 invalid (newest: ")
    assert f"; no valid checkpoint in {manager.directory}, 2 invalid (newest: {latest.with_suffix('.json')}: " \
           "invalid manifest: 'main' is missing)" in str(caught.value)


def test_load_newest_passes_over_payloads_that_cannot_be_loaded(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(_payload(1), step=1, epoch=0)
    unsafe = manager.save({"obj": Fraction(1, 3)}, step=2, epoch=0)  # valid manifest, not weights-only
    with pytest.warns(RuntimeWarning, match="weights_only=True"):
        choice, payload = manager.load_newest()
    assert choice.info.step == 1 and torch.equal(payload["model"]["w"], torch.ones(2))
    assert [c.path for c in choice.invalid] == [unsafe] and "Fraction" in choice.invalid[0].reason
    assert _quiet(manager.find).info.step == 2  # find checks manifests and hashes, not payloads


def test_load_newest_passes_over_a_missing_shard(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(_payload(1), step=1, epoch=0, shard={"s": torch.zeros(1)})
    newest = manager.save(_payload(2), step=2, epoch=0, shard={"s": torch.ones(1)})
    newest.with_name("ckpt-000000002-step.rank000.pt").unlink()
    with pytest.warns(RuntimeWarning, match=r"rank000\.pt: listed in ckpt-000000002-step\.json but missing"):
        choice, payload = manager.load_newest()
    assert choice.info.step == 1 and torch.equal(payload["shard"]["s"], torch.zeros(1))


def test_resume_auto_starts_fresh_only_without_any_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path / "checkpoints")
    assert find_resume_source(manager, "auto") is None  # no folder yet
    manager.directory.mkdir()
    (manager.directory / ".tmp-ckpt-000000001-step.pt.abcd").write_bytes(b"half")
    assert _quiet(find_resume_source, manager, "auto") is None
    assert find_resume_source(manager, None) is None
    manager.save(_payload(1), step=1, epoch=0)
    manager.save(_payload(2), step=2, epoch=0)
    for manifest in manager.directory.glob("*.json"):
        manifest.write_text('{"format_version": 1}')
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError) as caught:
        find_resume_source(manager, "auto")
    assert str(caught.value).startswith(
        f"no valid checkpoint in {manager.directory}, 2 invalid (newest: {manager.directory}/ckpt-000000002-step.json: "
        "invalid manifest: 'main' is missing); ")
    assert find_resume_source(manager, None) is None
    with pytest.raises(CheckpointError, match="ckpt-000000001-step.json: invalid manifest"):
        find_resume_source(manager, str(manager.directory / "ckpt-000000001-step.pt"))  # explicit: no fallback


# ------------------------------------------------------------------------------------ saving
@pytest.mark.parametrize("full", ["ckpt-000000002-step.pt", "ckpt-000000002-step.json",
                                  "ckpt-000000002-step.rank000.pt"])
def test_a_full_disk_during_a_save_leaves_only_the_older_checkpoints(tmp_path, slr_train_full_disk, full):
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(_payload(1), step=1, epoch=0, shard={"s": torch.zeros(1)})
    before = _names(tmp_path)
    slr_train_full_disk(full, budget=10)
    with pytest.raises(OutputPathError) as caught:
        manager.save(_payload(2), step=2, epoch=0, shard={"s": torch.ones(1)})
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"{tmp_path / full}: cannot write: No space left on device"
    assert _names(tmp_path) == before
    assert _quiet(manager.find).info.step == 1
    slr_train_full_disk(None)
    assert manager.save(_payload(2), step=2, epoch=0).name == "ckpt-000000002-step.pt"


def test_ctrl_c_during_a_save_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    import slr_train.checkpoint as checkpoint

    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save(_payload(1), step=1, epoch=0)
    before = _names(tmp_path)

    def interrupted(path, obj, **kwargs):
        raise KeyboardInterrupt  # after the .pt was written, before its manifest

    monkeypatch.setattr(checkpoint, "atomic_write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        manager.save(_payload(2), step=2, epoch=0)
    assert _names(tmp_path) == before and _quiet(manager.find).info.step == 1


def test_a_save_never_replaces_an_input_and_pruning_keeps_it(tmp_path):
    first = CheckpointManager(tmp_path, keep_last=1)
    source = first.save(_payload(1), step=1, epoch=0)
    manager = CheckpointManager(tmp_path, keep_last=1, inputs=[source, None])
    with pytest.raises(OutputPathError, match="is also an input of this command"):
        manager.save(_payload(9), step=1, epoch=0)
    assert torch.equal(load_checkpoint(source)["model"]["w"], torch.ones(2))
    manager.save(_payload(2), step=2, epoch=0)  # would prune step 1 (keep_last=1), but it is an input
    assert source.is_file() and load_checkpoint(source)["step"] == 1


def test_pruning_keeps_the_checkpoint_just_saved_and_removes_old_incomplete_ones(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=1)
    manager.save(_payload(1), step=1, epoch=0)
    manager.save(_payload(3), step=3, epoch=0)
    (tmp_path / "ckpt-000000003-step.json").unlink()  # step 3 interrupted before its manifest
    stale = tmp_path / "ckpt-000000100-step.json"
    stale.write_text(json.dumps({"format_version": 1}))  # a newer but invalid checkpoint of another run
    saved = manager.save(_payload(5), step=5, epoch=0)
    assert saved.is_file() and saved.with_suffix(".json").is_file()
    assert _names(tmp_path) == ["ckpt-000000005-step.json", "ckpt-000000005-step.pt", stale.name]
    with pytest.warns(RuntimeWarning, match="ckpt-000000100-step"):
        assert manager.latest().step == 5
