"""``--config mamba_slr`` (Mamba_SLR's run_phoenix.sh in slr's keys), ``data.augment`` profiles and the
eval transform a checkpoint stores."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from slr_data import SynthConfig, Vocabulary, eval_preset, transform_config_from_dict
from slr_data.transforms import PROFILES
from slr_models import create_model, get_config

from slr_phoenix.cli import main
from slr_phoenix.data import eval_transform_config
from slr_phoenix.pipeline import checkpoint_extra, config_differences, prepare_run_dir
from slr_phoenix.settings import BUILTIN_CONFIGS, ConfigError, builtin_config_path, load_config

# run_phoenix.sh's flags (and the main.py defaults it relies on) -> the config key and value they become
MAMBA_SLR_SCRIPT = {
    "model.name": "mamba_slr_base",  # --input_size 224 --patch_size 16 --d_model 512 --headdim 64 --depth 12
    "model.overrides.drop_path_rate": 0.4,  # --drop_path 0.4
    "model.overrides.head_drop_rate": 0.1,  # --head_drop_rate 0.1
    "data.batch_size": 2,  # --batch_size 2
    "data.resolution": "256x256px",  # features/fullFrame-256x256px
    "data.augment": "mamba_slr",  # --aa rand-m5-mstd0.25, --reprob 0.25 --remode pixel --recount 1
    "data.temporal.frame_interval": 1,  # --frame_interval default 1
    "data.temporal.rescale": 0.0,  # --temp_scale 0.0
    "train.seed": 0,  # --seed default 0
    "train.optim.epochs": 100,  # --epochs 100
    "train.optim.grad_accum_steps": 1,  # --update_freq 1
    "train.optim.lr": 1e-3,  # --lr 1e-3
    "train.optim.warmup_lr": 1e-4,  # --warmup_lr 1e-4
    "train.optim.min_lr": 1e-5,  # --min_lr 1e-5
    "train.optim.warmup_epochs": 5,  # --warmup_epochs 5
    "train.optim.lr_scaling": "linear_256",  # main.py: x total batch / 256
    "train.optim.lr_schedule": "mamba_slr",  # utils.cosine_scheduler
    "train.optim.betas": (0.9, 0.999),  # --opt_betas 0.9 0.999
    "train.optim.eps": 1e-8,  # --opt_eps default
    "train.optim.weight_decay": 0.05,  # --weight_decay 0.05
    "train.optim.layer_decay": 0.75,  # --layer_decay 0.75
    "train.optim.clip_grad_norm": 5.0,  # --clip_grad 5.0
    "train.precision.dtype": "bf16",  # --bf16
    "train.ema.enabled": True,  # --model_ema
    "train.ema.decay": 0.9999,  # --model_ema_decay 0.9999
    "train.ema.warmup": False,  # timm ModelEma
    "train.ema.evaluate": "both",  # --model_ema_eval
    "train.loss.reduction": "mean_per_target",  # torch.nn.CTCLoss(blank=0)
    "train.loader.num_workers": 12,  # --num_workers 12
    "train.loader.pin_memory": True,  # --pin_mem
    "train.loader.eval_batch_size": 4,  # 2 * batch_size
    "eval.decoder": "beam",  # CUCTCDecoder(beam_size=5)
    "eval.beam_size": 5,
    "eval.dev_decoder": "beam",  # dev decoded with the same decoder every epoch
    "eval.protocol": "phoenix2014",
}


def _value(config, dotted: str):
    node = config
    for key in dotted.split("."):
        node = node[key] if isinstance(node, dict) else getattr(node, key)
    return node


def test_the_mamba_slr_config_is_run_phoenix_sh():
    assert "mamba_slr" in BUILTIN_CONFIGS and builtin_config_path("mamba_slr").is_file()
    config = load_config("mamba_slr", ["data.root=/data/phoenix-2014-multisigner"])
    assert config.name == "mamba_slr" and config.data.corpus == "phoenix2014"
    wrong = {key: _value(config, key) for key, value in MAMBA_SLR_SCRIPT.items()
             if _value(config, key) != value}
    assert wrong == {}
    model = get_config(config.model.name, **config.model.overrides)
    assert (model.img_size, model.d_model, model.depth, model.headdim, model.expand) == (224, 512, 12, 64, 2)
    assert config.train.optim.drop_path_rate is None  # the model's own linear schedule up to 0.4
    two_processes = (1e-3 * 4 / 256, 1e-4 * 4 / 256, 1e-5 * 4 / 256)
    assert config.train.optim.scaled_lrs(config.data.batch_size, 2) == two_processes


def test_the_mamba_slr_config_needs_the_real_corpus_or_an_override(tmp_path: Path):
    with pytest.raises(ConfigError, match="data.root: corpus 'phoenix2014' needs the corpus folder"):
        load_config("mamba_slr")
    synthetic = load_config("mamba_slr", ["model.name=mamba_slr_tiny", "data.corpus=synthetic"])
    assert synthetic.data.augment == "mamba_slr" and synthetic.model.name == "mamba_slr_tiny"


def test_print_config_of_mamba_slr_shows_the_effective_values(tmp_path: Path, capsys):
    code = main(["train", "--config", "mamba_slr", "--data-root", str(tmp_path), "--print-config",
                 "--nproc-per-node", "4"])
    out = capsys.readouterr().out
    assert code == 0
    printed = yaml.safe_load(out)
    assert printed == load_config("mamba_slr", [f"data.root={tmp_path}", "data.corpus=phoenix2014"]).to_dict()
    assert printed["train"]["optim"]["lr_scaling"] == "linear_256" and printed["train"]["ema"]["warmup"] is False
    assert printed["data"]["root"] == str(tmp_path) and printed["model"]["name"] == "mamba_slr_base"
    total = 2 * 1 * 4
    assert (f"# effective with train.optim.lr_scaling=linear_256 and 4 process(es): total batch {total} = "
            f"data.batch_size 2 x grad_accum_steps 1 x 4; lr {1e-3 * total / 256:.6g}, "
            f"warmup_lr {1e-4 * total / 256:.6g}, min_lr {1e-5 * total / 256:.6g}") in out
    code = main(["train", "--print-config"])  # no lr scaling: no note
    assert code == 0 and "# effective" not in capsys.readouterr().out


@pytest.mark.parametrize("profile", PROFILES)
def test_data_augment_accepts_every_profile_slr_data_offers(profile):
    config = load_config("tiny", [f"data.augment={profile}"])
    assert config.data.augment == profile
    assert eval_transform_config(config.data, 32) == eval_preset(32, profile=profile)


def test_an_unknown_augment_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"data.augment: must be one of \('phoenix', 'synthetic', 'mamba_slr'"):
        load_config("tiny", ["data.augment=timm"])


def test_a_mamba_slr_augment_run_stores_the_centre_crop_it_evaluates_with():
    config = load_config("mamba_slr", ["model.name=mamba_slr_tiny", "data.corpus=synthetic"])
    model = create_model("mamba_slr_tiny", 5)
    extra = checkpoint_extra(config, model, Vocabulary(["A", "B", "C", "D"]))
    stored = transform_config_from_dict(extra["eval_transform"])
    assert stored == eval_transform_config(config.data, model.config.img_size)
    assert stored.crop_mode == "center" and stored.size == (32, 32) and stored.resize == round(32 * 256 / 224)
    phoenix = checkpoint_extra(load_config("tiny", ["data.augment=phoenix"]), model, Vocabulary(list("ABCD")))
    assert transform_config_from_dict(phoenix["eval_transform"]).crop_mode == "train_mean"


def test_eval_dev_decoder_is_validated_and_resumable():
    with pytest.raises(ConfigError, match="eval.dev_decoder: must be one of"):
        load_config("tiny", ["eval.dev_decoder=viterbi"])
    old = load_config("tiny").to_dict()
    assert config_differences(old, load_config("tiny", ["eval.dev_decoder=beam"]).to_dict()) == []
    changed = config_differences(old, load_config("tiny", ["train.ema.evaluate=ema"]).to_dict())
    assert changed == ["train.ema.evaluate"]


def test_a_run_directory_from_before_ema_evaluate_and_dev_decoder_still_resumes(tmp_path: Path):
    config = load_config("tiny")
    old = config.to_dict()
    del old["train"]["ema"]["evaluate"], old["eval"]["dev_decoder"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    prepare_run_dir(tmp_path, config)  # no "different config" refusal
    with pytest.raises(ConfigError, match=r"differs in train.ema.evaluate"):
        prepare_run_dir(tmp_path, load_config("tiny", ["train.ema.evaluate=raw"]))


def test_the_synthetic_defaults_of_the_builtin_configs_stay_valid():
    for name in BUILTIN_CONFIGS:
        config = load_config(name, ["data.corpus=synthetic"])
        assert isinstance(config.data.synthetic, SynthConfig)
        get_config(config.model.name, **config.model.overrides)
