"""``.ci/package_envs.py`` builds environments that hold only what a package declares.

Each build links into the shared environment (this interpreter's), so it takes about a second.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "package_envs.py"


def _load():
    spec = importlib.util.spec_from_file_location("slr_ci_package_envs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


package_envs = _load()

PROBE = """
import importlib.util, json, sys
names = sys.argv[1:]
print(json.dumps({n: importlib.util.find_spec(n) is not None for n in names}))
"""


def _importable(python: Path, *names: str) -> dict[str, bool]:
    import json

    out = subprocess.run([str(python), "-c", PROBE, *names], capture_output=True, text=True, check=True,
                         env=package_envs.isolated_environ(), timeout=60)
    return json.loads(out.stdout)


def _shared_env() -> Path:
    if sys.prefix == sys.base_prefix:
        pytest.skip("not running in a virtual environment to link from")
    return Path(sys.prefix)


def test_slr_metrics_env_has_no_torch(tmp_path):
    python = package_envs.build("slr-metrics", tmp_path / "env", _shared_env())
    seen = _importable(python, "slr_metrics", "pytest", "jiwer", "torch", "numpy", "slr_data", "slr_models",
                       "yaml")
    assert seen == {"slr_metrics": True, "pytest": True, "jiwer": True, "torch": False, "numpy": False,
                    "slr_data": False, "slr_models": False, "yaml": False}
    # The package comes from this checkout's src/, with metadata and its console script.
    code = ("import slr_metrics, importlib.metadata as m; print(slr_metrics.__file__); "
            "print(m.version('slr-metrics') == slr_metrics.__version__)")
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         env=package_envs.isolated_environ(), timeout=60).stdout.split()
    assert out == [str(ROOT / "packages" / "slr-metrics" / "src" / "slr_metrics" / "__init__.py"), "True"]
    proc = subprocess.run([str(python.parent / "slr-score"), "--help"], capture_output=True, text=True,
                          env=package_envs.isolated_environ(), timeout=60)
    assert proc.returncode == 0 and "usage" in proc.stdout.lower(), proc.stderr
    # Without the test group (what a user's install of the package alone holds) no pytest either.
    bare = package_envs.build("slr-metrics", tmp_path / "bare", _shared_env(), with_tests=False)
    assert _importable(bare, "pytest", "jiwer", "slr_metrics") == {"pytest": False, "jiwer": False,
                                                                   "slr_metrics": True}


def test_slr_data_env_has_torch_but_no_other_slr_package(tmp_path):
    python = package_envs.build("slr-data", tmp_path / "env", _shared_env(), with_tests=False)
    seen = _importable(python, "slr_data", "torch", "cv2", "numpy", "slr_models", "slr_metrics", "slr_train",
                       "torchaudio", "deepspeed")
    assert seen == {"slr_data": True, "torch": True, "cv2": True, "numpy": True, "slr_models": False,
                    "slr_metrics": False, "slr_train": False, "torchaudio": False, "deepspeed": False}


def test_resolve_follows_workspace_extras_and_names_what_is_missing(tmp_path):
    members = package_envs.workspace()
    site = package_envs.site_packages(_shared_env())
    res = package_envs.resolve([("slr-metrics[dist]", "test")], members, site)
    # torch and what torch requires (sympy, ...), but not numpy, which torch does not require
    assert set(res.members) == {"slr-metrics"} and {"torch", "sympy"} <= set(res.dists)
    assert "numpy" not in res.dists
    res = package_envs.resolve([("slr-train", "test")], members, site)
    assert set(res.members) == {"slr-train", "slr-models", "slr-metrics"}
    with pytest.raises(package_envs.EnvError, match="no-such-dist-xyz.*lacks"):
        package_envs.resolve([("no-such-dist-xyz>=1", "pkg/pyproject.toml")], members, site)
    with pytest.raises(package_envs.EnvError, match="extra 'nope'"):
        package_envs.resolve([("slr-metrics[nope]", "test")], members, site)
