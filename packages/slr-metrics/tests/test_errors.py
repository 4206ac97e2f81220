"""Every public slr_metrics exception derives from SlrMetricsError and takes one argument shape."""

import errno as errnos
import inspect
import pickle

import pytest

import slr_metrics
from slr_metrics import errors


def _public_error_classes():
    found = {obj for name in errors.__all__ if isinstance(obj := getattr(errors, name), type)}
    found |= {obj for obj in vars(slr_metrics).values()
              if isinstance(obj, type) and issubclass(obj, Exception)}
    return sorted(found, key=lambda c: c.__name__)


def test_every_public_error_derives_from_the_base():
    classes = _public_error_classes()
    assert {errors.FormatError, errors.ScoringError, errors.OutputError} <= set(classes)
    for cls in classes:
        assert issubclass(cls, errors.SlrMetricsError), cls


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda c: c.__name__)
def test_common_shape_and_format(cls):
    assert list(inspect.signature(cls).parameters)[:4] == ["message", "path", "line", "key"]
    error = cls("bad value", "ref.stm", line=3, key="utt1")
    assert str(error) == "ref.stm:3: key 'utt1': bad value"
    assert (error.message, error.reason, error.path, error.line, error.key) == (
        "bad value", "bad value", "ref.stm", 3, "utt1")
    assert str(cls("bad value", "ref.stm", line=3)) == "ref.stm:3: bad value"
    assert str(cls("bad value", "ref.stm")) == "ref.stm: bad value"
    assert str(cls("bad value")) == "bad value"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == str(error) and back.line == 3 and back.key == "utt1"


def test_builtin_mixins_are_kept():
    assert issubclass(errors.FormatError, ValueError) and issubclass(errors.ScoringError, ValueError)
    error = errors.OutputError("cannot write: disk full", "out.pra", errno=errnos.ENOSPC)
    assert isinstance(error, OSError) and error.errno == errnos.ENOSPC
    assert str(error) == "out.pra: cannot write: disk full"
    assert pickle.loads(pickle.dumps(error)).errno == errnos.ENOSPC
