"""Every user mistake in a config is found when it is loaded: one line naming the dotted key, the
value and what is allowed; through ``load_config`` and ``slr-phoenix train --print-config`` (exit 2),
before any data is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
import slr_data
import slr_data.synth.writer
import slr_phoenix.data
import slr_phoenix.pipeline
import yaml
from slr_data import SynthConfig, TemporalConfig
from slr_phoenix.cli import EXIT_BAD_INPUT, main
from slr_phoenix.pipeline import prepare_run_dir
from slr_phoenix.settings import (
    BUILTIN_CONFIGS,
    AppConfig,
    ConfigError,
    DataSettings,
    HeatmapSettings,
    ModelSettings,
    builtin_config_path,
    load_config,
    read_yaml,
    resolve_model_config,
)

OLD_CONFIG = Path(__file__).parent / "data" / "config_before_typed_sections.yaml"
REAL = ["data.corpus=phoenix2014", "data.root=/corpus"]

# (overrides, texts the one-line error must contain: the dotted key first)
CASES = {
    # unknown key at each nesting level, with a close-match suggestion where there is one
    "unknown top-level key": (["bogus=1"],
                              ["bogus: unknown key (value 1)", "name, data, model, train, eval"]),
    "unknown data key": (["data.corpuss=synthetic"], ["data.corpuss: unknown key", "did you mean 'corpus'?"]),
    "unknown temporal key": (["data.temporal.rescal=0.1"],
                             ["data.temporal.rescal: unknown key (value 0.1)", "min_frames", "'rescale'?"]),
    "unknown synthetic key": (["data.synthetic.num_trian=5"], ["data.synthetic.num_trian", "'num_train'?"]),
    "unknown heatmap key": (["data.heatmaps.colour=1"], ["data.heatmaps.colour: unknown key", "sigma"]),
    "unknown model key": (["model.nme=x"], ["model.nme: unknown key", "'name'?"]),
    "unknown model override": (["model.overrides.dept=3"], ["model.overrides.dept: unknown key", "'depth'?"]),
    "unknown train key": (["train.optim.lrr=1"], ["train.optim.lrr: unknown key", "'lr'?"]),
    "unknown eval key": (["eval.protocl=phoenix2014"], ["eval.protocl: unknown key", "'protocol'?"]),
    # wrong types
    "string for int": (["data.batch_size='8'"], ["data.batch_size: expected an integer or null, got '8'"]),
    "string for temporal int": (["data.temporal.frame_interval=two"],
                                ["data.temporal.frame_interval: expected an integer, got 'two'"]),
    "string for model int": (["model.overrides.depth='2'"], ["model.overrides.depth: expected an integer"]),
    "list for mapping": (["data.temporal=[1, 2]"],
                         ["data.temporal: expected a mapping, got [1, 2]", "rescale"]),
    "list for heatmaps": (["data.heatmaps=[1]"], ["data.heatmaps: expected a mapping"]),
    "list for overrides": (["model.overrides=[1]"], ["model.overrides: expected a mapping"]),
    "string for data": (["data=tiny"], ["data: expected a mapping, got 'tiny'"]),
    "mapping for number": (["train.optim.lr={a: 1}"], ["train.optim.lr: expected a number"]),
    # negative / zero where positive is needed
    "zero batch size": (["data.batch_size=0"], ["data.batch_size: must be >= 1", "got 0"]),
    "negative frame budget": (["data.max_frames=-5"], ["data.max_frames: must be >= 1", "got -5"]),
    "zero decode threads": (["data.num_decode_threads=0"], ["data.num_decode_threads: must be >= 1"]),
    "zero frame interval": (["data.temporal.frame_interval=0"],
                            ["data.temporal.frame_interval: must be >= 1"]),
    "negative synthetic count": (["data.synthetic.num_train=-1"],
                                 ["data.synthetic.num_train: must be >= 0", "-1"]),
    "zero sigma": (["data.heatmaps.sigma=0"], ["data.heatmaps: need a positive", "0"]),
    "zero beam": (["eval.beam_size=0"], ["eval.beam_size: must be >= 1, got 0"]),
    "zero epochs": (["train.optim.epochs=0"], ["train.optim.epochs: must be >= 1, got 0"]),
    # bad enum choices
    "bad augment": (["data.augment=timm"], ["data.augment: must be one of", "'mamba_slr'", "got 'timm'"]),
    "bad on_error": (["data.on_error=ignore"],
                     ["data.on_error: must be one of ('raise', 'skip'), got 'ignore'"]),
    "bad unk_policy": (["data.unk_policy=drop"], ["data.unk_policy: must be one of ('error', 'unk')"]),
    "bad resolution": ([*REAL, "data.resolution=210x206px"],
                       ["data.resolution: must be one of", "did you mean '210x260px'?"]),
    "bad precision": (["train.precision.dtype=fp16"],
                      ["train.precision.dtype: expected one of 'bf16', 'fp32'"]),
    "bad heatmap merge": (["data.heatmaps.merge=sum"], ["data.heatmaps.merge: must be one of", "got 'sum'"]),
    "bad heatmap group": (["data.heatmaps.groups=[nose]"], ["data.heatmaps.groups: must be distinct names"]),
    # names looked up in the packages' registries
    "unknown model": (["model.name=slr_mamba_tny"], ["model.name: must be one of", "'slr_mamba_tiny'?"]),
    "zero depth": (["model.overrides.depth=0"], ["model.overrides.depth: must be a positive int, got 0"]),
    "bad pool": (["model.overrides.global_pool=sum"], ["model.overrides.global_pool", "sum"]),
    "depth below attention layer": (["model.name=mamba_slr_tiny", "model.overrides.depth=1"],
                                    ["model.overrides", "attention_layers"]),
    "unknown protocol": (["eval.protocol=phoenix2104"], ["eval.protocol: must be one of", "'phoenix2014'?"]),
    "unknown decoder": (["eval.decoder=beem"],
                        ["eval.decoder: must be one of ('beam', 'greedy', ", "'beam'?"]),
    "unknown dev decoder": (["eval.dev_decoder=viterbi"], ["eval.dev_decoder: must be one of", "'viterbi'"]),
    "unknown corpus": (["data.corpus=phoenix2041"], ["data.corpus: must be one of", "'phoenix2014'?"]),
    # values the packages' dataclasses refuse
    "temporal rescale": (["data.temporal.rescale=1.5"],
                         ["data.temporal.rescale: must lie in [0, 1), got 1.5"]),
    "temporal frame bounds": (["data.temporal.min_frames=8", "data.temporal.max_frames=4"],
                              ["data.temporal", "min_frames <= max_frames"]),
    "synthetic vocabulary": (["data.synthetic.vocab_size=1000"],
                             ["data.synthetic.vocab_size: must lie in 3..384"]),
    "synthetic pair": (["data.synthetic.gloss_frames=[5, 2]"], ["data.synthetic.gloss_frames", "[5, 2]"]),
    "synthetic pair type": (["data.synthetic.gloss_frames=five"],
                            ["data.synthetic.gloss_frames: expected a list"]),
    "synthetic gloss names": (["data.synthetic.gloss_names=phoenix"],
                              ["data.synthetic: gloss_names='phoenix' needs phoenix_meta"]),
    "heatmap size": (["data.heatmaps.size=[0, 4]"], ["data.heatmaps: need a positive (h, w) size"]),
}


@pytest.mark.parametrize("overrides, texts", CASES.values(), ids=CASES.keys())
def test_load_config_names_the_file_key_value_and_what_is_allowed(overrides, texts):
    with pytest.raises(ConfigError) as info:
        load_config("tiny", overrides)
    message = str(info.value)
    assert message.startswith(f"{builtin_config_path('tiny')}: {texts[0]}")
    assert all(text in message for text in texts), message
    assert "\n" not in message


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if the corpus is prepared, generated or a training starts."""
    def touched(*args, **kwargs):
        raise AssertionError("data was touched before the config was checked")

    monkeypatch.setattr(slr_phoenix.data, "prepare_corpus", touched)
    monkeypatch.setattr(slr_data.synth.writer, "generate_synthetic_corpus", touched)  # the registry's synthesize
    monkeypatch.setattr(slr_data, "generate_synthetic_corpus", touched)
    monkeypatch.setattr(slr_phoenix.pipeline, "prepare_corpus", touched)
    monkeypatch.setattr(slr_phoenix.pipeline, "train", touched)


