"""Initial weights from files: slr checkpoints, Mamba_SLR .pth layouts, remapped image backbones."""

import argparse
import collections
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from slr_train import (CheckpointError, EMAConfig, InitFromConfig, InitFromError, Trainer, TrainSet,
                       eval_model_state, init_model_from, load_checkpoint, plan_init)


def _save(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


def _fake(kit, seed: int, **kwargs):
    torch.manual_seed(seed)
    return kit.FakeCTCModel(**kwargs)


def _assert_weights(model, expected: dict, names=None):
    state = model.state_dict()
    for name in names if names is not None else expected:
        assert torch.equal(state[name], expected[name].to(state[name].dtype)), name


def test_a_plain_state_dict_initialises_every_tensor(slr_train_kit, tmp_path):
    source = _fake(slr_train_kit, 1).state_dict()
    model = _fake(slr_train_kit, 2)
    report = init_model_from(model, InitFromConfig(str(_save(tmp_path / "w.pth", source))))
    _assert_weights(model, source)
    assert report.source == "state dict" and len(report.loaded) == len(source)
    assert report.left_at_init == () and report.ignored == ()
    assert f"{len(source)} tensors loaded, 0 left at their initial values, 0 of the file ignored" in report.format()


def _mamba_slr_checkpoint(kit) -> tuple[dict, dict, dict]:
    """The layout of Mamba_SLR's utils.save_model: model, optimizer, epoch, scaler, args, model_ema."""
    raw, ema = _fake(kit, 1), _fake(kit, 3)
    optimizer = torch.optim.AdamW(raw.parameters(), lr=1e-3)
    raw(torch.randn(8, 3, 4, 4), torch.tensor([4, 4])).log_probs.sum().backward()
    optimizer.step()
    args = argparse.Namespace(batch_size=2, epochs=100, lr=1e-3 * 2 / 256, opt_betas=[0.9, 0.999], clip_grad=5.0,
                              model_key="model_ema", finetune="", resume="", output_dir="/exp", gpu=0,
                              distributed=True, dist_backend="nccl", weight_decay_end=None)
    payload = {"model": raw.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 41,
               "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0}, "args": args,
               "model_ema": ema.state_dict(), "best_wer": np.float64(23.4)}
    return payload, raw.state_dict(), ema.state_dict()


def test_mamba_slr_pth_layout_loads_model_ema_first_then_model(slr_train_kit, tmp_path):
    payload, raw, ema = _mamba_slr_checkpoint(slr_train_kit)
    path = _save(tmp_path / "checkpoint-best.pth", payload)
    model = _fake(slr_train_kit, 5)
    report = init_model_from(model, InitFromConfig(str(path)))
    _assert_weights(model, ema)
    assert report.source == "state dict under 'model_ema'"
    init_model_from(model, InitFromConfig(str(path), keys=("model",)))
    _assert_weights(model, raw)


def test_deepspeed_model_states_layout_uses_module(slr_train_kit, tmp_path):
    sd = _fake(slr_train_kit, 4).state_dict()
    payload = {"module": sd, "buffer_names": ["calls"], "optimizer": None,
               "param_shapes": [collections.OrderedDict((k, v.shape) for k, v in sd.items())],
               "sparse_tensor_module_names": set(), "skipped_steps": 0, "global_steps": 1200, "global_samples": 4800,
               "dp_world_size": 2, "mp_world_size": 1, "ds_config": {"train_batch_size": 4, "bf16": {"enabled": True}},
               "ds_version": "0.14.0", "lr_scheduler": None, "epoch": 3}
    model = _fake(slr_train_kit, 5)
    report = init_model_from(model, InitFromConfig(str(_save(tmp_path / "mp_rank_00_model_states.pt", payload))))
    _assert_weights(model, sd)
    assert report.source == "state dict under 'module'"


def test_an_slr_model_bundle_gives_its_state_dict(slr_train_kit, tmp_path):
    from slr_models.interop import BUNDLE_FORMAT

    sd = _fake(slr_train_kit, 6).state_dict()
    bundle = {"format": BUNDLE_FORMAT, "format_version": 1, "model": {"family": "fake", "name": "fake_tiny"},
              "state_dict": sd, "glosses": list(slr_train_kit.GLOSSES),
              "preprocessing": {"resize": 256, "crop": 224}, "source": {"codebase": "Mamba_SLR", "epoch": 7}}
    model = _fake(slr_train_kit, 7)
    report = init_model_from(model, InitFromConfig(str(_save(tmp_path / "bundle.pt", bundle))))
    _assert_weights(model, sd)
    assert report.source == "slr-model bundle of fake_tiny, from Mamba_SLR" and len(report.loaded) == len(sd)
    with pytest.raises(InitFromError, match="bundle.*format_version 2, not 1"):
        init_model_from(model, InitFromConfig(str(_save(tmp_path / "v2.pt", {**bundle, "format_version": 2}))))
    with pytest.raises(InitFromError, match="slr-model bundle without a state_dict"):
        init_model_from(model, InitFromConfig(str(_save(tmp_path / "empty.pt", {**bundle, "state_dict": {}}))))


def test_a_bundle_written_by_slr_models_initialises_a_model_of_another_vocabulary(tmp_path):
    from slr_models import create_model
    from slr_models.interop import MAMBA_SLR_PREPROCESSING, save_bundle

    torch.manual_seed(0)
    source = create_model("mamba_slr_tiny", 5)
    path = save_bundle(tmp_path / "mamba_slr.pt", source, ["A", "B", "C", "D"], MAMBA_SLR_PREPROCESSING,
                       source={"codebase": "Mamba_SLR"})
    torch.manual_seed(1)
    model = create_model("mamba_slr_tiny", 9)
    report = init_model_from(model, InitFromConfig(str(path)))
    expected = source.state_dict()
    assert report.head_dropped == ("head.weight", "head.bias")
    _assert_weights(model, expected, [n for n in expected if not n.startswith("head.")])
    assert report.source == "slr-model bundle of mamba_slr_tiny, from Mamba_SLR"


class _RunsCode:
    """Unpickling this would create ``marker`` (as a hostile checkpoint could run anything)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@dataclasses.dataclass
class _Custom:
    value: int = 1


def test_a_file_needing_other_python_objects_is_refused_without_running_it(slr_train_kit, tmp_path):
    marker = tmp_path / "pwned"
    path = _save(tmp_path / "evil.pth", {"model": _fake(slr_train_kit, 1).state_dict(), "x": _RunsCode(marker)})
    with pytest.raises(InitFromError) as info:
        init_model_from(_fake(slr_train_kit, 2), InitFromConfig(str(path)))
    assert not marker.exists()
    message = str(info.value)
    assert message.startswith(f"{path}: refused") and "io.open" in message and "\n" not in message
    custom = _save(tmp_path / "custom.pth", {"model": _fake(slr_train_kit, 1).state_dict(), "meta": _Custom()})
    with pytest.raises(InitFromError, match=r"custom.pth: refused: .*_Custom"):
        init_model_from(_fake(slr_train_kit, 2), InitFromConfig(str(custom)))


def test_missing_corrupt_and_stateless_files_name_the_file(slr_train_kit, tmp_path):
    model = _fake(slr_train_kit, 2)
    with pytest.raises(InitFromError, match="nowhere.pth: no such weights file"):
        init_model_from(model, InitFromConfig(str(tmp_path / "nowhere.pth")))
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(InitFromError, match=r"junk.pth: cannot be read as a torch weights file"):
        init_model_from(model, InitFromConfig(str(tmp_path / "junk.pth")))
    with pytest.raises(InitFromError, match=r"opt.pth: holds neither a state dict .* it has \['epoch', 'optimizer'\]"):
        init_model_from(model, InitFromConfig(str(_save(tmp_path / "opt.pth", {"epoch": 1, "optimizer": {}}))))
    with pytest.raises(InitFromError, match="is a directory"):
        init_model_from(model, InitFromConfig(str(tmp_path)))


def test_shape_mismatch_outside_the_head_is_an_error_inside_it_the_head_stays(slr_train_kit, tmp_path):
    wrong = _fake(slr_train_kit, 1).state_dict()
    wrong["blocks.1.fc.weight"] = torch.zeros(16, 8)
    path = _save(tmp_path / "wrong.pth", wrong)
    with pytest.raises(InitFromError, match=r"^\S+wrong.pth: 1 tensor\(s\) do not fit the model: blocks.1.fc.weight is "
                                            r"\(16, 8\) in the file, \(16, 16\) in the model$"):
        init_model_from(_fake(slr_train_kit, 2), InitFromConfig(str(path)))
    wide = _fake(slr_train_kit, 1, dim=24).state_dict()
    with pytest.raises(InitFromError, match=r"wide.pth: 13 tensor\(s\) do not fit .*; stem.weight is "
                                            r"\(24, 48\) in the file, \(16, 48\) in the model; .*\(\+10 more\)"):
        init_model_from(_fake(slr_train_kit, 2), InitFromConfig(str(_save(tmp_path / "wide.pth", wide))))
    other_vocab = _fake(slr_train_kit, 1, num_classes=9).state_dict()
    model = _fake(slr_train_kit, 2)
    head_before = model.head.weight.detach().clone()
    report = init_model_from(model, InitFromConfig(str(_save(tmp_path / "vocab9.pth", other_vocab))))
    assert torch.equal(model.head.weight, head_before)
    assert report.head_dropped == ("head.weight", "head.bias") == report.left_at_init
    _assert_weights(model, other_vocab, [k for k in other_vocab if not k.startswith("head.")])
    assert "head dropped" in report.format()


def test_backbone_keys_are_renamed_as_mamba_slr_finetune_does(slr_train_kit, tmp_path):
    kit = slr_train_kit
    torch.manual_seed(0)
    model = kit.MambaSLRNamedModel(num_classes=6, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    backbone = kit.mamba_slr_backbone_state(model, num_classes=1000)
    assert "layers.1.mixer.in_proj.weight" in backbone and "layers.0.norm2.weight" in backbone
    path = _save(tmp_path / "checkpoint-best-ema.pth", {"model_ema": backbone, "epoch": 299})
    report = init_model_from(model, InitFromConfig(str(path)))
    state = model.state_dict()
    for i in range(2):
        assert torch.equal(state[f"layers.{i}.spatial_mixer.in_proj.weight"], backbone[f"layers.{i}.mixer.in_proj.weight"])
        assert torch.equal(state[f"layers.{i}.spatial_norm.bias"], backbone[f"layers.{i}.norm.bias"])
        assert torch.equal(state[f"layers.{i}.mlp_norm.weight"], backbone[f"layers.{i}.norm2.weight"])
        assert torch.equal(state[f"layers.{i}.mlp.fc1.weight"], backbone[f"layers.{i}.mlp.fc1.weight"])
    assert torch.equal(state["patch_embed.proj.weight"], backbone["patch_embed.proj.weight"])
    temporal = sorted(k for k in state if ".temporal_" in k)
    assert sorted(report.left_at_init) == sorted(temporal + ["head.weight", "head.bias"])
    for name in report.left_at_init:
        assert torch.equal(state[name], before[name]), name
    assert sorted(report.ignored) == ["head.bias", "head.weight", "pos_embed"]
    assert len(report.renamed) == 2 * (3 + 2 + 2)  # per layer: mixer (3 tensors), norm (2), norm2 (2)
    assert len(report.loaded) == len(state) - len(report.left_at_init)
    # without the remap the spatial weights are not found: they stay at init
    fresh = kit.MambaSLRNamedModel(num_classes=6, depth=2)
    plain = init_model_from(fresh, InitFromConfig(str(path), remap="none"))
    assert "layers.0.spatial_mixer.in_proj.weight" in plain.left_at_init and not plain.renamed
    assert "layers.0.mixer.in_proj.weight" in plain.ignored


def test_auto_remap_leaves_names_the_model_has_and_mamba_slr_mode_always_renames():
    model = {"layers.0.norm.weight": torch.zeros(4), "layers.0.spatial_norm.weight": torch.zeros(4)}
    source = {"layers.0.norm.weight": torch.ones(4)}
    loaded, report = plan_init(model, source, remap="auto")
    assert list(loaded) == ["layers.0.norm.weight"] and not report.renamed
    loaded, report = plan_init(model, source, remap="mamba_slr")
    assert list(loaded) == ["layers.0.spatial_norm.weight"]
    assert report.renamed == (("layers.0.norm.weight", "layers.0.spatial_norm.weight"),)
    both = {"layers.0.norm.weight": torch.ones(4), "layers.0.spatial_norm.weight": torch.ones(4)}
    with pytest.raises(InitFromError, match="both layers.0.norm.weight and layers.0.spatial_norm.weight"):
        plan_init({"layers.0.spatial_norm.weight": torch.zeros(4)}, both, path="f.pth", remap="mamba_slr")


def test_prefix_selects_and_strips_keys_and_nothing_fitting_is_an_error():
    model = {"a.weight": torch.zeros(2, 2), "b": torch.zeros(3, dtype=torch.float64)}
    source = {"backbone.a.weight": torch.ones(2, 2), "backbone.b": torch.ones(3), "decoder.x": torch.ones(1)}
    loaded, report = plan_init(model, source, prefix="backbone.")
    assert set(loaded) == {"a.weight", "b"} and loaded["b"].dtype == torch.float64
    assert report.ignored == ("decoder.x",)
    with pytest.raises(InitFromError, match=r"w.pth: none of its 3 tensors fits a model tensor .*init_from.prefix"):
        plan_init(model, source, path="w.pth")
    assert plan_init(model, {"a.weight": torch.ones(2, 2)})[0]["a.weight"].sum() == 4  # pure: inputs unchanged
    assert model["a.weight"].sum() == 0


# ----------------------------------------------------------------------------- slr checkpoints
def _train_set(kit, data, batch_size=4):
    return TrainSet(data, data.video_ids, data.num_frames, data.labels, kit.collate, kit.sampler_factory(batch_size),
                    batch_size=batch_size)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    import slr_train_testkit as kit
    from slr_train import (CheckpointConfig, EvalSet, LoggingConfig, OptimConfig, PrecisionConfig, TrainConfig)

    run = tmp_path_factory.mktemp("source-run")
    cfg = TrainConfig(optim=OptimConfig(lr=1e-2, epochs=1, warmup_steps=1), precision=PrecisionConfig("fp32"),
                      ema=EMAConfig(decay=0.5), checkpoint=CheckpointConfig(every_steps=0),
                      logging=LoggingConfig(progress=False, tensorboard=False))
    dev = kit.FakeDataset(4, seed=1, augment=False, prefix="dev")
    result = Trainer(_fake(kit, 0), cfg, _train_set(kit, kit.FakeDataset(8, seed=0)), run,
                     dev=EvalSet("dev", dev, kit.collate), to_glosses=kit.to_glosses, decoder=kit.greedy,
                     scorer=kit.fake_scorer()).fit()
    return result


def test_slr_checkpoints_give_their_evaluation_weights(slr_train_kit, finished_run):
    last = load_checkpoint(finished_run.last_checkpoint)
    model = _fake(slr_train_kit, 9)
    report = init_model_from(model, InitFromConfig(str(finished_run.last_checkpoint)))
    _assert_weights(model, eval_model_state(last, "ema"))
    assert report.source == "slr-train epoch checkpoint, ema weights"
    init_model_from(model, InitFromConfig(str(finished_run.last_checkpoint), weights="raw"))
    _assert_weights(model, eval_model_state(last, "raw"))
    best = load_checkpoint(finished_run.best_checkpoint)
    report = init_model_from(model, InitFromConfig(str(finished_run.best_checkpoint)))
    _assert_weights(model, eval_model_state(best))
    assert report.source == f"slr-train best checkpoint, {best['weights']} weights"
    other = "raw" if best["weights"] == "ema" else "ema"
    with pytest.raises(InitFromError, match=f"holds {best['weights']!r} weights, not {other!r}"):
        init_model_from(model, InitFromConfig(str(finished_run.best_checkpoint), weights=other))


def test_a_tampered_slr_checkpoint_fails_its_manifest(slr_train_kit, finished_run, tmp_path):
    source = Path(finished_run.last_checkpoint)
    copy = tmp_path / source.name
    payload = load_checkpoint(source)
    payload["engine"]["model"]["head.bias"] += 1
    torch.save(payload, copy)
    manifest = json.loads(source.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="does not match the manifest|manifest says"):
        init_model_from(_fake(slr_train_kit, 9), InitFromConfig(str(copy)))


# ------------------------------------------------------------------------------------ Trainer
def _init_config(base, path, epochs):
    return dataclasses.replace(base, optim=dataclasses.replace(base.optim, epochs=epochs),
                               ema=EMAConfig(decay=0.99), init_from=InitFromConfig(str(path)))


class _Interrupted(Exception):
    pass


def test_trainer_starts_at_the_init_weights_and_a_resume_does_not_reapply_them(slr_train_kit, slr_train_tiny_config,
                                                                             tmp_path, caplog):
    kit = slr_train_kit
    source = _fake(kit, 7, dropout=0.0).state_dict()
    init_file = _save(tmp_path / "init.pth", {"model": source})
    data = kit.FakeDataset(8, seed=0)  # 2 batches of 4: 2 steps per epoch
    cfg = _init_config(slr_train_tiny_config, init_file, 2)

    def trainer(run, seed, on_step=None):
        return Trainer(_fake(kit, seed, dropout=0.0), cfg, _train_set(kit, data), run, on_step=on_step)

    def interrupt(step, metrics):
        if step == 3:  # after the epoch-1 checkpoint, before any later one
            raise _Interrupted

    first = trainer(tmp_path / "a", 1, interrupt)
    with caplog.at_level(logging.INFO, logger="slr_train.trainer"):
        report = first.initialise_weights()  # before fit: fails early; fit does not load again
    _assert_weights(first.model, source)
    assert f"initialised the model from {init_file}" in caplog.text and len(report.loaded) == len(source)
    with pytest.raises(_Interrupted):
        first.fit()
    init_file.unlink()  # the resume must not even read it
    resumed = trainer(tmp_path / "a", 5).fit()
    assert resumed.init_report is None and resumed.global_step == 4
    _save(init_file, {"model": source})
    straight = trainer(tmp_path / "b", 3)
    assert straight.fit().init_report is not None
    final_resumed = load_checkpoint(resumed.last_checkpoint)["engine"]["model"]
    for name, value in straight.model.state_dict().items():
        if name != "calls":
            assert torch.equal(final_resumed[name], value), name


def test_trainer_ema_starts_from_the_loaded_weights(slr_train_kit, slr_train_tiny_config, tmp_path):
    kit = slr_train_kit
    source = _fake(kit, 7, dropout=0.0).state_dict()
    init_file = _save(tmp_path / "init.pth", source)
    data = kit.FakeDataset(4, seed=0)
    cfg = dataclasses.replace(_init_config(slr_train_tiny_config, init_file, 1), ema=EMAConfig(decay=0.9, warmup=False))
    trainer = Trainer(_fake(kit, 1, dropout=0.0), cfg, _train_set(kit, data), tmp_path / "run")
    trainer.fit()  # one step: ema = 0.9 * initial + 0.1 * weights after the step
    after = trainer.model.state_dict()
    for name, shadow in trainer.ema.params.items():
        torch.testing.assert_close(shadow, 0.9 * source[name] + 0.1 * after[name], rtol=1e-5, atol=1e-6)
