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