@pytest.mark.parametrize("overrides, texts", CASES.values(), ids=CASES.keys())
def test_print_config_exits_2_with_one_line_before_any_data(overrides, texts, no_data, capsys):
    argv = ["train", "--print-config"] + [arg for o in overrides for arg in ("--set", o)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith("slr-phoenix train: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and all(text in err for text in texts), err


@pytest.mark.parametrize("override", ["eval.protocol=phoenix2104", "data.temporal.rescal=0.1",
                                      "model.overrides.depth=0"])
def test_the_issue_examples_fail_before_training(override, no_data, tmp_path: Path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--out", str(out), "--set", override])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and override.split("=")[0] in err and "Traceback" not in err
    assert not out.exists()


def test_a_bad_value_in_a_yaml_file_names_the_file(tmp_path: Path, no_data, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("data:\n  temporal:\n    rescale: 0.1\n    frame_intervall: 2\n")
    expected = r"mine\.yaml: data\.temporal\.frame_intervall: unknown key \(value 2\)"
    with pytest.raises(ConfigError, match=expected):
        load_config(str(path))
    code = main(["train", "--config", str(path), "--print-config"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and f"{path}: data.temporal.frame_intervall" in err
    assert "did you mean 'frame_interval'?" in err and len(err.strip().splitlines()) == 1


def test_the_sections_are_the_packages_frozen_dataclasses():
    config = load_config("tiny", ["data.temporal.rescale=0.2", "data.synthetic.num_train=30",
                                  "data.heatmaps.size=16"])
    assert config.data.temporal == TemporalConfig(frame_interval=1, rescale=0.2)
    assert config.data.synthetic == SynthConfig(num_train=30)
    assert config.data.heatmaps == HeatmapSettings(size=(16, 16))
    assert config.data.heatmap_config().size == (16, 16) and config.data.heatmap_config().merge == "all"
    with pytest.raises(AttributeError):
        config.data.temporal.rescale = 0.5  # frozen all the way down


def test_plain_mappings_given_to_the_constructors_are_built_and_checked():
    settings = DataSettings(temporal={"rescale": 0.3}, synthetic={"num_train": 7},
                            heatmaps={"merge": "group"})
    assert settings.temporal == TemporalConfig(rescale=0.3) and settings.synthetic.num_train == 7
    assert settings.heatmap_config().channels == 3
    with pytest.raises(ConfigError, match=r"^data\.temporal\.rescal: unknown key"):
        DataSettings(temporal={"rescal": 0.3})
    with pytest.raises(ConfigError, match=r"^model\.overrides\.depth: must be a positive int, got 0"):
        ModelSettings(overrides={"depth": 0})


def test_model_overrides_are_checked_without_building_weights(monkeypatch):
    import slr_models.models.registry as registry

    def no_weights(config):
        raise AssertionError("a model was built")

    monkeypatch.setattr(registry, "build_model", no_weights)
    config = load_config("mamba_slr", ["data.root=/corpus", "model.overrides.depth=6"])
    assert config.model.model_config().depth == 6
    assert resolve_model_config("slr_mamba_tiny", {"d_model": 32, "headdim": 8}).d_model == 32


@pytest.mark.parametrize("name", BUILTIN_CONFIGS)
def test_every_builtin_config_round_trips_through_its_run_directory(name, tmp_path: Path):
    config = load_config(name, [] if name == "tiny" else ["data.root=/corpus"])
    assert AppConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, config)
    saved = run_dir / "config.yaml"
    assert AppConfig.from_dict(read_yaml(saved), source=str(saved)) == config
    assert load_config(str(saved)) == config
    prepare_run_dir(run_dir, config)  # the same run again: no "different config" refusal


def test_a_config_yaml_written_before_the_typed_sections_still_loads(tmp_path: Path):
    old = load_config(str(OLD_CONFIG))
    now = load_config("tiny", ["data.keypoints=synthetic", "data.heatmaps.merge=group",
                               "data.synthetic={num_train: 24, image_size: 32}"])
    assert old == now and old.model.overrides == {"heatmap_channels": 3}
    assert old.data.synthetic.content_key() == SynthConfig(num_train=24, image_size=32).content_key()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(OLD_CONFIG.read_text())
    prepare_run_dir(run_dir, now)  # resuming the old run: its directory is accepted


def test_evaluation_sampling_is_the_training_one_without_randomness():
    from slr_phoenix.data import eval_temporal_config

    temporal = "data.temporal={frame_interval: 2, rescale: 0.2, max_frames: 50, min_frames: 3}"
    config = load_config("tiny", [temporal])
    assert config.data.temporal == TemporalConfig(frame_interval=2, random_offset=True, rescale=0.2,
                                                  max_frames=50, min_frames=3)
    assert eval_temporal_config(config.data) == TemporalConfig(frame_interval=2, random_offset=False,
                                                               rescale=0.0, max_frames=None, min_frames=3)
