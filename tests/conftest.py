"""Cross-package integration tests: the apps/phoenix pipeline end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A corpus the tiny model learns in about a minute on 2 CPU cores.
SMOKE_SYNTH = ("{num_train: 96, num_dev: 16, num_test: 16, vocab_size: 8, image_size: 32, num_signers: 3, "
               "gloss_frames: [4, 6], sentence_glosses: [2, 3], clutter: 2, noise_std: 3.0}")


def _smoke_args(out: Path, *extra: str, epochs: int = 16) -> list[str]:
    return ["train", "--out", str(out), "--no-progress", "--epochs", str(epochs), "--batch-size", "4",
            "--lr", "4e-3", "--set", f"data.synthetic={SMOKE_SYNTH}", *extra]


def _run_app(args: list[str], cache: Path, timeout: float = 600, check: bool = True,
            threads: int | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SLR_CACHE_DIR=str(cache), PYTHONUNBUFFERED="1")
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.run([sys.executable, "-m", "slr_phoenix", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"slr-phoenix {' '.join(args)} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-8000:]}")
    return proc


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def run_app():
    """``run_app(args, cache, timeout=600, check=True, threads=None)``: run ``python -m slr_phoenix``."""
    return _run_app


@pytest.fixture(scope="session")
def smoke_synth() -> str:
    """``data.synthetic`` of the smoke configuration (a YAML mapping)."""
    return SMOKE_SYNTH


@pytest.fixture(scope="session")
def smoke_args():
    """``smoke_args(out, *extra, epochs=16)``: train arguments of the smoke configuration."""
    return _smoke_args


@pytest.fixture(scope="session")
def corpus_cache(tmp_path_factory) -> Path:
    """One synthetic-corpus cache shared by every integration test of the session."""
    return tmp_path_factory.mktemp("slr-cache")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, corpus_cache) -> Path:
    """A finished 1-process run of the smoke config (trained once per session)."""
    out = tmp_path_factory.mktemp("runs") / "smoke"
    _run_app(_smoke_args(out), corpus_cache)
    return out
