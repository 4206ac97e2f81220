"""Every public slr_data exception derives from SlrDataError and takes one argument shape."""

import inspect
import pickle

import pytest

import slr_data
from slr_data import errors


def _public_error_classes():
    found = {obj for name in errors.__all__ if isinstance(obj := getattr(errors, name), type)}
    found |= {obj for obj in vars(slr_data).values() if isinstance(obj, type) and issubclass(obj, Exception)}
    return sorted(found, key=lambda c: c.__name__)


def test_every_public_error_derives_from_the_base():
    classes = _public_error_classes()
    assert errors.DataFormatError in classes and errors.FrameReadError in classes
    for cls in classes:
        assert issubclass(cls, errors.SlrDataError), cls
    assert errors.DataError is errors.SlrDataError


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda c: c.__name__)
def test_common_shape_and_format(cls):
    assert list(inspect.signature(cls).parameters)[:4] == ["message", "path", "line", "key"]
    error = cls("bad value", "a/b.csv", line=3, key="k")
    assert str(error) == "a/b.csv:3: key 'k': bad value"
    assert (error.message, error.path, error.line, error.key) == ("bad value", "a/b.csv", 3, "k")
    assert str(cls("bad value", "a/b.csv", line=3)) == "a/b.csv:3: bad value"
    assert str(cls("bad value", "a/b.csv")) == "a/b.csv: bad value"
    assert str(cls("bad value")) == "bad value"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == str(error) and back.line == 3 and back.key == "k"


def test_builtin_mixins_are_kept():
    assert issubclass(errors.DataFormatError, ValueError) and issubclass(errors.UnsafePickleError, ValueError)
    assert issubclass(errors.UnknownGlossError, ValueError)
    assert issubclass(errors.FrameReadError, OSError) and issubclass(errors.OutputPathError, OSError)
    assert errors.DataFormatError("x", "f", key=2).entry == 2  # the former attribute name


def test_unknown_gloss_error_builds_its_message():
    error = errors.UnknownGlossError(unknown=["B", "A", "B"], context="video 7")
    assert error.unknown == ["A", "B"]
    assert str(error).startswith("video 7: unknown gloss(es) 'A', 'B'; build the vocabulary")
