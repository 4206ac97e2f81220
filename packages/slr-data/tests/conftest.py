"""Fixtures of the slr-data tests (names prefixed ``slr_data_`` to avoid clashes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_META_FILES = ("train_info.npy", "dev_info.npy", "test_info.npy", "gloss_dict.npy")


def find_phoenix_meta() -> Path | None:
    """The real PHOENIX-2014 metadata folder: $SLR_PHOENIX2014_META, else ``shared/data/phoenix2014``
    found upward from this file (``<ancestor>/shared/...`` or ``<ancestor>/../shared/...``)."""
    env = os.environ.get("SLR_PHOENIX2014_META")
    if env:
        return Path(env) if Path(env, "train_info.npy").is_file() else None
    here = Path(__file__).resolve()
    for ancestor in here.parents:
        for candidate in (
            ancestor / "shared" / "data" / "phoenix2014",
            ancestor.parent / "shared" / "data" / "phoenix2014",
        ):
            if all((candidate / name).is_file() for name in _META_FILES):
                return candidate
    return None


@pytest.fixture(scope="session")
def slr_data_phoenix_meta() -> Path:
    """Folder with the real PHOENIX-2014 info/gloss_dict/STM files; skips when absent."""
    found = find_phoenix_meta()
    if found is None:
        pytest.skip(
            "real PHOENIX-2014 metadata not found (set SLR_PHOENIX2014_META or provide "
            "shared/data/phoenix2014 above the repository)"
        )
    return found


@pytest.fixture(scope="session")
def slr_data_tiny_corpus(tmp_path_factory) -> Path:
    """A tiny synthetic PHOENIX-format corpus, generated once per session."""
    from slr_data.synth import SynthConfig, generate_synthetic_corpus

    out = tmp_path_factory.mktemp("slr_data_synth") / "corpus"
    generate_synthetic_corpus(out, SynthConfig.tiny())
    return out


_PROBE_SCRIPT = r"""
import importlib, json, resource, sys, time

probes = json.loads(sys.argv[1])
headroom = int(sys.argv[2])
import slr_data  # the heavy imports (torch, cv2) happen before the limit

def vm_size():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

limit = vm_size() + headroom
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
results = []
for target, args, kwargs in probes:
    module, name = target.split(":")
    func = getattr(importlib.import_module(module), name)
    start = time.perf_counter()
    try:
        value = func(*args, **kwargs)
        result = {"ok": True, "value": repr(value)[:200]}
    except BaseException as exc:
        result = {"ok": False, "type": type(exc).__name__, "message": str(exc)}
    result["seconds"] = time.perf_counter() - start
    results.append(result)
print(json.dumps(results))
"""


@pytest.fixture
def slr_data_bounded_probe():
    """Run ``[("module:function", args, kwargs), ...]`` in a fresh interpreter whose address space
    is capped at what it uses after importing slr_data plus ``headroom`` bytes (default 100 MiB):
    a reader that allocates what a hostile file declares fails with MemoryError instead of
    eating the machine. Returns one dict per probe: ``ok``, and ``type`` / ``message``."""
    import json
    import subprocess
    import sys

    def run(probes, headroom=100 << 20):
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="1")
        done = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT, json.dumps(probes), str(headroom)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
