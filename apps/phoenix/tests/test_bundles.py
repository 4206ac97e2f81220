"""slr-model bundles in the app: ``evaluate`` / ``predict --checkpoint BUNDLE``, ``train --init-from BUNDLE``.

The bundle is the slr-models fixture produced by the original Mamba_SLR code (32 px, 11 classes,
GLOSS1..GLOSS10), imported here with ``slr-models import-mamba-slr``. Its weights are random, so the
tests check that every path gives exactly what its model computes on its preprocessing, not WERs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from slr_data import EvalTransformConfig, read_video
from slr_data.transforms import VideoTransform
from slr_metrics import read_ctm
from slr_models import CTCBeamDecoder
from slr_models.cli import main as slr_models_main
from slr_models.interop import load_bundle, model_from_bundle, read_gloss_dict
from slr_train import Trainer

from slr_phoenix import pipeline
from slr_phoenix.cli import EXIT_BAD_INPUT, main

FIXTURES = Path(__file__).resolve().parents[3] / "packages" / "slr-models" / "tests" / "data" / "mamba_slr"
GLOSSES = [f"GLOSS{i}" for i in range(1, 11)]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "mamba_slr.pt"
    code = slr_models_main(["import-mamba-slr", str(FIXTURES / "amp" / "checkpoint-best.pth"),
                            "--gloss-dict", str(FIXTURES / "gloss_dict.npy"), "--out", str(out)])
    assert code == 0
    return out


def write_release_corpus(root: Path, glosses: list[str], frame_tree: str = "256x256px", seed: int = 0) -> Path:
    """A PHOENIX-2014 release folder (corpus CSVs + PNG frames, no STMs) with random frames and labels."""
    rng = np.random.default_rng(seed)
    release = root / "phoenix-2014-multisigner"
    (release / "annotations" / "manual").mkdir(parents=True)
    for split, count in (("train", 4), ("dev", 3), ("test", 3)):
        lines = ["id|folder|signer|annotation"]
        for index in range(count):
            video = f"{split}{index:02d}"
            folder = release / "features" / f"fullFrame-{frame_tree}" / split / video / "1"
            folder.mkdir(parents=True)
            for t in range(int(rng.integers(6, 12))):
                frame = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
                cv2.imwrite(str(folder / f"{video}.avi_pid0_fn{t:06d}-0.png"), frame)
            label = " ".join(rng.choice(glosses, size=3, replace=False))
            lines.append(f"{video}|{video}/1/*.png|Signer0{index % 2 + 1}|{label}")
        (release / "annotations" / "manual" / f"{split}.corpus.csv").write_text("\n".join(lines) + "\n")
    return release


@pytest.fixture(scope="module")
def gloss_corpus(tmp_path_factory) -> Path:
    return write_release_corpus(tmp_path_factory.mktemp("corpus"), GLOSSES)


def direct_glosses(bundle_path: Path, frame_dir: Path) -> list[str]:
    """What the bundle's model outputs on a video under its own preprocessing (no app code)."""
    payload = load_bundle(bundle_path)
    pre = payload["preprocessing"]
    transform = VideoTransform(EvalTransformConfig(size=pre["crop"], resize=pre["resize"], crop_mode="center",
                                                   mean=tuple(pre["mean"]), std=tuple(pre["std"])))
    model = model_from_bundle(payload)
    frames = transform(read_video(frame_dir)).frames  # every frame, (T, 3, 32, 32)
    with torch.no_grad():
        output = model(frames, torch.tensor([frames.shape[0]]))
    ids = CTCBeamDecoder(beam_size=5).decode(output.log_probs, output.lengths)[0]
    return [payload["glosses"][i - 1] for i in ids]


def _frame_dirs(release: Path, split: str) -> list[Path]:
    return sorted((release / "features" / "fullFrame-256x256px" / split).glob("*/1"))


