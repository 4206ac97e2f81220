"""The Trainer under faults: Ctrl-C mid-epoch, a full disk at a checkpoint, invalid checkpoints on resume.

Each run trains 2 epochs of 4 steps (checkpoints at steps 3 and 6, and 4 and 8 at the epoch ends);
after each fault the resumed run must end with the same weights as one uninterrupted run.
"""

import dataclasses
import errno
import json

import pytest
import torch

from slr_train import (CheckpointError, OutputPathError, Trainer, TrainingInterrupted, TrainSet,
                       load_checkpoint)


def _trainer(kit, cfg, run_dir, on_step=None, seed=0):
    torch.manual_seed(seed)
    data = kit.FakeDataset(16, seed=0)
    train = TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate, kit.sampler_factory(4))
    return Trainer(kit.FakeCTCModel(), cfg, train, run_dir, on_step=on_step)


def _weights(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items() if k != "calls"}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Final weights of the uninterrupted run."""
    import slr_train_testkit as kit

    trainer = _trainer(kit, kit.tiny_train_config(), tmp_path_factory.mktemp("reference"))
    assert trainer.fit().global_step == 8
    return _weights(trainer)


def _only_complete_checkpoints(folder):
    """Every file is part of a checkpoint whose manifest verifies; no temp files, no orphans."""
    names = sorted(p.name for p in folder.iterdir())
    stems = {n.split(".")[0] for n in names}
    for stem in stems:
        assert f"{stem}.json" in names and f"{stem}.pt" in names, names
    for stem in stems:
        assert load_checkpoint(folder / f"{stem}.pt")["step"] == int(stem.split("-")[1])
    assert not [n for n in names if n.startswith(".")]
    return sorted(stems)


def test_ctrl_c_mid_epoch_stops_cleanly_and_the_resume_is_exact(slr_train_kit, slr_train_tiny_config, tmp_path,
                                                                reference):
    def interrupt(step, metrics):
        if step == 7:
            raise KeyboardInterrupt  # what SIGINT does in the main thread

    with pytest.raises(KeyboardInterrupt) as caught:
        _trainer(slr_train_kit, slr_train_tiny_config, tmp_path, interrupt).fit()
    stop = caught.value
    assert isinstance(stop, TrainingInterrupted)
    last = tmp_path / "checkpoints" / "ckpt-000000006-step.pt"
    assert (stop.step, stop.epoch, stop.last_checkpoint) == (7, 1, last)
    assert str(stop) == (f"training interrupted at step 7 (epoch 2, batch 3 of 4); the last checkpoint is {last} "
                         "(checkpoint.resume='auto' continues from it)")
    assert _only_complete_checkpoints(tmp_path / "checkpoints") == ["ckpt-000000004-epoch", "ckpt-000000006-step"]

    resumed = _trainer(slr_train_kit, slr_train_tiny_config, tmp_path, seed=1)
    assert resumed.fit().global_step == 8
    assert resumed.resume_source.path == last
    assert resumed.resume_source.describe() == (f"resuming from {last} (newest step checkpoint, epoch 1, step 6)")
    _assert_same(_weights(resumed), reference)


def test_ctrl_c_before_any_checkpoint_says_so(slr_train_kit, slr_train_tiny_config, tmp_path):
    def interrupt(step, metrics):
        raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="at step 1 .*; no checkpoint was written yet") as caught:
        _trainer(slr_train_kit, slr_train_tiny_config, tmp_path, interrupt).fit()
    assert caught.value.last_checkpoint is None and not list((tmp_path / "checkpoints").glob("*"))


def test_a_full_disk_at_a_checkpoint_is_one_error_and_the_resume_is_exact(slr_train_kit, slr_train_tiny_config,
                                                                          tmp_path, reference, slr_train_full_disk):
    slr_train_full_disk("ckpt-000000006-step.pt", budget=1000)
    with pytest.raises(OSError) as caught:
        _trainer(slr_train_kit, slr_train_tiny_config, tmp_path).fit()
    target = tmp_path / "checkpoints" / "ckpt-000000006-step.pt"
    assert isinstance(caught.value, OutputPathError) and caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert _only_complete_checkpoints(tmp_path / "checkpoints") == ["ckpt-000000003-step", "ckpt-000000004-epoch"]

    slr_train_full_disk(None)  # space freed
    resumed = _trainer(slr_train_kit, slr_train_tiny_config, tmp_path, seed=1)
    resumed.fit()
    assert resumed.resume_source.path.name == "ckpt-000000004-epoch.pt"
    _assert_same(_weights(resumed), reference)


def test_resume_auto_passes_over_an_invalid_newest_checkpoint(slr_train_kit, slr_train_tiny_config, tmp_path,
                                                              reference):
    first = _trainer(slr_train_kit, slr_train_tiny_config, tmp_path)
    first.fit()
    folder = tmp_path / "checkpoints"
    (folder / "ckpt-000000008-epoch.json").write_text(json.dumps({"format_version": 1}))  # the probe
    resumed = _trainer(slr_train_kit, slr_train_tiny_config, tmp_path, seed=1)
    with pytest.warns(RuntimeWarning, match="ckpt-000000008-epoch.json: invalid manifest: 'main' is missing"):
        assert resumed.fit().global_step == 8
    choice = resumed.resume_source.choice
    assert choice.info.step == 6 and [c.step for c in choice.invalid] == [8]
    assert "newest valid step checkpoint, epoch 1, step 6); passed over 1 invalid newer checkpoint: " \
           in resumed.resume_source.describe()
    _assert_same(_weights(resumed), reference)


def test_resume_auto_refuses_when_every_checkpoint_is_invalid(slr_train_kit, slr_train_tiny_config, tmp_path):
    _trainer(slr_train_kit, slr_train_tiny_config, tmp_path).fit()
    folder = tmp_path / "checkpoints"
    (folder / "ckpt-000000008-epoch.pt").write_bytes(b"corrupt")
    (folder / "ckpt-000000006-step.json").unlink()
    again = _trainer(slr_train_kit, slr_train_tiny_config, tmp_path)
    with pytest.warns(RuntimeWarning), pytest.raises(CheckpointError) as caught:
        again.fit()
    assert str(caught.value).startswith(
        f"no valid checkpoint in {folder}, 2 invalid (newest: {folder}/ckpt-000000008-epoch.pt: 7 bytes, manifest says")
    fresh = dataclasses.replace(slr_train_tiny_config, checkpoint=dataclasses.replace(
        slr_train_tiny_config.checkpoint, resume="none"))
    assert fresh.checkpoint.resume is None
    result = _trainer(slr_train_kit, fresh, tmp_path).fit()
    assert result.global_step == 8 and result.last_checkpoint == folder / "ckpt-000000008-epoch.pt"
