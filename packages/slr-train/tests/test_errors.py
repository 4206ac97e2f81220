"""Every public slr_train exception derives from SlrTrainError and takes one argument shape."""

import errno as errnos
import inspect
import pickle

import pytest

import slr_train
from slr_train import errors


def _public_error_classes():
    found = {obj for name in errors.__all__ if isinstance(obj := getattr(errors, name), type)}
    found |= {obj for obj in vars(slr_train).values()
              if isinstance(obj, type) and issubclass(obj, Exception)}
    return sorted(found, key=lambda c: c.__name__)


def test_every_public_error_derives_from_the_base():
    classes = _public_error_classes()
    assert {errors.CheckpointError, errors.InitFromError, errors.OutputPathError, errors.EvaluationError,
            errors.DeepSpeedConfigError, errors.CTCInfeasibleError, errors.NonFiniteLossError} <= set(classes)
    for cls in classes:
        assert issubclass(cls, errors.SlrTrainError), cls


def test_former_homes_and_builtin_mixins_are_kept():
    from slr_train import atomic, config, evaluation, feasibility, init_from, manifest, nonfinite

    assert manifest.CheckpointError is errors.CheckpointError
    assert init_from.InitFromError is errors.InitFromError
    assert atomic.OutputPathError is errors.OutputPathError
    assert evaluation.EvaluationError is errors.EvaluationError
    assert config.DeepSpeedConfigError is errors.DeepSpeedConfigError
    assert feasibility.CTCInfeasibleError is errors.CTCInfeasibleError
    assert nonfinite.NonFiniteLossError is errors.NonFiniteLossError
    for cls, builtin in [(errors.CheckpointError, RuntimeError),
                         (errors.InitFromError, errors.CheckpointError),
                         (errors.OutputPathError, OSError), (errors.EvaluationError, RuntimeError),
                         (errors.DeepSpeedConfigError, ValueError),
                         (errors.CTCInfeasibleError, ValueError), (errors.NonFiniteLossError, RuntimeError)]:
        assert issubclass(cls, builtin), cls


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda c: c.__name__)
def test_common_shape_and_format(cls):
    assert list(inspect.signature(cls).parameters)[:4] == ["message", "path", "line", "key"]
    error = cls("bad value", "run/ckpt.pt", line=3, key="model")
    assert str(error) == "run/ckpt.pt:3: key 'model': bad value"
    assert (error.message, error.path, error.line, error.key) == ("bad value", "run/ckpt.pt", 3, "model")
    assert str(cls("bad value", "run/ckpt.pt", line=3)) == "run/ckpt.pt:3: bad value"
    assert str(cls("bad value", "run/ckpt.pt")) == "run/ckpt.pt: bad value"
    assert str(cls("bad value")) == "bad value"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == str(error) and back.key == "model"


def test_output_path_error_keeps_the_oserror_fields():
    message = "cannot write: No space left on device"
    error = errors.OutputPathError(message, "run/log.txt", errno=errnos.ENOSPC)
    assert (error.errno, error.filename, error.strerror) == (
        errnos.ENOSPC, "run/log.txt", message)
    assert str(error) == "run/log.txt: cannot write: No space left on device"
    back = pickle.loads(pickle.dumps(error))
    assert (back.errno, back.filename, str(back)) == (errnos.ENOSPC, "run/log.txt", str(error))
