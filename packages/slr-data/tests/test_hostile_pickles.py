"""Tiny hostile pickles / .npy files must be refused, naming the file, before they allocate.

The memory probes run in a subprocess whose address space is capped 100 MiB above what it uses
after importing slr_data (``slr_data_bounded_probe``): a regression raises MemoryError there
instead of taking the machine's memory.
"""

import io
import pickle
import struct
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
from slr_data import DataLimits, load_info, using_limits
from slr_data.errors import DataFormatError, UnsafePickleError
from slr_data.safe_pickle import load_npy, load_pickle

_CORE = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray


class _Calls:
    """Pickles as ``func(*args)`` (optionally followed by a BUILD of ``state``)."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _info_npy(path, value):
    """A ``*_info.npy`` whose first entry holds ``value`` (what np.save writes: an object array)."""
    np.save(path, {"prefix": "p", 0: {"fileid": value}}, allow_pickle=True)
    return str(path)


def _hostile_files(tmp_path) -> dict[str, str]:
    files = {
        "bytearray": _info_npy(tmp_path / "dev_info.npy", _Calls(bytearray, (8 << 30,))),
        "bytes": _info_npy(tmp_path / "bytes_info.npy", _Calls(bytes, (2**62,))),
        "reconstruct": _info_npy(
            tmp_path / "recon_info.npy", _Calls(_CORE._reconstruct, (np.ndarray, (10**12,), b"b"))
        ),
        "object_array": _info_npy(
            tmp_path / "objects_info.npy",
            _Calls(_CORE._reconstruct, (np.ndarray, (0,), b"b"), (1, (10**9,), np.dtype("O"), False, [None])),
        ),
    }
    raw = {
        "binbytes8": b"\x80\x04\x8e" + struct.pack("<Q", 8 << 30) + b"xx.",
        "bytearray8": b"\x80\x05\x96" + struct.pack("<Q", 8 << 30) + b"xx.",
        "frame": b"\x80\x04\x95" + struct.pack("<Q", 8 << 30) + b"N.",
        "binunicode": b"\x80\x03X" + struct.pack("<I", 0xFFFFFFF0) + b"x.",
        "deep_tuple_key": b"\x80\x02}N" + b"\x85" * 1_000_000 + b"Ns.",  # hash() of it would crash
    }
    laughs = b"\x80\x02]q\x00(" + b"N" * 10 + b"e"  # L0 = [None]*10, Li = [L(i-1)]*10: 10**10 elements
    for level in range(1, 10):
        laughs += b"]q" + bytes([level]) + b"(" + (b"h" + bytes([level - 1])) * 10 + b"e"
    raw["laughs"] = laughs + b"."
    for name, data in raw.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        files[name] = str(path)
    header = tmp_path / "shape_info.npy"
    with open(header, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)}
        )
    files["npy_shape"] = str(header)
    objects = tmp_path / "objects_header.npy"
    with open(objects, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "|O", "fortran_order": False, "shape": (10**13,)}
        )
    files["npy_objects"] = str(objects)
    return files


_EXPECTED = {
    "bytearray": "bytearray(8589934592) would allocate",
    "bytes": "would allocate 4611686018427387904 bytes",
    "reconstruct": "an array of shape (1000000000000,) would allocate",
    "object_array": "needs a list of 1000000000 objects",
    "binbytes8": "BINBYTES8 of 8589934592 bytes declared",
    "bytearray8": "BYTEARRAY8 of 8589934592 bytes declared",
    "frame": "a frame of 8589934592 bytes",
    "binunicode": "BINUNICODE of 4294967280 bytes declared",
    "deep_tuple_key": "nest more than 100 levels",
    "laughs": "more than 10000000 elements",
    "npy_shape": "header declares a (10000000000000,) float64 array",
    "npy_objects": "header declares 10000000000000 objects",
}


def test_tiny_hostile_files_are_refused_before_allocating(tmp_path, slr_data_bounded_probe):
    files = _hostile_files(tmp_path)
    assert (tmp_path / "dev_info.npy").stat().st_size < 400  # the "312-byte dev_info.npy"
    names = sorted(files)
    results = slr_data_bounded_probe([("slr_data.safe_pickle:load_pickle", [files[n]], {}) for n in names])
    for name, result in zip(names, results, strict=True):
        assert not result["ok"], name
        assert result["type"] == "DataFormatError", (name, result)
        assert result["message"].startswith(files[name] + ":"), (name, result["message"])
        assert _EXPECTED[name] in result["message"], (name, result["message"])


def test_the_same_probes_through_the_info_loader(tmp_path):
    files = _hostile_files(tmp_path)
    with pytest.raises(DataFormatError, match="dev_info.npy: bytearray"):
        load_info(files["bytearray"])
    with pytest.raises(DataFormatError, match="shape_info.npy: header declares"):
        load_npy(files["npy_shape"])


def test_byte_budget_is_overridable(tmp_path):
    path = tmp_path / "small.pkl"
    path.write_bytes(pickle.dumps(_Calls(bytearray, (2 << 20,)), protocol=2))  # 2 MiB of zeros
    with pytest.raises(DataFormatError, match="at most"):
        load_pickle(path)  # default: the file's size + 1 MiB
    assert len(load_pickle(path, limits=DataLimits(max_pickle_bytes=4 << 20))) == 2 << 20
    with using_limits(max_pickle_bytes=4 << 20):
        assert len(load_pickle(path)) == 2 << 20
    with pytest.raises(DataFormatError, match="SLR_DATA_MAX_PICKLE_BYTES"):
        load_pickle(path, limits=DataLimits(max_pickle_bytes=1 << 20))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x02]q\x00h\x00a.", "contains itself"),  # l = []; l.append(l)
        (b"\x80\x02]q\x00]q\x01h\x00ah\x00h\x01a.", "changed after it was put into another container"),
        (b"\x80\x02N" + b"\x85" * 200 + b".", "nest more than 100 levels"),
        (b"\x80\x02]" + b"(]" * 150 + b"e" * 150 + b".", "nest more than 100 levels"),
        (b"\x80\x02K\x01}\x81.", "refusing to call a int"),  # NEWOBJ on a non-constructor
        (b"\x80\x02]}b.", "refusing to set the state of a list"),  # BUILD on a list
    ],
)
def test_malformed_structures_are_refused(tmp_path, data, message):
    path = tmp_path / "bad.pkl"
    path.write_bytes(data)
    with pytest.raises(DataFormatError, match=message) as info:
        load_pickle(path)
    assert str(path) in str(info.value)


def test_depth_and_item_limits_are_overridable(tmp_path):
    path = tmp_path / "nested.pkl"
    nested = []
    for _ in range(150):
        nested = [nested]
    path.write_bytes(pickle.dumps(nested, protocol=4))
    with pytest.raises(DataFormatError, match="nest more than 100"):
        load_pickle(path)
    assert isinstance(load_pickle(path, limits=DataLimits(max_pickle_depth=200)), list)
    wide = tmp_path / "wide.pkl"
    wide.write_bytes(pickle.dumps(list(range(1000)), protocol=4))
    with pytest.raises(DataFormatError, match="more than 999 elements"):
        load_pickle(wide, limits=DataLimits(max_pickle_items=999))
    assert len(load_pickle(wide)) == 1000


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (_Calls(str, ([1, 2],)), "str() of a list"),
        (_Calls(np.ndarray, ((10**12,),)), "numpy.ndarray may only be passed to _reconstruct"),
        (_Calls(np.dtype, ([("a", "f8")],)), "numpy.dtype() of a list"),
        (_Calls(defaultdict, (bytes.fromhex,)), "not an allowed constructor|refusing to unpickle"),
        (_Calls(list, (10**9,)), "list() of a int"),
        (_Calls(bytes, ("x", "rot13")), "encoding 'rot13'"),
        (_Calls(_CORE.scalar, (np.dtype("V4000000"),)), "would allocate 4000000 bytes"),
    ],
)
def test_constructors_check_their_arguments(tmp_path, call, message):
    path = tmp_path / "call.pkl"
    path.write_bytes(pickle.dumps(call, protocol=2))
    with pytest.raises(DataFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_pickle(path)


def test_dtype_states_that_corrupt_memory_are_refused(tmp_path):
    # numpy itself accepts both: an object field outside an 8-byte item, and an object dtype
    # whose flags say it holds no objects (its elements would not be reference counted)
    object_field = _Calls(
        np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (np.dtype("O"), 100)}, 8, 1, 63)
    )
    no_flags = _Calls(np.dtype, ("O8", False, True), (3, "|", None, None, None, -1, -1, 0))
    shared = _Calls(np.dtype, ("f8", False, False), (3, ">", None, None, None, -1, -1, 0))
    for name, call, message in (
        ("field.pkl", object_field, "holds objects"),
        ("flags.pkl", no_flags, "does not describe"),
        ("shared.pkl", shared, None),
    ):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(call, protocol=2))
        if message is None:  # the dtype is a private copy: numpy's float64 keeps its byte order
            assert load_pickle(path).byteorder == ">"
            assert np.dtype("f8").byteorder == "="
            continue
        with pytest.raises(DataFormatError, match=message):
            load_pickle(path)


def test_unsafe_globals_still_refused_in_every_protocol(tmp_path):
    for protocol in range(6):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(_Calls(print, ("x",)), protocol=protocol))
        with pytest.raises(UnsafePickleError, match="builtins.print"):
            load_pickle(path)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_legitimate_data_loads_in_every_protocol(tmp_path, protocol):
    data = {
        "prefix": "x",
        0: {"fileid": "a", "num_frames": 3, "label": "A B", "big": 10**40, "neg": -5, "f": 0.5},
        "arrays": [
            np.arange(12, dtype=np.float32).reshape(3, 4),
            np.asfortranarray(np.eye(3)),
            np.zeros((0, 7)),
        ],
        "objects": np.array([{"k": [1, 2]}, None, "s"], dtype=object),
        "bytes": [b"\x00" * 300, bytearray(b"xyz")],
        "ordered": OrderedDict(b=2, a=1),
        "default": defaultdict(set, {"k": {1}}),
        "shared": [[1, 2]] * 3,
        "nested": (("a", ("b",)), frozenset({(1, 2)})),
        "scalars": [np.int16(-3), np.float64(1.5), np.complex64(1j), np.str_("u")],
        "structured": np.zeros(2, dtype=[("a", "<f4"), ("b", ">i8", (2,))]),
        "datetime": np.array(["2020-01-01"], dtype="datetime64[D]"),
    }
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_pickle(path)
    assert loaded[0] == data[0]
    for mine, theirs in zip(loaded["arrays"], data["arrays"], strict=True):
        np.testing.assert_array_equal(mine, theirs)
        assert mine.flags.f_contiguous == theirs.flags.f_contiguous
    assert loaded["objects"][0] == {"k": [1, 2]} and loaded["objects"][2] == "s"
    assert loaded["bytes"] == data["bytes"] and isinstance(loaded["bytes"][1], bytearray)
    assert list(loaded["ordered"]) == ["b", "a"]
    assert loaded["default"].default_factory is set and loaded["default"]["k"] == {1}
    assert loaded["shared"] == [[1, 2]] * 3
    assert loaded["nested"] == data["nested"]
    assert loaded["scalars"] == data["scalars"]
    assert loaded["structured"].dtype == data["structured"].dtype
    np.testing.assert_array_equal(loaded["datetime"], data["datetime"])


def test_numeric_npy_checked_against_the_file_size(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.arange(24, dtype=np.int16).reshape(2, 3, 4))
    np.testing.assert_array_equal(load_npy(good), np.arange(24).reshape(2, 3, 4))
    assert load_npy(good).flags.writeable
    fortran = tmp_path / "fortran.npy"
    np.save(fortran, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(load_npy(fortran), np.arange(6.0).reshape(2, 3))
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(good.read_bytes()[:-2])
    with pytest.raises(
        DataFormatError, match=r"truncated.npy: header declares a \(2, 3, 4\) int16 array \(48 bytes\)"
    ):
        load_npy(truncated)
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 50)
    with pytest.raises(DataFormatError, match="garbage.npy: not a valid .npy file"):
        load_npy(garbage)


def test_non_regular_files_are_refused(tmp_path):
    with pytest.raises(DataFormatError, match="not a regular file"):
        load_pickle("/dev/zero")
    with pytest.raises(DataFormatError, match="is a directory"):
        load_info(tmp_path)


def test_pickles_stream_from_the_file(tmp_path):
    arrays = {f"v{i}": np.full((50, 121, 3), i, dtype=np.float32) for i in range(20)}
    path = tmp_path / "keypoints.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=4))
    loaded = load_pickle(path)
    assert sorted(loaded) == sorted(arrays) and float(loaded["v7"][0, 0, 0]) == 7.0
    buffer = io.BytesIO(pickle.dumps([1, "two", b"3"], protocol=5) + b"trailing")
    from slr_data.safe_pickle import RestrictedUnpickler

    assert RestrictedUnpickler(buffer, source="<memory>").load() == [1, "two", b"3"]


def test_extension_codes_never_bypass_the_allow_list(tmp_path):
    import copyreg
    import os

    copyreg.add_extension(os.system.__module__, "system", 0x7FFF_FF01)
    try:
        data = b"\x80\x02\x84" + struct.pack("<i", 0x7FFF_FF01) + b"."
        pickle._loads(data)  # an ordinary unpickler caches os.system under that code (nothing runs)
        path = tmp_path / "ext.pkl"
        path.write_bytes(data)
        with pytest.raises(UnsafePickleError, match="system"):
            load_pickle(path)
    finally:
        copyreg.remove_extension(os.system.__module__, "system", 0x7FFF_FF01)
