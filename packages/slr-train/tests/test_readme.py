"""The README's quick-start example runs as written (and resumes as a no-op when run again)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_start_example_runs_and_resumes(tmp_path):
    pytest.importorskip("slr_models")
    data = pytest.importorskip("slr_data")
    if not all(hasattr(data, n) for n in ("LengthBucketBatchSampler", "VideoSample", "collate_packed")):
        pytest.skip("slr_data does not export the contract's sampler/collate names yet")
    script = tmp_path / "example.py"
    script.write_text(_quick_start())
    first = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=500)
    assert first.returncode == 0, first.stderr[-3000:]
    found = re.search(r"best dev WER (\d+\.\d) % \((raw|ema) weights, epoch [1-8]\)", first.stdout)
    assert found and float(found.group(1)) < 50.0, first.stdout
    run = tmp_path / "runs" / "example"
    assert (run / "history.json").is_file() and list((run / "checkpoints").glob("best-*.pt"))
    assert list((run / "tensorboard").glob("events.*"))
    second = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=500)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.splitlines()[-1] == first.stdout.splitlines()[-1]
