"""Installing and finding the fast path: install plans, the lazy mamba_ssm package, the backends report."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from slr_models.cli import main as cli
from slr_models.fastpath import CAUSAL_CONV1D, MAMBA_SSM, install_fast_path, plan_download, plan_install

MAMBA_INSTALLED = importlib.util.find_spec("mamba_ssm") is not None


def test_install_plan_builds_mamba_without_cuda_isolation_or_deps():
    plan = plan_install(python="py", quiet=True)
    build = plan.commands[-1]
    assert build[:3] == ("py", "-m", "pip") and build[-1] == MAMBA_SSM
    assert {"--no-build-isolation", "--no-deps"} <= set(build)
    assert plan.env["MAMBA_SKIP_CUDA_BUILD"] == "TRUE" and plan.env["MAMBA_FORCE_BUILD"] == "TRUE"
    assert not any(CAUSAL_CONV1D in c for c in plan.commands)
    with_conv = plan_install(python="py", causal_conv1d=True, find_links="/carry")
    assert with_conv.commands[-1][-1] == CAUSAL_CONV1D
    assert all(("--no-index" in c and "/carry" in c) for c in with_conv.commands)  # offline: never the index


def test_download_plan_takes_sources_only_for_mamba():
    plan = plan_download("/dir")
    sdists, wheels = plan.commands
    assert "--no-binary" in sdists and MAMBA_SSM in sdists and "-d" in sdists
    assert "--only-binary" in wheels and "einops" in wheels


def test_install_fast_path_argument_errors(tmp_path):
    lines = []
    assert install_fast_path(find_links=str(tmp_path / "missing"), echo=lines.append) == 2
    assert "no such folder" in lines[-1]


@pytest.mark.skipif(not MAMBA_INSTALLED, reason="mamba-ssm is not installed")
def test_if_missing_is_a_no_op_when_installed(capsys):
    assert cli(["install-fast-path", "--if-missing"]) == 0
    assert "nothing to do" in capsys.readouterr().err


@pytest.mark.skipif(not MAMBA_INSTALLED, reason="mamba-ssm is not installed")
def test_kernels_import_without_running_mamba_ssm_init():
    """In a fresh process: the Triton kernels load, the CUDA-only __init__ never ran, and a name only
    the full package has is an ImportError that says why (on a Triton-only install)."""
    code = """
import sys
from slr_models.ops import available_backends
print(available_backends()["mamba_ssm"], available_backends()["triton"])
print("mamba_ssm.ops.selective_scan_interface" in sys.modules, "transformers" in sys.modules)
import mamba_ssm
print(mamba_ssm.__version__)
try:
    mamba_ssm.Mamba2
    print("full package")
except ImportError as exc:
    print("ImportError", "slr_models loaded only its Triton kernels" in str(exc))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = out.stdout.split("\n")
    assert lines[0] == "True True", out.stderr
    assert lines[1] == "False False"
    assert lines[2] == "2.3.2.post1"
    assert lines[3] in ("ImportError True", "full package")


@pytest.mark.skipif(not MAMBA_INSTALLED, reason="mamba-ssm is not installed")
def test_backends_report_says_what_auto_runs_and_why(capsys):
    assert cli(["backends", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ops = {op["op"]: op for op in report["ops"]}
    assert set(ops) == {"ssd_scan", "add_norm", "rms_norm_gated", "causal_conv1d"}
    assert report["mamba_ssm_version"] == "2.3.2.post1"
    assert all(op["fast_importable"] for op in ops.values())
    if not report["cuda"]:
        assert all(op["auto"] == "reference" for op in ops.values())
        assert "Triton kernel importable" in ops["ssd_scan"]["reason"] and "no CUDA device" in ops["ssd_scan"]["reason"]
    assert cli(["backends"]) == 0
    text = capsys.readouterr().out
    assert "ssd_scan" in text and "importable fast kernels: mamba_ssm=yes" in text


def test_explicit_fast_backend_on_cpu_without_interpreter_says_how():
    import torch
    from slr_models.ops import causal_conv1d, ssd_scan
    from slr_models.ops._backends import available_backends, fast_kernels

    if fast_kernels().interpreted or not available_backends()["mamba_ssm"]:
        pytest.skip("needs mamba-ssm loaded without the interpreter")
    x = torch.randn(1, 8, 2, 4)
    with pytest.raises(RuntimeError, match="needs every input on a CUDA device.*TRITON_INTERPRET=1"):
        ssd_scan(x, torch.rand(1, 8, 2), -torch.ones(2), torch.randn(1, 8, 1, 3), torch.randn(1, 8, 1, 3),
                 backend="mamba_ssm")
    with pytest.raises(RuntimeError, match="backend 'triton' needs every input on a CUDA device"):
        causal_conv1d(torch.randn(1, 8, 5), torch.randn(8, 4), backend="triton")
