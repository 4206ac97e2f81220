"""slr-train test fixtures; the fakes live in testkit/slr_train_testkit.py (importable by workers)."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

TESTKIT = Path(__file__).parent / "testkit"
if str(TESTKIT) not in sys.path:
    sys.path.insert(0, str(TESTKIT))

import slr_train_testkit as kit  # noqa: E402


@pytest.fixture
def slr_train_kit():
    """The fake model / dataset / sampler / scorer module."""
    return kit


@pytest.fixture
def slr_train_tiny_config():
    """A TrainConfig for fast, deterministic CPU runs of the fake model."""
    return kit.tiny_train_config()


class _FullDiskFile:
    """A temp file whose writes fail with ENOSPC once ``budget`` bytes are written (like a full disk)."""

    def __init__(self, f, budget: int) -> None:
        self._f, self._budget = f, budget

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if len(view) > self._budget:
            self._f.write(view[: self._budget])
            self._budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(view)
        return self._f.write(view)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()


@pytest.fixture
def slr_train_full_disk(monkeypatch):
    """``fill(match, budget=100)``: atomic writes of files whose name contains ``match`` hit a full disk
    after ``budget`` bytes (the temp file gets that much, then ENOSPC); ``fill(None)`` frees it again.
    Returns the list of target names that failed."""
    from slr_train import atomic

    real_open_temp = atomic._open_temp
    state = {"match": None, "budget": 0}
    failed: list[str] = []

    def open_temp(target, mode):
        f, tmp = real_open_temp(target, mode)
        if state["match"] is not None and state["match"] in target.name:
            failed.append(target.name)
            return _FullDiskFile(f, state["budget"]), tmp
        return f, tmp

    monkeypatch.setattr(atomic, "_open_temp", open_temp)

    def fill(match, budget: int = 100):
        state["match"], state["budget"] = match, budget
        return failed

    return fill
