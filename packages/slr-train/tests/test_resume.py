"""Kill a training process with SIGKILL (or interrupt it with SIGINT) mid-epoch, resume it, and get
bit-identical final weights."""

import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from slr_train import CheckpointManager

SCRIPT = Path(__file__).parent / "testkit" / "slr_train_resume_script.py"


def _run(run_dir, out_file, sleep_s="0"):
    return subprocess.Popen([sys.executable, str(SCRIPT), str(run_dir), str(out_file), sleep_s],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc):
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    return [int(line.split()[1]) for line in out.splitlines() if line.startswith("STEP ")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    steps = _finish(_run(folder / "run", folder / "reference.pt"))
    assert steps == list(range(1, 19))  # 3 epochs x 6 steps (12 batches, 2 per step)
    return torch.load(folder / "reference.pt", weights_only=True)


def _assert_same_as_reference(a, out_file):
    b = torch.load(out_file, weights_only=True)
    for key in a["weights"]:
        assert torch.equal(a["weights"][key], b["weights"][key]), key
    for key in a["ema"]:
        assert torch.equal(a["ema"][key], b["ema"][key]), key
    assert a["history"] == b["history"] and a["best"] == b["best"]


def _stop_at_step(victim, step, sig):
    for line in victim.stdout:
        if line.strip() == f"STEP {step}":
            os.kill(victim.pid, sig)
            break


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path, reference):
    victim = _run(tmp_path / "victim", tmp_path / "victim.pt", sleep_s="0.1")
    _stop_at_step(victim, 9, signal.SIGKILL)  # epoch 2 of 3, step 3 of 6
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "victim.pt").exists()
    latest = CheckpointManager(tmp_path / "victim" / "checkpoints").latest()
    assert latest is not None and 6 <= latest.step <= 9

    resumed_steps = _finish(_run(tmp_path / "victim", tmp_path / "victim.pt"))
    assert resumed_steps == list(range(latest.step + 1, 19))
    _assert_same_as_reference(reference, tmp_path / "victim.pt")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ctrl_c_mid_epoch_is_one_line_exit_130_then_resume_is_bit_identical(tmp_path, reference):
    victim = _run(tmp_path / "victim", tmp_path / "victim.pt", sleep_s="0.1")
    _stop_at_step(victim, 9, signal.SIGINT)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("INTERRUPTED")]
    assert len(lines) == 1 and lines[0].startswith("INTERRUPTED TrainingInterrupted: training interrupted at step ")
    folder = tmp_path / "victim" / "checkpoints"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing partial: no invalid checkpoint to skip
        latest = CheckpointManager(folder).latest()
    assert latest is not None and 6 <= latest.step <= 10 and f"the last checkpoint is {latest.path}" in lines[0]

    resumed_steps = _finish(_run(tmp_path / "victim", tmp_path / "victim.pt"))
    assert resumed_steps == list(range(latest.step + 1, 19))
    _assert_same_as_reference(reference, tmp_path / "victim.pt")
