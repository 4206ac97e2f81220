"""Every public slr_models exception derives from SlrModelsError and takes one argument shape; bad
input (configs, names, checkpoints) raises them, and they stay ValueErrors."""

import inspect
import pickle

import pytest

import slr_models
from slr_models import errors


def _public_error_classes():
    found = {obj for name in errors.__all__ if isinstance(obj := getattr(errors, name), type)}
    found |= {obj for obj in vars(slr_models).values()
              if isinstance(obj, type) and issubclass(obj, Exception)}
    return sorted(found, key=lambda c: c.__name__)


def test_every_public_error_derives_from_the_base():
    classes = _public_error_classes()
    assert {errors.CheckpointImportError, errors.ModelConfigError, errors.UnknownDecoderError} <= set(classes)
    for cls in classes:
        assert issubclass(cls, errors.SlrModelsError), cls
        assert cls is errors.SlrModelsError or issubclass(cls, ValueError), cls


@pytest.mark.parametrize("cls", _public_error_classes(), ids=lambda c: c.__name__)
def test_common_shape_and_format(cls):
    assert list(inspect.signature(cls).parameters)[:4] == ["message", "path", "line", "key"]
    error = cls("bad value", "model.pt", line=3, key="head.weight")
    assert str(error) == "model.pt:3: key 'head.weight': bad value"
    assert (error.message, error.path, error.line, error.key) == ("bad value", "model.pt", 3, "head.weight")
    assert str(cls("bad value", "model.pt", line=3)) == "model.pt:3: bad value"
    assert str(cls("bad value", "model.pt")) == "model.pt: bad value"
    assert str(cls("bad value")) == "bad value"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls and str(back) == str(error) and back.key == "head.weight"


def test_bad_input_raises_the_package_errors():
    with pytest.raises(errors.UnknownModelError, match="unknown model 'no_such_model'"):
        slr_models.get_config("no_such_model")
    with pytest.raises(errors.ModelConfigError, match="unknown SLRMambaConfig field"):
        slr_models.SLRMambaConfig.from_dict({"no_such_field": 1})
    with pytest.raises(errors.ModelConfigError, match="drop_path_rate must be in"):
        slr_models.SLRMambaConfig(drop_path_rate=1.5)
    with pytest.raises(errors.UnknownDecoderError):
        slr_models.create_decoder("no_such_decoder")
    with pytest.raises(errors.DecoderOptionError):
        slr_models.create_decoder("greedy", no_such_option=1)


def test_checkpoint_import_error_names_the_file(tmp_path):
    from slr_models.interop import read_gloss_dict

    path = tmp_path / "gloss_dict.npy"
    path.write_bytes(b"not an npy file")
    with pytest.raises(errors.CheckpointImportError) as info:
        read_gloss_dict(path)
    assert info.value.path == str(path) and str(info.value).startswith(f"{path}: ")
