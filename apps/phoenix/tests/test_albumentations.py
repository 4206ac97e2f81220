"""``data.augment: albumentations``: the run trains on the user's own albumentations pipeline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("albumentations")

from slr_data import AlbumentationsConfig, AlbumentationsVideoTransform, SynthConfig, eval_preset  # noqa: E402
from slr_data import generate_synthetic_corpus  # noqa: E402
from slr_phoenix.cli import EXIT_BAD_INPUT, main  # noqa: E402
from slr_phoenix.data import (  # noqa: E402
    build_run_data,
    eval_transform_config,
    prepare_corpus,
    train_transform_config,
)
from slr_phoenix.settings import AppConfig, ConfigError, DataSettings, load_config  # noqa: E402

MODULE = "slr_phoenix_albu_factories"
FACTORY = f"{MODULE}:augment_32"
SMALL = SynthConfig(num_train=4, num_dev=2, num_test=2, vocab_size=5, image_size=32, num_signers=2,
                    gloss_frames=(3, 4), sentence_glosses=(1, 2))


@pytest.fixture(scope="module", autouse=True)
def factory_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("albu_app")
    (folder / f"{MODULE}.py").write_text(
        "import albumentations as A\n\n"
        "def augment_32():\n"
        "    return A.Compose([A.RandomResizedCrop((32, 32), scale=(0.6, 1.0)), A.Rotate(limit=20, p=1.0),\n"
        "                      A.RandomBrightnessContrast(p=1.0)])\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop(MODULE, None)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return generate_synthetic_corpus(tmp_path_factory.mktemp("albu") / "corpus", SMALL).root


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"augment": "albumentations"},
         "data.albumentations_factory: needed with data.augment: albumentations"),
        ({"augment": "phoenix", "albumentations_factory": FACTORY},
         "data.albumentations_factory: is only used with data.augment: albumentations"),
        ({"augment": "albumentations", "albumentations_factory": "my_augment.py"},
         "data.albumentations_factory: albumentations factory 'my_augment.py': expected an import path"),
        ({"augment": "albumentation"}, r"data.augment: must be one of \(.*'albumentations'\)"),
    ],
)
def test_bad_albumentations_settings_are_config_errors(data, expected):
    with pytest.raises(ConfigError, match=expected):
        DataSettings(**data)


def test_the_config_selects_the_pipeline_and_round_trips():
    config = load_config("tiny", ["data.augment=albumentations", f"data.albumentations_factory={FACTORY}"])
    assert AppConfig.from_dict(config.to_dict()) == config  # the saved config.yaml reads back the same
    train = train_transform_config(config.data, 32)
    assert train == AlbumentationsConfig(FACTORY, size=32)
    assert eval_transform_config(config.data, 32) == eval_preset(32, "phoenix")
    assert train_transform_config(DataSettings(augment="phoenix"), 32).to_dict()["kind"] == "train"


def test_the_run_data_trains_on_the_users_pipeline(corpus_dir):
    settings = DataSettings(corpus="phoenix2014", root=str(corpus_dir), augment="albumentations",
                            albumentations_factory=FACTORY, batch_size=2, preload=False)
    data = build_run_data(prepare_corpus(settings), settings, img_size=32, seed=0)
    dataset = data.train.dataset
    assert isinstance(dataset.transform, AlbumentationsVideoTransform) and dataset.train
    sample = dataset[0]
    assert sample.frames.shape[1:] == (3, 32, 32) and sample.frames.dtype == torch.float32
    torch.manual_seed(0)
    first = dataset[1].frames
    torch.manual_seed(0)
    assert torch.equal(dataset[1].frames, first)  # seeded from torch's (per-worker) RNG
    torch.manual_seed(1)
    assert not torch.equal(dataset[1].frames, first)
    evaluated = data.evals["dev"].dataset
    assert evaluated.transform.config == eval_preset(32, "phoenix") and not evaluated.train
    assert np.isfinite(sample.frames.numpy()).all()


def test_a_factory_that_does_not_import_ends_train_with_exit_2(corpus_dir, tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "run"), "--no-progress", "--epochs", "1",
                 "--data-root", str(corpus_dir), "--set", "data.augment=albumentations",
                 "--set", "data.albumentations_factory=slr_no_such_module_xyz:make"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert "albumentations factory 'slr_no_such_module_xyz:make': cannot import module" in err
    assert not (tmp_path / "run" / "checkpoints").exists()
