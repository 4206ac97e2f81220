"""Fixtures of the slr-metrics tests (names prefixed ``slr_metrics_`` to avoid clashes).

The helper modules next to this file (``metrics_cases``, ``sclite_runner``) are loaded by path,
since pytest runs with ``--import-mode=importlib`` and test folders are not packages.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
_STM_FILES = ("phoenix2014-groundtruth-dev.stm", "phoenix2014-groundtruth-test.stm")


def _load(name: str) -> ModuleType:
    unique = f"_slr_metrics_tests_{name}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def slr_metrics_cases() -> ModuleType:
    """The deterministic case generators (``metrics_cases.py``)."""
    return _load("metrics_cases")


@pytest.fixture(scope="session")
def slr_metrics_runner() -> ModuleType:
    """Helpers that run the real sclite (``sclite_runner.py``)."""
    return _load("sclite_runner")


@pytest.fixture(scope="session")
def slr_metrics_sclite(slr_metrics_runner) -> str:
    """Path of the sclite binary ($SCLITE, PATH, /usr/lib/sctk/bin/sclite); skips when absent."""
    found = slr_metrics_runner.find_sclite()
    if found is None:
        pytest.skip(
            "sclite not found (install Debian 'sctk' or set SCLITE); committed expected outputs still run"
        )
    return found


@pytest.fixture(scope="session")
def slr_metrics_expected():
    """Loader of a committed expected-output JSON under ``tests/data``."""

    def load(name: str) -> dict:
        return json.loads((HERE / "data" / name).read_text(encoding="utf-8"))

    return load


@pytest.fixture(scope="session")
def slr_metrics_data_dir() -> Path:
    return HERE / "data"


def _find_phoenix_meta() -> Path | None:
    env = os.environ.get("SLR_PHOENIX2014_META")
    if env:
        return Path(env) if all(Path(env, f).is_file() for f in _STM_FILES) else None
    for ancestor in HERE.parents:
        for candidate in (
            ancestor / "shared" / "data" / "phoenix2014",
            ancestor.parent / "shared" / "data" / "phoenix2014",
        ):
            if all((candidate / f).is_file() for f in _STM_FILES):
                return candidate
    return None


@pytest.fixture(scope="session")
def slr_metrics_phoenix_meta() -> Path:
    """Folder holding the official PHOENIX-2014 STM files; skips when absent."""
    found = _find_phoenix_meta()
    if found is None:
        pytest.skip(
            "PHOENIX-2014 metadata not found (set SLR_PHOENIX2014_META or provide shared/data/phoenix2014)"
        )
    return found
