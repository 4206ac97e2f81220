"""``pip install packages/slr-metrics`` in a fresh venv gives a working ``slr-score`` without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from slr_metrics import write_ctm, write_stm

PACKAGE = Path(__file__).resolve().parents[1]
_OFFLINE = (
    "Failed to establish a new connection",
    "No matching distribution found",
    "Could not find a version",
)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fresh_venv_install_without_torch(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(PACKAGE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 and any(marker in proc.stdout + proc.stderr for marker in _OFFLINE):
        pytest.skip(f"no package index reachable for hatchling: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]

    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    names = {item["name"].lower() for item in json.loads(listed)}
    assert "torch" not in names and "numpy" not in names and "slr-metrics" in names
    assert names <= {"pip", "setuptools", "wheel", "slr-metrics"}, names

    write_stm(tmp_path / "ref.stm", {"u1": "A B C D E".split(), "u2": ["X"]})
    write_ctm(tmp_path / "hyp.ctm", {"u1": "X Y Z A B".split()})
    run = subprocess.run(
        [
            str(env_dir / "bin" / "slr-score"),
            "--ref",
            str(tmp_path / "ref.stm"),
            "--hyp",
            str(tmp_path / "hyp.ctm"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["N"], out["C"], out["S"], out["D"], out["I"]) == (6, 2, 0, 4, 3)

    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import slr_metrics, sys; slr_metrics.WERAccumulator('phoenix2014'); "
            "print('torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"
    assert sys.executable != str(python)
