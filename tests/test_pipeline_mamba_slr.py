"""``slr-phoenix train --config mamba_slr`` (Mamba_SLR's recipe) on the synthetic corpus with the tiny
Mamba_SLR model, and a run started ``--init-from`` it with the recipe's own (linear_256-scaled) lrs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from slr_data import transform_config_from_dict
from slr_train import load_checkpoint

pytestmark = pytest.mark.slow



def on_the_cpu(synth: str) -> tuple[str, ...]:
    """What a CPU run of the recipe changes: the tiny model and the synthetic corpus ``synth``, float32
    (bf16 autocast is slow on CPUs), no loader processes or pinned memory, 4 videos per batch."""
    return ("--config", "mamba_slr", "--no-progress", "--batch-size", "4", "--set", "model.name=mamba_slr_tiny",
            "--set", "data.corpus=synthetic", "--set", f"data.synthetic={synth}",
            "--set", "train.precision.dtype=fp32", "--set", "train.loader.num_workers=0",
            "--set", "train.loader.pin_memory=false")

# The source run learns in a dozen short epochs: no lr scaling (x 4/256 would leave the tiny model
# untrained), a higher lr, a short warmup, the mild augmentation the colour-coded synthetic glosses
# need, no drop path, a short EMA.
LEARN_FAST = ("--epochs", "12", "--lr", "1e-2", "--set", "train.optim.lr_scaling=none",
              "--set", "train.optim.warmup_epochs=1", "--set", "data.augment=synthetic",
              "--set", "model.overrides={}", "--set", "train.ema.decay=0.99")


@pytest.fixture(scope="module")
def source_run(tmp_path_factory, corpus_cache: Path, run_app, smoke_synth: str) -> Path:
    out = tmp_path_factory.mktemp("runs") / "mamba_slr"
    run_app(["train", "--out", str(out), *on_the_cpu(smoke_synth), *LEARN_FAST], corpus_cache)
    return out


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_recipe_trains_and_evaluates_the_tiny_mamba_slr_model(source_run: Path):
    results = _json(source_run / "results.json")
    assert results["model"] == "mamba_slr_tiny" and results["epochs"] == 12
    assert results["decoder"] == "beam5" and results["protocol"] == "phoenix2014"
    for split in ("dev", "test"):
        assert results[split]["N"] > 0 and results[split]["wer"] < 90.0, results  # an untrained model: 100 %
    config = yaml.safe_load((source_run / "config.yaml").read_text())
    assert config["name"] == "mamba_slr"
    assert config["train"]["loss"]["reduction"] == "mean_per_target"
    assert config["train"]["optim"]["lr_schedule"] == "mamba_slr" and config["train"]["ema"]["warmup"] is False
    assert config["eval"]["dev_decoder"] == "beam"
    history = _json(source_run / "history.json")["history"]
    assert all({"dev_wer_raw", "dev_wer_ema"} <= set(h) for h in history)  # ema.evaluate: both
    best = min(min(h["dev_wer_raw"], h["dev_wer_ema"]) for h in history)
    assert results["dev_wer_beam_during_training"] == best  # eval.dev_decoder: beam


def test_a_recipe_run_initialised_from_it_starts_where_it_ended(source_run: Path, corpus_cache: Path,
                                                              tmp_path: Path, run_app, smoke_synth: str):
    out = tmp_path / "finetuned"
    proc = run_app(["train", "--out", str(out), *on_the_cpu(smoke_synth), "--epochs", "1", "--init-from",
                    str(source_run)], corpus_cache)
    assert "initialised the model from" in proc.stderr and "0 left at their initial values" in proc.stderr
    results = _json(out / "results.json")
    source = _json(source_run / "results.json")
    # one epoch at the recipe's scaled warmup lr (1e-4 x 4 / 256 rising): far from an untrained model's
    # 100 %, close to where the source run ended
    assert results["dev"]["wer"] < 90.0, results
    assert abs(results["dev"]["wer"] - source["dev"]["wer"]) <= 15.0, (results, source)
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["data"]["augment"] == "mamba_slr" and config["train"]["optim"]["lr_scaling"] == "linear_256"
    # the checkpoint stores the eval the run used: the mamba_slr profile's centre crop, not eval_preset(img)
    best = load_checkpoint(next((out / "checkpoints").glob("best-*.pt")))
    stored = transform_config_from_dict(best["extra"]["eval_transform"])
    assert stored.crop_mode == "center" and stored.size == (32, 32) and stored.resize == round(32 * 256 / 224)
