"""`slr-phoenix train` / `evaluate` / `predict` end to end on a small synthetic corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from slr_metrics import read_ctm, read_stm

pytestmark = pytest.mark.slow


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_training_learns_and_leaves_a_complete_run_directory(trained_run: Path):
    results = _read_json(trained_run / "results.json")
    assert results["epochs"] == 16 and 1 <= results["best_epoch"] <= 16
    for split in ("dev", "test"):
        assert results[split]["wer"] < 40.0, results  # far below the 100 % of an untrained model
        assert results[split]["N"] > 0
    for name in ("config.yaml", "vocab.json", "history.json", "dev.stm", "test.stm", "dev.ctm", "test.ctm",
                 "dev.sys.txt", "dev.pra", "dev.json", "test.sys.txt", "plots/loss.png", "plots/wer.png"):
        assert (trained_run / name).is_file(), name
    assert list((trained_run / "checkpoints").glob("best-*.pt"))
    assert list((trained_run / "tensorboard").iterdir())
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"]["name"] == "slr_mamba_tiny" and config["train"]["optim"]["epochs"] == 16
    # The CTM covers the STM's utterances and the report matches results.json.
    refs = {seg.utt_id for seg in read_stm(trained_run / "dev.stm")}
    assert set(read_ctm(trained_run / "dev.ctm")) <= refs
    assert json.loads((trained_run / "dev.json").read_text())["wer"] == pytest.approx(results["dev"]["wer"])
    report = (trained_run / "report.html").read_text()  # the run report shows results.json's numbers
    for split in ("dev", "test"):
        wer = json.dumps(results[split]["wer"])
        assert f'data-split="{split}" data-key="wer" data-value="{wer}"' in report


def test_evaluate_rescoring_reproduces_the_run(trained_run: Path, corpus_cache: Path, tmp_path: Path,
                                                run_app):
    proc = run_app(["evaluate", "--checkpoint", str(trained_run), "--out", str(tmp_path)], corpus_cache)
    rescored = json.loads(proc.stdout.strip().splitlines()[-1])
    results = _read_json(trained_run / "results.json")
    for split in ("dev", "test"):
        assert rescored[split]["wer"] == pytest.approx(results[split]["wer"])
    assert (tmp_path / "dev.ctm").read_text() == (trained_run / "dev.ctm").read_text()


def test_predict_prints_the_glosses_of_unseen_videos(trained_run: Path, corpus_cache: Path, run_app):
    frames = sorted(corpus_cache.glob("synthetic/*/phoenix-2014-multisigner/features/*/test/*/1"))[:2]
    assert len(frames) == 2
    proc = run_app(["predict", "--checkpoint", str(trained_run), "--json", *map(str, frames)], corpus_cache)
    lines = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [line["video"] for line in lines] == [str(f) for f in frames]
    hyps = read_ctm(trained_run / "test.ctm")
    for line, folder in zip(lines, frames):
        assert line["frames"] > 0
        assert line["glosses"] == hyps.get(folder.parent.name, []), line  # same as the test evaluation


def test_predict_reads_a_video_file_like_its_frame_folder(trained_run: Path, corpus_cache: Path, tmp_path: Path,
                                                          run_app):
    import cv2

    folder = sorted(corpus_cache.glob("synthetic/*/phoenix-2014-multisigner/features/*/test/*/1"))[0]
    images = [cv2.imread(str(f)) for f in sorted(folder.glob("*.png"))]
    video = tmp_path / "clip.avi"
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 25, (width, height))  # lossless
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write FFV1 video")
    for image in images:
        writer.write(image)
    writer.release()
    proc = run_app(["predict", "--checkpoint", str(trained_run), "--json", str(folder), str(video)], corpus_cache)
    from_folder, from_video = (json.loads(line) for line in proc.stdout.strip().splitlines())
    assert from_video["frames"] == from_folder["frames"] == len(images)
    assert from_video["glosses"] == from_folder["glosses"]


def test_predict_names_a_missing_video(trained_run: Path, corpus_cache: Path, tmp_path: Path, run_app):
    missing = tmp_path / "no-such-video.mp4"
    proc = run_app(["predict", "--checkpoint", str(trained_run), str(missing)], corpus_cache, check=False)
    assert proc.returncode == 2
    assert str(missing) in proc.stderr


def test_a_corrupt_frame_fails_evaluation_with_the_file_name(trained_run: Path, corpus_cache: Path,
                                                             tmp_path: Path, run_app):
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(corpus_cache, cache)
    frame = sorted(cache.glob("synthetic/*/phoenix-2014-multisigner/features/*/dev/*/1/*.png"))[0]
    frame.write_bytes(b"not a png")
    proc = run_app(["evaluate", "--checkpoint", str(trained_run), "--split", "dev", "--out", str(tmp_path / "o")],
                   cache, check=False)
    assert proc.returncode != 0
    assert frame.name in proc.stderr
    assert not (tmp_path / "o" / "dev.ctm").exists()  # no WER was reported
