from pathlib import Path

import pytest
import yaml
from slr_data import SynthConfig
from slr_models import get_config
from slr_train import TrainConfig

from slr_phoenix.cli import build_parser, resolve_train_config
from slr_phoenix.pipeline import config_differences
from slr_phoenix.settings import AppConfig, ConfigError, builtin_config_path, load_config, parse_override


def test_builtin_configs_resolve_onto_the_packages_dataclasses():
    tiny = load_config("tiny")
    assert tiny.name == "tiny" and tiny.data.corpus == "synthetic"
    assert isinstance(tiny.train, TrainConfig)
    get_config(tiny.model.name, **tiny.model.overrides)  # a registered model
    assert isinstance(tiny.data.synthetic, SynthConfig) and tiny.data.synthetic == SynthConfig()
    base = load_config("base", ["data.root=/somewhere"])
    assert base.model.name == "slr_mamba_base"
    assert (base.train.optim.lr, base.train.optim.weight_decay, base.train.optim.layer_decay) == (1e-3, 0.05, 0.75)
    assert base.train.optim.clip_grad_norm == 5.0 and base.train.ema.decay == 0.9999
    assert base.train.precision.dtype == "bf16" and base.train.optim.grad_accum_steps > 1
    assert base.eval.decoder == "beam" and base.eval.beam_size == 5 and base.eval.protocol == "phoenix2014"


def test_resolved_config_round_trips_through_yaml():
    config = load_config("tiny", ["train.optim.lr=3e-4", "eval.beam_size=3"])
    again = AppConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict())))
    assert again == config
    assert again.train.optim.lr == 3e-4 and again.eval.beam_size == 3


def test_overrides_are_parsed_as_yaml_values():
    assert parse_override("train.optim.epochs=3") == (["train", "optim", "epochs"], 3)
    assert parse_override("data.synthetic={num_train: 5}") == (["data", "synthetic"], {"num_train": 5})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("train.optim.epochs")


@pytest.mark.parametrize("override, message", [
    ("data.bogus=1", r"data.bogus: unknown key \(value 1\)"),
    ("train.optim.lr=-1", "optim.lr: must be > 0"),
    ("data.corpus=phoenix2015", "data.corpus: must be one of"),
    ("eval.splits=[train]", "eval.splits"),
    ("data.corpus=phoenix2014", "needs the corpus folder"),
    ("data.synthetic=foo", "data.synthetic: expected a mapping, got 'foo'"),
    ("model.overrides=[1]", "model.overrides: expected a mapping"),
    ("eval.splits=dev", "eval.splits: expected a list, each a string"),
    ("eval.beam_size=2.5", "eval.beam_size: expected an integer"),
    ("train.engine.deepspeed_config=3", "train.engine.deepspeed_config: expected a string or a mapping or null"),
    ("train.compile=maybe", "train.compile: expected true/false or one of 'auto', got 'maybe'"),
])
def test_bad_values_name_the_file_and_key(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config("tiny", [override])
    assert str(builtin_config_path("tiny")) in str(info.value)


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("true", True), ("false", False)])
def test_train_compile_override(value, expected):
    assert load_config("tiny", [f"train.compile={value}"]).train.compile == expected
    assert load_config("tiny").train.compile is False


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  corpus: synthetic\n  batch_size: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_config(str(path))


def test_user_yaml_file_takes_its_name_from_the_file(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text("train:\n  optim:\n    epochs: 3\n")
    config = load_config(str(path))
    assert config.name == "mine" and config.train.optim.epochs == 3


def test_cli_flags_map_onto_config_keys():
    args = build_parser().parse_args(["train", "--epochs", "4", "--lr", "0.01", "--resume", "none",
                                      "--batch-size", "3", "--set", "train.optim.epochs=5"])
    config = resolve_train_config(args)
    assert config.train.optim.epochs == 5  # --set wins over the flag
    assert config.train.optim.lr == 0.01 and config.data.batch_size == 3
    assert config.train.checkpoint.resume is None


def test_data_root_switches_to_the_real_corpus(tmp_path: Path):
    args = build_parser().parse_args(["train", "--data-root", str(tmp_path)])
    config = resolve_train_config(args)
    assert config.data.corpus == "phoenix2014" and config.data.root == str(tmp_path)


def test_config_differences_ignore_resumable_keys():
    old = load_config("tiny").to_dict()
    assert config_differences(old, load_config("tiny", ["train.optim.epochs=50"]).to_dict()) == []
    changed = config_differences(old, load_config("tiny", ["train.optim.lr=0.1"]).to_dict())
    assert changed == ["train.optim.lr"]