def test_predict_with_a_bundle_is_its_model_on_its_preprocessing(bundle: Path, gloss_corpus: Path, capsys):
    dirs = _frame_dirs(gloss_corpus, "dev")
    assert main(["predict", "--checkpoint", str(bundle), "--json", *map(str, dirs)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["video"] for line in lines] == [str(d) for d in dirs]
    for line, folder in zip(lines, dirs):
        assert line["frames"] == len(list(folder.glob("*.png")))
        assert line["glosses"] == direct_glosses(bundle, folder)
        assert set(line["glosses"]) <= set(GLOSSES)


def test_evaluate_a_bundle_on_a_phoenix_format_corpus_of_its_glosses(bundle: Path, gloss_corpus: Path,
                                                                    tmp_path: Path, capsys, caplog):
    assert read_gloss_dict(FIXTURES / "gloss_dict.npy") == GLOSSES
    out = tmp_path / "scores"
    with caplog.at_level(logging.INFO, logger="slr_phoenix.inference"):
        code = main(["evaluate", "--checkpoint", str(bundle), "--data-root", str(gloss_corpus.parent),
                     "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == json.loads((out / "rescore.json").read_text())
    assert printed["checkpoint_meta"]["kind"] == "bundle"
    assert printed["checkpoint_meta"]["source"]["codebase"] == "Mamba_SLR"
    for split in ("dev", "test"):
        hyps = read_ctm(out / f"{split}.ctm")
        for folder in _frame_dirs(gloss_corpus, split):  # the batched evaluation = the model, video by video
            assert hyps.get(folder.parent.name, []) == direct_glosses(bundle, folder), folder
        csv = gloss_corpus / "annotations" / "manual" / f"{split}.corpus.csv"
        references = csv.read_text().splitlines()[1:]
        assert printed[split]["N"] == sum(len(line.split("|")[3].split()) for line in references)
        assert printed[split]["utterances"] == 3
    # the release layout builds its vocabulary from train (sorted, fewer glosses): the bundle's is used
    assert "differs from the bundle's (10, in its id order); the bundle's is used" in caplog.text


def _one_line_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"slr-phoenix {argv[0]}: error: ")
    return err


def test_evaluate_a_bundle_needs_data_root(bundle: Path, capsys):
    err = _one_line_error(capsys, ["evaluate", "--checkpoint", str(bundle)])
    assert f"{bundle}: a model bundle names no corpus: give --data-root" in err


def test_evaluate_a_bundle_refuses_a_corpus_of_other_glosses(bundle: Path, tmp_path: Path, capsys):
    release = write_release_corpus(tmp_path, ["REGEN", "SONNE", "WIND", "GLOSS1"], seed=1)
    err = _one_line_error(capsys, ["evaluate", "--checkpoint", str(bundle), "--data-root", str(release),
                                   "--split", "dev", "--out", str(tmp_path / "out")])
    assert f"{bundle}: " in err
    assert "of the dev references are not in the bundle's vocabulary of 10 glosses" in err
    assert "REGEN" in err and "GLOSS1," not in err
    assert not (tmp_path / "out").exists()


def test_evaluate_a_bundle_names_missing_frames_of_its_frame_tree(bundle: Path, tmp_path: Path, capsys):
    release = write_release_corpus(tmp_path, GLOSSES, frame_tree="210x260px")  # the bundle wants 256x256px
    err = _one_line_error(capsys, ["evaluate", "--checkpoint", str(bundle), "--data-root", str(release)])
    assert "fullFrame-256x256px" in err and "does not exist" in err


def test_a_bundle_whose_crop_is_not_its_model_input_is_refused(bundle: Path, tmp_path: Path, capsys):
    payload = torch.load(bundle, weights_only=True)
    payload["preprocessing"]["crop"] = 224  # a 32 px model
    bad = tmp_path / "bad.pt"
    torch.save(payload, bad)
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), np.zeros((8, 8, 3), np.uint8))
    err = _one_line_error(capsys, ["predict", "--checkpoint", str(bad), str(frames)])
    assert f"{bad}: the bundle's preprocessing crops 224 px, but its model takes 32 px frames" in err


def test_a_mamba_slr_checkpoint_itself_says_to_import_it(capsys, tmp_path: Path):
    original = FIXTURES / "amp" / "checkpoint-best.pth"
    err = _one_line_error(capsys, ["predict", "--checkpoint", str(original), str(tmp_path)])
    assert f"{original}: neither an slr-train checkpoint" in err and "slr-models import-mamba-slr" in err


class _RecordingTrainer(Trainer):
    """Keeps the model's weights as they are when the first step would start."""

    started: list[dict[str, torch.Tensor]] = []

    def _setup(self):
        report = super()._setup()
        type(self).started.append({k: v.detach().clone() for k, v in self.engine.module.state_dict().items()})
        return report


def test_train_init_from_a_bundle_starts_at_its_weights(bundle: Path, tmp_path: Path, monkeypatch, caplog):
    # 10 synthetic glosses (__ON__, __OFF__ + 8) + blank = the fixture's 11 classes, so the head is kept too
    synth = ("{num_train: 6, num_dev: 3, num_test: 3, vocab_size: 10, image_size: 32, num_signers: 2, "
             "gloss_frames: [3, 4], sentence_glosses: [2, 3]}")
    monkeypatch.setattr(pipeline, "Trainer", _RecordingTrainer)
    _RecordingTrainer.started.clear()
    argv = ["train", "--config", "mamba_slr", "--out", str(tmp_path / "run"), "--no-progress", "--epochs", "1",
            "--init-from", str(bundle), "--set", "data.corpus=synthetic", "--set", f"data.synthetic={synth}",
            "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "model.name=mamba_slr_tiny",
            "--set", "model.overrides={d_model: 32, headdim: 8}", "--set", "train.precision.dtype=fp32",
            "--set", "train.loader.num_workers=0", "--set", "train.loader.pin_memory=false",
            "--set", "eval.splits=[]", "--set", "train.ema.evaluate=raw"]
    with caplog.at_level(logging.INFO, logger="slr_train.trainer"):
        assert main(argv) == 0
    expected = load_bundle(bundle)["state_dict"]
    (started,) = _RecordingTrainer.started
    assert started.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(started[name], value), name
    assert (f"initialised the model from {bundle.resolve()} (slr-model bundle of mamba_slr_import, from "
            f"Mamba_SLR): {len(expected)} tensors loaded, 0 left at their initial values") in caplog.text
