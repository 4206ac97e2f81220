"""Kill the training process with SIGKILL mid-run, resume, and end with identical weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from slr_train import load_checkpoint

pytestmark = pytest.mark.slow

DETERMINISTIC = ("--set", "train.deterministic=true", "--set", "train.checkpoint.every_steps=4",
                 "--set", "eval.splits=[dev]")


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    ckpts = sorted((run / "checkpoints").glob("ckpt-*-epoch.pt"), key=lambda p: int(p.name.split("-")[1]))
    return load_checkpoint(ckpts[-1])["engine"]["model"]


def test_sigkill_and_resume_give_the_weights_of_an_uninterrupted_run(tmp_path: Path, corpus_cache: Path, run_app,
                                                                   smoke_args):
    epochs = 3
    reference = tmp_path / "uninterrupted"
    run_app(smoke_args(reference, *DETERMINISTIC, epochs=epochs), corpus_cache, threads=1)

    killed = tmp_path / "killed"
    env = dict(os.environ, SLR_CACHE_DIR=str(corpus_cache), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "slr_phoenix", *smoke_args(killed, *DETERMINISTIC, epochs=epochs)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        # Kill once a mid-epoch step checkpoint exists (and before the run can finish).
        while time.time() < deadline and proc.poll() is None:
            if list(killed.glob("checkpoints/ckpt-*-step.json")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "results.json").exists()

    run_app(smoke_args(killed, *DETERMINISTIC, epochs=epochs), corpus_cache, threads=1)  # --resume auto
    expected, resumed = _final_weights(reference), _final_weights(killed)
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(expected[name], resumed[name]), name
    assert (killed / "dev.ctm").read_text() == (reference / "dev.ctm").read_text()
