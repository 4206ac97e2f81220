"""CTC feasibility on the real PHOENIX-2014 train metadata (skipped when the metadata is absent)."""

import os
from pathlib import Path

import pytest
import torch

from slr_train import check_ctc_feasibility


def _phoenix_meta() -> Path | None:
    env = os.environ.get("SLR_PHOENIX2014_META")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for ancestor in Path(__file__).resolve().parents:
        for candidate in (ancestor / "shared/data/phoenix2014", ancestor.parent / "shared/data/phoenix2014"):
            if (candidate / "train_info.npy").is_file():
                return candidate
    return None


@pytest.fixture(scope="module")
def slr_train_phoenix_train():
    meta = _phoenix_meta()
    if meta is None:
        pytest.skip("PHOENIX-2014 metadata not found (set SLR_PHOENIX2014_META or provide shared/data/phoenix2014)")
    slr_data = pytest.importorskip("slr_data")
    info = slr_data.load_info(meta / "train_info.npy")
    items = [info[k] for k in sorted(k for k in info if isinstance(k, int))]  # int keys plus "prefix"
    vocab: dict[str, int] = {}
    labels = [[vocab.setdefault(g, len(vocab) + 1) for g in item["label"].split()] for item in items]
    return [item["fileid"] for item in items], [int(item["num_frames"]) for item in items], labels


@pytest.mark.parametrize("stride", [4, 8])
def test_feasibility_on_phoenix_train(slr_train_phoenix_train, stride):
    ids, frames, labels = slr_train_phoenix_train
    assert len(ids) > 5000
    report = check_ctc_feasibility(ids, frames, labels, lambda t: torch.div(t, stride, rounding_mode="floor"))
    expected = set()
    for i, (n, label) in enumerate(zip(frames, labels)):
        repeats = sum(a == b for a, b in zip(label, label[1:]))
        if n // stride < len(label) + repeats:
            expected.add(ids[i])
    assert {s.video_id for s in report.infeasible} == expected
    shortfalls = [s.shortfall for s in report.infeasible]
    assert shortfalls == sorted(shortfalls, reverse=True)
    if stride == 4:  # the usual 4x temporal pooling aligns every training video
        assert not report.infeasible
    else:
        assert report.infeasible and f"{len(expected)} of {len(ids)} samples" in report.format()
