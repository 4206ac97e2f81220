"""``data.keypoints``: keypoint heatmaps as extra model input, in training, evaluation and checkpoints."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from slr_data import SynthConfig, generate_synthetic_corpus
from slr_phoenix.cli import EXIT_BAD_INPUT, main
from slr_phoenix.data import build_run_data, keypoints_path, prepare_corpus
from slr_phoenix.settings import AppConfig, ConfigError, DataSettings, ModelSettings, load_config

SMALL = SynthConfig(num_train=6, num_dev=2, num_test=2, vocab_size=5, image_size=32, num_signers=2,
                    gloss_frames=(3, 4), sentence_glosses=(1, 2))


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    """A small synthetic corpus on disk with its TwoStream-style keypoint pickle."""
    return generate_synthetic_corpus(tmp_path_factory.mktemp("kp") / "corpus", SMALL, keypoints=True).root


def _keypoint_file(corpus_dir: Path) -> Path:
    return next(corpus_dir.glob("phoenix-2014-keypoints_*.pkl"))


def _settings(corpus_dir: Path, **fields) -> DataSettings:
    return DataSettings(corpus="phoenix2014", root=str(corpus_dir), keypoints=str(_keypoint_file(corpus_dir)),
                        batch_size=2, **fields)


def test_the_model_gets_the_datas_heatmap_channels(corpus_dir):
    config = AppConfig(data=_settings(corpus_dir))
    assert config.model.overrides["heatmap_channels"] == 1  # default: one map of face, mouth and hands
    grouped = AppConfig(data=_settings(corpus_dir, heatmaps={"merge": "group"}))
    assert grouped.model.overrides["heatmap_channels"] == 3
    every = AppConfig(data=_settings(corpus_dir, heatmaps={"groups": ["hands"], "merge": "none"}))
    assert every.model.overrides["heatmap_channels"] == 42
    assert AppConfig.from_dict(config.to_dict()) == config  # the saved config.yaml reads back the same
    assert "heatmap_channels" not in AppConfig().model.overrides  # frames only: nothing added


@pytest.mark.parametrize(
    ("data", "model", "expected"),
    [
        ({"keypoints": "kp.pkl"}, {"heatmap_channels": 3},
         r"heatmap_channels: 3, but data.keypoints gives 1 heatmap channel\(s\) per frame"),
        ({}, {"heatmap_channels": 1},
         "heatmap_channels: 1 needs keypoint heatmaps, but data.keypoints is not set"),
        ({"keypoints": "synthetic", "corpus": "phoenix2014", "root": "/x"}, {},
         "data.keypoints: 'synthetic'"),
        ({"keypoints": "kp.pkl", "heatmaps": {"merge": "sum"}}, {}, "data.heatmaps.merge: must be one of"),
        ({"keypoints": "kp.pkl", "heatmaps": {"colour": 1}}, {},
         r"data.heatmaps.colour: unknown key \(value 1\); the keys of data.heatmaps are size, sigma"),
        ({"keypoints": "kp.pkl", "keypoint_frame_size": "256"}, {}, "data.keypoint_frame_size: must be WxH"),
    ],
)
def test_inconsistent_keypoint_settings_are_config_errors(data, model, expected):
    with pytest.raises(ConfigError, match=expected):
        AppConfig(data=DataSettings(**data), model=ModelSettings(overrides=model))


def test_a_yaml_override_naming_the_keys_reaches_the_cli(tmp_path, capsys):
    config = load_config("tiny", ["data.keypoints=synthetic", "data.heatmaps.merge=group"])
    assert config.model.overrides["heatmap_channels"] == 3
    code = main(["train", "--print-config", "--set", "data.keypoints=kp.pkl",
                 "--set", "model.overrides.heatmap_channels=5"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "model.overrides.heatmap_channels: 5" in err and "Traceback" not in err


def test_train_and_eval_batches_carry_heatmaps_of_the_sampled_frames(corpus_dir):
    settings = _settings(corpus_dir, keypoint_frame_size="256x256", preload=False)
    config = AppConfig(data=settings)
    corpus = prepare_corpus(settings)
    data = build_run_data(corpus, settings, img_size=32, seed=0)
    sample = data.train.dataset[0]
    assert sample.heatmaps.shape == (len(sample.frames), 1, 32, 32)
    assert float(sample.heatmaps.amax(dim=(1, 2, 3)).min()) > 0.5  # the head and hands are in every frame
    for split in ("dev", "test"):
        batch = data.evals[split].collate_fn([data.evals[split].dataset[i] for i in range(2)])
        assert batch.heatmaps.shape[:2] == (batch.frames.shape[0], config.model.overrides["heatmap_channels"])


def test_the_synthetic_keyword_generates_the_corpus_keypoints(tmp_path):
    settings = DataSettings(synthetic=SMALL.to_dict(), cache_dir=str(tmp_path), keypoints="synthetic")
    corpus = prepare_corpus(settings)
    path = keypoints_path(settings)
    assert path.is_file() and path.parent == corpus.root.parent.parent  # <cache>/synthetic/<key>/
    assert len(pickle.loads(path.read_bytes())) == sum(len(corpus[split]) for split in corpus)


def test_a_missing_keypoint_file_or_video_ends_the_run_with_exit_2(corpus_dir, tmp_path, capsys):
    base = ["train", "--out", str(tmp_path / "run"), "--no-progress", "--epochs", "1",
            "--data-root", str(corpus_dir)]
    missing = tmp_path / "nowhere.pkl"
    code = main([*base, "--set", f"data.keypoints={missing}"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and f"data.keypoints: {missing}: no such keypoint file" in err
    partial = tmp_path / "partial.pkl"
    data = pickle.loads(_keypoint_file(corpus_dir).read_bytes())
    gone = sorted(data)[0]
    del data[gone]
    partial.write_bytes(pickle.dumps(data))
    code = main([*base, "--set", f"data.keypoints={partial}"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert err.startswith(f"slr-phoenix train: error: {partial}: no keypoints for video")
    assert gone in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow  # 7-25 s on 2 cores
def test_a_run_with_keypoints_trains_evaluates_and_predict_refuses(corpus_dir, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--out", str(run), "--no-progress", "--epochs", "1", "--batch-size", "3",
                 "--data-root", str(corpus_dir), "--set", f"data.keypoints={_keypoint_file(corpus_dir)}",
                 "--set", "eval.beam_size=2"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((run / "results.json").read_text())
    assert results["epochs"] == 1 and results["dev"]["N"] > 0 and results["test"]["N"] > 0
    checkpoint = next((run / "checkpoints").glob("best-*.pt"))
    payload = torch.load(checkpoint, weights_only=True, map_location="cpu")
    assert payload["extra"]["model"]["heatmap_channels"] == 1
    assert payload["extra"]["app_config"]["data"]["keypoints"] == str(_keypoint_file(corpus_dir))
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run), "--out", str(tmp_path / "rescore"), "--split", "dev",
                 "--beam-size", "2"]) == 0  # rebuilds the eval set with the run's keypoints
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["dev"]["wer"] == results["dev"]["wer"]
    frames = sorted(corpus_dir.glob("phoenix-2014-multisigner/features/*/test/*/1"))[0]
    code = main(["predict", "--checkpoint", str(run), str(frames)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "trained with keypoint heatmaps" in err and "evaluate" in err
    assert len(err.strip().splitlines()) == 1
