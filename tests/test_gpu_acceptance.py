"""The GPU acceptance script's CPU dry run: every step runs and the result files are complete.

On a GPU machine the same script installs the fast path from carried files and measures; here
(CI, no GPU) ``--smoke-cpu`` walks the same code with tiny sizes so the script cannot rot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_acceptance_smoke_cpu(tmp_path):
    proc = subprocess.run([sys.executable, "benchmarks/gpu_acceptance.py", "run", "--smoke-cpu", "--out",
                           str(tmp_path), "--budget-s", "1200"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1300)  # generous caps: a loaded 2-core CI machine; ~25 s when idle
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_acceptance.json").read_text())
    steps = {s["step"]: s["status"] for s in result["steps"]}
    assert steps == {"install fast path": "ok", "backends": "ok", "cuda tests": "ok",
                     "train steps slr_mamba_tiny": "ok", "train steps mamba_slr_tiny": "ok",
                     "slr-phoenix train": "ok"}, steps
    assert {op["op"] for op in result["backends"]["ops"]} == {"ssd_scan", "add_norm", "rms_norm_gated",
                                                             "causal_conv1d"}
    assert result["cuda_tests"].get("skipped", 0) > 0 and not result["cuda_tests"].get("failed")
    for model in ("slr_mamba_tiny", "mamba_slr_tiny"):
        rows = [r for r in result["train_steps"][model]["train_step"] if "backend" in r]
        assert [r["backend"] for r in rows] == ["reference", "mamba_ssm"]
        assert all(r["frames_per_s"] > 0 for r in rows)
    assert 0 <= result["phoenix_train"]["dev"]["wer"] <= 100 and result["phoenix_train"]["epochs"] == 1
    markdown = (tmp_path / "gpu_acceptance.md").read_text()
    assert "| slr_mamba_tiny | mamba_ssm |" in markdown and "slr-phoenix train" in markdown
    assert (tmp_path / "gpu_acceptance.log").stat().st_size > 0
