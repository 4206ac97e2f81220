"""The pipeline in 2 processes (torchrun, gloo): training runs and evaluation is exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_two_process_training_and_exact_distributed_evaluation(tmp_path: Path, corpus_cache: Path, run_app,
                                                              smoke_args):
    out = tmp_path / "ddp"
    run_app(smoke_args(out, "--nproc-per-node", "2", epochs=3), corpus_cache)
    results = _read_json(out / "results.json")
    assert results["world_size"] == 2 and results["epochs"] == 3
    # Re-score the same checkpoint in one process: every count must be identical.
    proc = run_app(["evaluate", "--checkpoint", str(out), "--out", str(tmp_path / "single")], corpus_cache)
    single = json.loads(proc.stdout.strip().splitlines()[-1])
    for split in ("dev", "test"):
        for key in ("N", "C", "S", "D", "I", "wer"):
            assert single[split][key] == results[split][key], (split, key)
    assert (tmp_path / "single" / "dev.ctm").read_text() == (out / "dev.ctm").read_text()
