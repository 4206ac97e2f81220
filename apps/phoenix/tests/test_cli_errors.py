"""Bad input ends a command with exit status 2 and one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from slr_phoenix.cli import EXIT_BAD_INPUT, main


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_a_missing_checkpoint_is_named(tmp_path: Path, capsys):
    missing = tmp_path / "nowhere.pt"
    code, err = _run(capsys, "evaluate", "--checkpoint", str(missing))
    assert code == EXIT_BAD_INPUT
    assert str(missing) in err and err.startswith("slr-phoenix evaluate: error:")


def test_a_corrupt_checkpoint_is_named_not_a_traceback(tmp_path: Path, capsys):
    corrupt = tmp_path / "best-000000010.pt"
    corrupt.write_bytes(b"not a torch file")
    code, err = _run(capsys, "predict", "--checkpoint", str(corrupt), str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert str(corrupt.with_suffix(".json")) in err or str(corrupt) in err
    assert "Traceback" not in err


def test_an_unknown_config_key_is_named(capsys):
    code, err = _run(capsys, "train", "--print-config", "--set", "train.optim.lrr=1")
    assert code == EXIT_BAD_INPUT
    assert "train.optim.lrr" in err or "lrr" in err


@pytest.mark.parametrize("value", ["[1, 2", "{a: }"])
def test_an_unparsable_override_is_an_error(value, capsys):
    code, err = _run(capsys, "train", "--print-config", "--set", f"train.optim.lr={value}")
    assert code == EXIT_BAD_INPUT and "train.optim.lr" in err


def test_a_contradictory_deepspeed_setting_fails_before_training(tmp_path: Path, capsys):
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--out", str(out), "--engine", "deepspeed", "--zero-stage", "0",
                     "--precision", "fp32")
    assert code == EXIT_BAD_INPUT and "fp32 with ZeRO stage 0" in err
    assert not out.exists()


def test_an_invalid_deepspeed_json_names_file_and_line(tmp_path: Path, capsys):
    ds = tmp_path / "ds.json"
    ds.write_text('{\n  "zero_optimization": {"stage": 2},\n  oops\n}\n')
    code, err = _run(capsys, "train", "--out", str(tmp_path / "run"), "--engine", "deepspeed",
                     "--deepspeed-config", str(ds))
    assert code == EXIT_BAD_INPUT and f"{ds}:3: invalid JSON" in err


@pytest.mark.parametrize("device", ["gpu0", "cuda"])
def test_an_unusable_predict_device_is_an_error(device, tmp_path: Path, capsys):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    code, err = _run(capsys, "predict", "--checkpoint", str(tmp_path), "--device", device, str(tmp_path))
    assert code == EXIT_BAD_INPUT and f"--device {device!r}" in err
