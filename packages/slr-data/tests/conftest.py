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
