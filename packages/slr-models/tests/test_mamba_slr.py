"""The Mamba_SLR model family and the import of the original code's checkpoints.

The fixtures in ``data/mamba_slr`` were produced by the original code (``make_fixtures.py`` there):
its model at a small size in both checkpoint layouts, its log-probabilities on fixed frames, and
the keys/shapes of its full-size state dict.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from slr_models import MambaSLRConfig, MambaSLRCTC, create_model, create_model_from_config
from slr_models.cli import main as cli
from slr_models.interop import (
    CheckpointImportError,
    import_mamba_slr,
    infer_config,
    load_bundle,
    model_from_bundle,
    read_gloss_dict,
)

DATA = Path(__file__).parent / "data" / "mamba_slr"
EXPECTED = np.load(DATA / "expected.npz")
AMP = DATA / "amp" / "checkpoint-best.pth"
DEEPSPEED = DATA / "deepspeed"


def _log_probs(model, frames=None, lengths=None):
    frames = torch.from_numpy(EXPECTED["frames"]) if frames is None else frames
    lengths = torch.from_numpy(EXPECTED["lengths"]) if lengths is None else lengths
    with torch.no_grad():
        out = model(frames, lengths)
    return out.log_probs.transpose(0, 1).numpy(), out.lengths.numpy()  # (B, T, V)


def _max_error(log_probs, expected, lengths):
    return max(float(np.abs(log_probs[b, :n] - expected[b, :n]).max()) for b, n in enumerate(lengths))


def test_base_has_the_originals_parameter_count_and_state_dict_layout():
    full = json.loads((DATA / "full_size_state.json").read_text())
    model = create_model("mamba_slr_base")
    assert sum(p.numel() for p in model.parameters()) == full["parameters"] == 57_154_016
    ours = {k: [list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()}
    assert ours == full["state"]


def test_full_size_checkpoint_of_the_original_layout_imports_without_key_errors(tmp_path):
    full = json.loads((DATA / "full_size_state.json").read_text())["state"]
    model = create_model("mamba_slr_base")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert set(state) == set(full)
    args = argparse.Namespace(input_size=224, d_model=512, headdim=64, drop_path=0.4, head_drop_rate=0.1)
    torch.save({"model": state, "epoch": 99, "args": args}, tmp_path / "checkpoint-best.pth")
    imported = import_mamba_slr(tmp_path / "checkpoint-best.pth")
    assert imported.config == create_model("mamba_slr_base").config.replace(name="mamba_slr_import")
    for key, value in imported.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize("source, key, expected_key, expected", [
    (AMP, "auto", "model_ema", "model_ema"),
    (AMP, "model", "model", "model"),
    (AMP, "model_ema", "model_ema", "model_ema"),
    (DEEPSPEED, "auto", "model_ema", "model_ema"),
    (DEEPSPEED / "checkpoint-best", "module", "module", "deepspeed_module"),
    (DEEPSPEED / "checkpoint-best" / "mp_rank_00_model_states.pt", "module", "module", "deepspeed_module"),
])
def test_imported_checkpoints_reproduce_the_originals_log_probs(source, key, expected_key, expected):
    model = import_mamba_slr(source, key=key)
    assert model.import_info["key"] == expected_key
    assert model.import_info["layout"] == ("torch.amp" if source == AMP else "deepspeed")
    assert not model.training and next(model.parameters()).dtype == torch.float32
    model.set_backend("reference")
    log_probs, lengths = _log_probs(model)
    assert list(lengths) == list(EXPECTED["lengths"])
    assert _max_error(log_probs, EXPECTED[expected], lengths) < 1e-3


def test_model_and_ema_weights_really_differ():
    """The fixture would not tell the keys apart otherwise."""
    lengths = EXPECTED["lengths"]
    assert _max_error(EXPECTED["model"], EXPECTED["model_ema"], lengths) > 1e-2


def test_packed_videos_equal_videos_alone():
    model = import_mamba_slr(AMP).eval()
    frames, lengths = torch.from_numpy(EXPECTED["frames"]), EXPECTED["lengths"]
    packed, _ = _log_probs(model)
    start = 0
    for b, n in enumerate(lengths):
        alone, _ = _log_probs(model, frames[start:start + n], torch.tensor([n]))
        np.testing.assert_allclose(alone[0, :n], packed[b, :n], atol=2e-5)
        start += n


def test_inferred_config_matches_the_architecture_in_the_fixture():
    state = torch.load(AMP, weights_only=False)["model"]  # our own fixture: safe to load fully here
    config = infer_config(state)
    assert (config.img_size, config.d_model, config.depth, config.headdim, config.expand) == (32, 32, 2, 8, 2)
    assert config.attention_layers == (1,) and config.num_classes == 11 and config.heads_of_attention == 4


def test_refuses_pickles_with_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"model": {"w": torch.zeros(1)}, "evil": Payload()}, tmp_path / "checkpoint-x.pth")
    with pytest.raises(CheckpointImportError, match=r"checkpoint-x\.pth: refused to load"):
        import_mamba_slr(tmp_path / "checkpoint-x.pth")


def test_key_errors_list_missing_unexpected_and_mismatched(tmp_path):
    state = dict(torch.load(AMP, weights_only=False)["model"])
    del state["layers.0.temporal_mixer.D"]
    state["layers.0.extra.weight"] = torch.zeros(2)
    state["layers.1.mlp.fc2.bias"] = torch.zeros(5)
    torch.save({"model": state}, tmp_path / "broken.pth")
    with pytest.raises(CheckpointImportError) as info:
        import_mamba_slr(tmp_path / "broken.pth")
    message = str(info.value)
    assert "broken.pth" in message and "layers.0.temporal_mixer.D" in message
    assert "unexpected (1): layers.0.extra.weight" in message and "layers.1.mlp.fc2.bias (5,) vs (32,)" in message


def test_other_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointImportError, match="no such checkpoint"):
        import_mamba_slr(tmp_path / "missing.pth")
    (tmp_path / "not_torch.pth").write_bytes(b"hello")
    with pytest.raises(CheckpointImportError, match="not a readable torch checkpoint"):
        import_mamba_slr(tmp_path / "not_torch.pth")
    torch.save({"optimizer": {}}, tmp_path / "no_weights.pth")
    with pytest.raises(CheckpointImportError, match="no weights under model_ema / model / module"):
        import_mamba_slr(tmp_path / "no_weights.pth")
    with pytest.raises(CheckpointImportError, match="no weights under module"):
        import_mamba_slr(AMP, key="module")
    two = tmp_path / "ds"
    for tag in ("checkpoint-a", "checkpoint-b"):
        shutil.copytree(DEEPSPEED / "checkpoint-best", two / tag)
    with pytest.raises(CheckpointImportError, match="tags found: checkpoint-a, checkpoint-b"):
        import_mamba_slr(two)
    (two / "latest").write_text("checkpoint-c")
    with pytest.raises(CheckpointImportError, match="names tag 'checkpoint-c'"):
        import_mamba_slr(two)
    state = dict(torch.load(AMP, weights_only=False)["model"])
    state["layers.0.spatial_mixer.scan_indices"] = state["layers.0.spatial_mixer.scan_indices"].flip(1)
    torch.save({"model": state}, tmp_path / "order.pth")
    with pytest.raises(ValueError, match="scan_indices .* not the scan order"):
        import_mamba_slr(tmp_path / "order.pth")


def test_gloss_dict_reader(tmp_path):
    assert read_gloss_dict(DATA / "gloss_dict.npy") == [f"GLOSS{i}" for i in range(1, 11)]
    np.save(tmp_path / "gaps.npy", {"A": [1, 3], "B": [3, 1]})
    with pytest.raises(CheckpointImportError, match="exactly 1..2"):
        read_gloss_dict(tmp_path / "gaps.npy")
    np.save(tmp_path / "code.npy", {"A": [1, argparse.Namespace()]})
    with pytest.raises(CheckpointImportError, match="argparse.Namespace is not allowed"):
        read_gloss_dict(tmp_path / "code.npy")
    np.save(tmp_path / "array.npy", np.arange(3))
    with pytest.raises(CheckpointImportError, match="0-d object array"):
        read_gloss_dict(tmp_path / "array.npy")


def test_cli_writes_a_bundle_with_the_same_function(tmp_path, capsys):
    out = tmp_path / "mamba_slr.pt"
    assert cli(["import-mamba-slr", str(DEEPSPEED), "--gloss-dict", str(DATA / "gloss_dict.npy"),
                "--out", str(out)]) == 0
    assert "deepspeed layout, key model_ema, epoch 7" in capsys.readouterr().out
    bundle = load_bundle(out)
    assert bundle["glosses"][0] == "GLOSS1"
    # the original's eval: resize 256, centre crop --input_size (the fixture model's 32 px)
    assert (bundle["preprocessing"]["resize"], bundle["preprocessing"]["crop"]) == (256, 32)
    assert bundle["preprocessing"]["frame_tree"] == "256x256px"
    model = model_from_bundle(bundle)
    model.set_backend("reference")
    log_probs, lengths = _log_probs(model)
    assert _max_error(log_probs, EXPECTED["model_ema"], lengths) < 1e-3


def test_cli_errors_exit_2_naming_the_file(tmp_path, capsys):
    bad_dict = tmp_path / "gloss_dict.npy"
    np.save(bad_dict, {f"G{i}": [i, 1] for i in range(1, 5)})
    assert cli(["import-mamba-slr", str(AMP), "--gloss-dict", str(bad_dict), "--out", str(tmp_path / "o.pt")]) == 2
    assert "4 glosses + blank, but the checkpoint's head has 11 classes" in capsys.readouterr().err
    copy = tmp_path / "checkpoint.pth"
    shutil.copy(AMP, copy)
    assert cli(["import-mamba-slr", str(copy), "--gloss-dict", str(DATA / "gloss_dict.npy"),
                "--out", str(copy)]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert cli(["import-mamba-slr", str(tmp_path / "nope.pth"), "--gloss-dict", str(DATA / "gloss_dict.npy"),
                "--out", str(tmp_path / "o.pt")]) == 2
    assert "nope.pth: no such checkpoint" in capsys.readouterr().err


def test_layer_decay_groups_as_the_original():
    model = create_model("mamba_slr_tiny", 11)
    last = model.num_decay_layers - 1
    assert model.num_decay_layers == model.config.depth + 2
    assert model.layer_decay_id("cls_token") == model.layer_decay_id("patch_embed.stem.weight") == 0
    assert model.layer_decay_id("layers.0.spatial_mixer.in_proj.weight") == 1
    assert model.layer_decay_id("layers.1.spatial_norm.weight") == 2
    assert model.layer_decay_id("layers.1.mlp.fc2.weight") == model.layer_decay_id("layers.1.mlp_norm.bias") == 2
    for name in ("layers.0.temporal_mixer.in_proj.weight", "layers.1.temporal_norm.weight", "norm_f.weight",
                 "head.bias"):
        assert model.layer_decay_id(name) == last, name
    assert all(0 <= model.layer_decay_id(n) <= last for n, _ in model.named_parameters())
    assert "cls_token" in model.no_weight_decay()


def test_config_round_trip_and_family():
    model = create_model("mamba_slr_tiny", 11, headdim=8)
    data = model.config.to_dict()
    assert data["family"] == "mamba_slr"
    rebuilt = create_model_from_config(json.loads(json.dumps(data)))
    assert isinstance(rebuilt, MambaSLRCTC) and rebuilt.config == model.config
    assert create_model(data["name"], **data).config == model.config
    old_style = create_model("slr_mamba_tiny", 5).config.to_dict()
    del old_style["family"]  # configs saved before families existed
    assert type(create_model_from_config(old_style)).__name__ == "SLRMambaCTC"
    with pytest.raises(ValueError, match="spatial_ngroups"):
        MambaSLRConfig(spatial_ngroups=2)
    with pytest.raises(ValueError, match="multiple of 16"):
        MambaSLRConfig(img_size=40)
    with pytest.raises(ValueError, match="unknown MambaSLRConfig field"):
        MambaSLRConfig.from_dict({"family": "mamba_slr", "depht": 3})


def test_head_dropout_and_drop_path_only_in_training():
    torch.manual_seed(0)
    model = create_model("mamba_slr_tiny", 7, drop_path_rate=0.5, head_drop_rate=0.5, backend="reference")
    frames, lengths = torch.randn(6, 3, 32, 32), torch.tensor([4, 2])
    model.eval()
    first, second = model(frames, lengths).log_probs, model(frames, lengths).log_probs
    assert torch.equal(first, second)
    model.train()
    assert not torch.allclose(model(frames, lengths).log_probs, model(frames, lengths).log_probs)
