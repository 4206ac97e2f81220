"""``slr-phoenix train --init-from``: the flag, its config key and runs started from other weights."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml
from slr_train import CheckpointManager, Trainer, eval_model_state

from slr_phoenix import pipeline
from slr_phoenix.cli import EXIT_BAD_INPUT, build_parser, main, resolve_train_config
from slr_phoenix.settings import ConfigError, load_config

# A corpus slr_mamba_tiny trains one epoch on in a few seconds.
TINY_SYNTH = ("{num_train: 8, num_dev: 4, num_test: 4, vocab_size: 6, image_size: 32, num_signers: 2, "
              "gloss_frames: [4, 5], sentence_glosses: [2, 3]}")


def _train_args(out: Path, cache: Path, *extra: str) -> list[str]:
    return ["train", "--out", str(out), "--no-progress", "--epochs", "1", "--batch-size", "4",
            "--set", f"data.synthetic={TINY_SYNTH}", "--set", f"data.cache_dir={cache}", "--set", "eval.splits=[]",
            "--set", "eval.decoder=greedy", *extra]


def test_the_flag_sets_train_init_from_path_to_the_resolved_file(tmp_path: Path, monkeypatch):
    weights = tmp_path / "pre.pth"
    torch.save({"model": {}}, weights)
    monkeypatch.chdir(tmp_path)
    config = resolve_train_config(build_parser().parse_args(["train", "--init-from", "pre.pth"]))
    assert config.train.init_from.path == str(weights.resolve())
    assert config.to_dict()["train"]["init_from"]["path"] == str(weights.resolve())  # saved in config.yaml
    assert load_config("tiny").train.init_from.path is None  # default: no init
    ds = tmp_path / "checkpoint-best"
    ds.mkdir()
    torch.save({"module": {}}, ds / "mp_rank_00_model_states.pt")
    config = resolve_train_config(build_parser().parse_args(["train", "--init-from", str(ds)]))
    assert config.train.init_from.path == str((ds / "mp_rank_00_model_states.pt").resolve())
    run = tmp_path / "run"
    best = CheckpointManager(run / "checkpoints").save({"model": {}, "weights": "raw"}, step=5, epoch=1, kind="best")
    config = resolve_train_config(build_parser().parse_args(["train", "--init-from", str(run)]))
    assert config.train.init_from.path == str(best.resolve())


def test_a_missing_init_file_is_a_one_line_error(tmp_path: Path, capsys):
    code = main(["train", "--print-config", "--init-from", str(tmp_path / "nowhere.pth")])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1
    assert err.startswith("slr-phoenix train: error: --init-from ") and "nowhere.pth" in err


def test_linear_256_lr_scaling_needs_a_batch_size():
    with pytest.raises(ConfigError, match=r"data.batch_size: train.optim.lr_scaling='linear_256' scales"):
        load_config("tiny", ["train.optim.lr_scaling=linear_256", "data.batch_size=null", "data.max_frames=64"])
    config = load_config("tiny", ["train.optim.lr_scaling=linear_256", "train.optim.warmup_lr=1e-4",
                                  "train.loss.reduction=mean_per_target", "train.optim.lr_schedule=mamba_slr"])
    assert config.train.optim.lr_scaling == "linear_256" and config.train.loss.reduction == "mean_per_target"


class _RecordingTrainer(Trainer):
    """Keeps the model's weights as they are when the first step would start (after any resume)."""

    started: list[dict[str, torch.Tensor]] = []

    def _setup(self):
        report = super()._setup()
        type(self).started.append({k: v.detach().clone() for k, v in self.engine.module.state_dict().items()})
        return report


@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> tuple[Path, Path]:
    cache = tmp_path_factory.mktemp("cache")
    run = tmp_path_factory.mktemp("runs") / "source"
    assert main(_train_args(run, cache)) == 0
    return run, cache


@pytest.mark.slow  # two short training runs and a resume (about 30 s on 2 busy cores)
def test_a_run_initialised_from_another_run_starts_at_its_weights(source_run, tmp_path: Path, monkeypatch, caplog):
    source, cache = source_run
    monkeypatch.setattr(pipeline, "Trainer", _RecordingTrainer)
    _RecordingTrainer.started.clear()
    out = tmp_path / "from-source"
    with caplog.at_level(logging.INFO, logger="slr_train.trainer"):
        assert main(_train_args(out, cache, "--init-from", str(source), "--seed", "7")) == 0
    best = next((source / "checkpoints").glob("best-*.pt"))
    expected = eval_model_state(str(best))
    (started,) = _RecordingTrainer.started
    assert started.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(started[name], value), name
    assert f"initialised the model from {best.resolve()} (slr-train best checkpoint" in caplog.text
    assert f"{len(expected)} tensors loaded, 0 left at their initial values, 0 of the file ignored" in caplog.text
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["init_from"]["path"] == str(best.resolve())

    # the same command again resumes the finished run: the init weights are not loaded over it
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="slr_train.trainer"):
        assert main(_train_args(out, cache, "--init-from", str(source), "--seed", "7")) == 0
    assert "not applied: the run resumes from" in caplog.text
    resumed = _RecordingTrainer.started[1]
    last = sorted((out / "checkpoints").glob("ckpt-*-epoch.pt"))[-1]
    trained = torch.load(last, weights_only=True)["engine"]["model"]
    for name, value in trained.items():
        assert torch.equal(resumed[name], value), name
    assert not torch.equal(resumed["head.weight"], started["head.weight"])


def test_weights_that_do_not_fit_fail_before_the_run_directory_is_written(tmp_path: Path, capsys):
    from slr_models import create_model

    weights = create_model("slr_mamba_tiny", 7).state_dict()  # the tiny config's model, 6 glosses + blank
    name = next(k for k in weights if k.endswith(".ffn.fc1.weight"))
    weights[name] = torch.zeros(3, 3)
    bad = tmp_path / "bad.pth"
    torch.save({"model_ema": weights}, bad)
    out = tmp_path / "run"
    code = main(_train_args(out, tmp_path / "cache", "--init-from", str(bad)))
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1
    assert f"{bad}: 1 tensor(s) do not fit the model: {name} is (3, 3) in the file" in err
    assert not out.exists()


def test_resuming_without_the_runs_init_from_says_which_one_it_had(tmp_path: Path):
    started = load_config("tiny", ["train.init_from.path=/weights/pre.pth"])
    pipeline.prepare_run_dir(tmp_path, started)
    pipeline.prepare_run_dir(tmp_path, started)  # the same command again: fine
    with pytest.raises(ConfigError, match=r"differs in train.init_from.path\); it was started with --init-from "
                                          r"/weights/pre.pth: give that again to continue it"):
        pipeline.prepare_run_dir(tmp_path, load_config("tiny"))


def test_a_run_directory_from_before_the_recipe_keys_still_resumes(tmp_path: Path):
    config = load_config("tiny")
    old = config.to_dict()
    for key in ("warmup_lr", "lr_schedule", "lr_scaling"):
        del old["train"]["optim"][key]
    del old["train"]["loss"], old["train"]["init_from"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    pipeline.prepare_run_dir(tmp_path, config)  # no "different config" refusal
    with pytest.raises(ConfigError, match="differs in train.loss.reduction"):
        pipeline.prepare_run_dir(tmp_path, load_config("tiny", ["train.loss.reduction=mean_per_target"]))
