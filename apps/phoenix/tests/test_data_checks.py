"""Real-corpus preparation: frame folders are checked before training; data.frames_root relocates them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from slr_data import FrameReadError, SynthConfig, eval_preset, generate_synthetic_corpus
from slr_phoenix.data import eval_transform_config, prepare_corpus
from slr_phoenix.settings import DataSettings

SMALL = SynthConfig(num_train=6, num_dev=2, num_test=2, vocab_size=5, image_size=16, num_signers=2)


@pytest.fixture()
def moved_frames(tmp_path: Path) -> tuple[Path, Path]:
    """Preprocessed metadata (``*_info.npy``) whose frame tree was moved elsewhere."""
    generated = generate_synthetic_corpus(tmp_path / "corpus", SMALL)
    features = generated.release_root / "features" / "fullFrame-210x260px"
    moved = tmp_path / "elsewhere" / "fullFrame-210x260px"
    moved.parent.mkdir()
    shutil.move(str(features), str(moved))
    return generated.preprocess_dir, moved


def test_metadata_without_frames_fails_up_front_naming_a_folder_and_the_count(moved_frames):
    info_dir, _ = moved_frames
    with pytest.raises(FrameReadError, match=r"does not exist \(10 of the corpus' 10 videos have none\)") as info:
        prepare_corpus(DataSettings(corpus="phoenix2014", root=str(info_dir)))
    assert "train_info.npy" in str(info.value) and "data.frames_root" in str(info.value)


def test_frames_root_points_the_metadata_at_the_moved_frames(moved_frames):
    info_dir, moved = moved_frames
    corpus = prepare_corpus(DataSettings(corpus="phoenix2014", root=str(info_dir), frames_root=str(moved)))
    assert sum(len(corpus[split]) for split in corpus) == 10
    assert all(Path(r.frame_dir).is_dir() and str(r.frame_dir).startswith(str(moved)) for r in corpus["train"])


def test_on_error_skip_only_warns(moved_frames, caplog):
    info_dir, _ = moved_frames
    with caplog.at_level(logging.WARNING, logger="slr_phoenix.data"):
        corpus = prepare_corpus(DataSettings(corpus="phoenix2014", root=str(info_dir), on_error="skip"))
    assert len(corpus["train"]) == 6
    assert "they will be skipped" in caplog.text


def test_one_missing_folder_is_named_with_its_info_entry(tmp_path: Path):
    generated = generate_synthetic_corpus(tmp_path / "corpus", SMALL)
    corpus = prepare_corpus(DataSettings(corpus="phoenix2014", root=str(generated.preprocess_dir)))
    gone = corpus["dev"][1]
    shutil.rmtree(gone.frame_dir)
    with pytest.raises(FrameReadError, match=r"\(1 of the corpus' 10 videos have none\)") as info:
        prepare_corpus(DataSettings(corpus="phoenix2014", root=str(generated.preprocess_dir)))
    assert info.value.path == str(gone.frame_dir) and gone.source in str(info.value)


@pytest.mark.parametrize("augment", ["phoenix", "synthetic"])
def test_eval_transform_sees_what_the_train_profile_sees(augment):
    """The eval sets use the profile's matching eval (the mean train crop); it equals
    ``eval_preset(img)``, which ``checkpoint_extra`` stores, so predict/evaluate see the same."""
    config = eval_transform_config(DataSettings(augment=augment), 32)
    assert config == eval_preset(32, augment) == eval_preset(32) and config.crop_mode == "train_mean"
