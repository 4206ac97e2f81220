import io
import os
import pickle
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
from slr_data import load_info
from slr_data.errors import DataFormatError, UnsafePickleError
from slr_data.safe_pickle import load_npy, load_pickle


class _RunsCommand:
    """Pickles to ``os.system(<touch marker>)``: what a malicious info file would hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"prefix": "x", 0: _RunsCommand(marker)}, protocol=protocol))
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(path)
    assert str(path) in str(info.value)
    assert "system" in str(info.value)
    assert not marker.exists()


def test_malicious_info_npy_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "train_info.npy"
    np.save(path, {"prefix": "p", 0: {"fileid": _RunsCommand(marker)}}, allow_pickle=True)
    with pytest.raises(UnsafePickleError, match="train_info.npy"):
        load_info(path)
    assert not marker.exists()


def test_eval_global_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([1, _Evaluates()]))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_pickle(path)


def test_plain_data_round_trips(tmp_path):
    data = {
        "prefix": "some/where",
        0: {"fileid": "a", "num_frames": 3, "f": 1.5, "c": 1 + 2j, "b": b"xy", "t": (1, "2")},
        "arrays": [np.zeros((2, 3), np.float32), np.arange(4), np.array(["a", "bc"])],
        "scalars": [np.float64(2.5), np.int64(7), np.bool_(True)],
        "sets": [{1, 2}, frozenset({3})],
        "ordered": OrderedDict(a=1),
        "default": defaultdict(list, {"k": [1]}),
        "objects": np.array([{"x": 1}, None], dtype=object),
        "structured": np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]),
    }
    for protocol in (2, 3, 4, 5):
        path = tmp_path / f"ok{protocol}.pkl"
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        loaded = load_pickle(path)
        assert loaded["prefix"] == data["prefix"]
        assert loaded[0] == data[0]
        np.testing.assert_array_equal(loaded["arrays"][0], data["arrays"][0])
        assert loaded["arrays"][2].tolist() == ["a", "bc"]
        assert loaded["scalars"] == data["scalars"]
        assert loaded["sets"] == data["sets"]
        assert loaded["default"]["k"] == [1] and loaded["default"].default_factory is list
        assert loaded["objects"][0] == {"x": 1}
        assert loaded["structured"].dtype == data["structured"].dtype


def test_npy_dict_and_numeric_npy(tmp_path):
    path = tmp_path / "info.npy"
    np.save(path, {"prefix": "p", 0: {"fileid": "x"}}, allow_pickle=True)
    assert load_info(path) == {"prefix": "p", 0: {"fileid": "x"}}
    numeric = tmp_path / "numbers.npy"
    np.save(numeric, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(load_npy(numeric), np.arange(6).reshape(2, 3))
    with pytest.raises(DataFormatError, match="expected a pickled dict"):
        load_info(numeric)


def test_truncated_and_garbage_files_name_the_file(tmp_path):
    good = io.BytesIO()
    np.save(good, {"prefix": "p", 0: {"fileid": "x" * 100}}, allow_pickle=True)
    truncated = tmp_path / "dev_info.npy"
    truncated.write_bytes(good.getvalue()[:-40])
    with pytest.raises(DataFormatError, match="dev_info.npy"):
        load_info(truncated)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"this is not a pickle")
    with pytest.raises(DataFormatError, match="garbage.pkl"):
        load_pickle(garbage)
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        load_info(tmp_path / "missing.npy")


def test_real_info_files_load_safely(slr_data_phoenix_meta):
    sizes = {"train": 5671, "dev": 540, "test": 629}
    for split, size in sizes.items():
        info = load_info(slr_data_phoenix_meta / f"{split}_info.npy")
        assert isinstance(info["prefix"], str)
        assert len([k for k in info if k != "prefix"]) == size
        assert set(info[0]) >= {"fileid", "folder", "signer", "label", "num_frames"}
