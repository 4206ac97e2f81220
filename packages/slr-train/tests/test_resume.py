"""Kill a training process with SIGKILL mid-epoch, resume it, and get bit-identical final weights."""

import os
import signal
import subprocess
import sys
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


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    reference = _run(tmp_path / "reference", tmp_path / "reference.pt")
    steps = _finish(reference)
    assert steps == list(range(1, 19))  # 3 epochs x 6 steps (12 batches, 2 per step)

    victim = _run(tmp_path / "victim", tmp_path / "victim.pt", sleep_s="0.1")
    for line in victim.stdout:
        if line.strip() == "STEP 9":  # epoch 2 of 3, step 3 of 6
            os.kill(victim.pid, signal.SIGKILL)
            break
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "victim.pt").exists()
    latest = CheckpointManager(tmp_path / "victim" / "checkpoints").latest()
    assert latest is not None and 6 <= latest.step <= 9

    resumed_steps = _finish(_run(tmp_path / "victim", tmp_path / "victim.pt"))
    assert resumed_steps == list(range(latest.step + 1, 19))

    a = torch.load(tmp_path / "reference.pt", weights_only=True)
    b = torch.load(tmp_path / "victim.pt", weights_only=True)
    for key in a["weights"]:
        assert torch.equal(a["weights"][key], b["weights"][key]), key
    for key in a["ema"]:
        assert torch.equal(a["ema"][key], b["ema"][key]), key
    assert a["history"] == b["history"] and a["best"] == b["best"]
