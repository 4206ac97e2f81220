"""Every slr_phoenix exception derives from SlrPhoenixError and takes the packages' argument shape."""

import inspect
import pickle

import pytest

from slr_phoenix import errors, inference, reports, settings


def _public_error_classes():
    return sorted({obj for name in errors.__all__ if isinstance(obj := getattr(errors, name), type)},
                  key=lambda c: c.__name__)


def test_every_error_derives_from_the_base_and_keeps_its_home_and_builtin():
    assert settings.ConfigError is errors.ConfigError and issubclass(errors.ConfigError, ValueError)
    assert inference.CheckpointNotFoundError is errors.CheckpointNotFoundError
    assert issubclass(errors.CheckpointNotFoundError, FileNotFoundError)
    assert reports.ScoringMismatchError is errors.ScoringMismatchError
    assert issubclass(errors.ScoringMismatchError, RuntimeError)
    for cls in _public_error_classes():
        assert issubclass(cls, errors.SlrPhoenixError), cls


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda c: c.__name__)
def test_common_shape_and_format(cls):
    assert list(inspect.signature(cls).parameters)[:4] == ["message", "path", "line", "key"]
    error = cls("bad value", "run.yaml", line=3, key="optim.lr")
    assert str(error) == "run.yaml:3: key 'optim.lr': bad value"
    assert str(cls("bad value", "run.yaml")) == "run.yaml: bad value" and str(cls("bad value")) == "bad value"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == str(error) and back.line == 3


def test_a_checkpoint_missing_a_key_names_file_and_key(tmp_path):
    from slr_train import CheckpointError, CheckpointManager

    payload = {"model": {}, "config": {}, "extra": {}}  # a best checkpoint without "weights"
    path = CheckpointManager(tmp_path).save(payload, step=1, epoch=1, kind="best")
    with pytest.raises(CheckpointError, match=r"best-000000001\.pt: key 'weights': missing"):
        inference.load_trained(path)


@pytest.mark.parametrize("base", ["slr_data:SlrDataError", "slr_metrics:SlrMetricsError",
                                  "slr_models:SlrModelsError", "slr_train:SlrTrainError",
                                  "slr_phoenix.errors:SlrPhoenixError"])
def test_cli_maps_every_package_error_base_to_one_line_and_exit_2(base, monkeypatch, capsys):
    import importlib

    from slr_phoenix import cli

    module, name = base.split(":")
    error = getattr(importlib.import_module(module), name)

    def fail(args):
        raise error("something the user gave is wrong", "input.file", line=3)

    monkeypatch.setattr(cli, "cmd_evaluate", fail)
    assert cli.main(["evaluate", "--checkpoint", "run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "slr-phoenix evaluate: error: input.file:3: something the user gave is wrong"
    assert not any("Traceback" in line for line in err)


def test_cli_reports_an_unexpected_exception_as_internal_error(monkeypatch, capsys):
    from slr_phoenix import cli

    monkeypatch.setattr(cli, "cmd_evaluate", lambda args: {}["missing"])
    assert cli.main(["evaluate", "--checkpoint", "run"]) == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "--debug" in err and "Traceback" not in err
