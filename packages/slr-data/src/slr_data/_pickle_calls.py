"""The globals a metadata pickle may name, and the checked constructor behind each.

Every constructor checks its arguments before anything is allocated: only plain data goes in
(no ``str()`` of a container, no codec beyond the text encodings), sizes are charged to the
unpickler's byte budget (``bytearray(2**33)``, ``bytes(2**62)``, a reconstructed array's
declared shape), and the containers it builds are registered so that their depth and size count.
numpy objects are rebuilt the way numpy pickles them, with two more checks numpy does not make:
an object array's element list must match its shape (numpy allocates the shape first), and a
dtype's state must describe the dtype its public constructor would build (numpy accepts states
that place an object field outside the item or clear the object flags, which corrupts memory).
"""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict, defaultdict
from collections.abc import Callable

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "CALLS", "resolve_global", "build_array", "build_dtype"]

_CORE_FUNCTIONS = (("multiarray", "_reconstruct"), ("multiarray", "scalar"), ("numeric", "_frombuffer"))

#: (module, name) pairs the unpickler may resolve. ``numpy.core`` is the numpy<2 spelling of
#: ``numpy._core``; both appear in files written by different numpy versions.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [
        ("builtins", name)
        for name in (
            "set",
            "frozenset",
            "list",
            "dict",
            "tuple",
            "bytearray",
            "bytes",
            "complex",
            "int",
            "float",
            "str",
            "bool",
        )
    ]
    + [("collections", "OrderedDict"), ("collections", "defaultdict"), ("_codecs", "encode")]
    + [("numpy", "ndarray"), ("numpy", "dtype")]
    + [(f"numpy.{core}.{module}", name) for core in ("core", "_core") for module, name in _CORE_FUNCTIONS]
)


def _numpy_core_name() -> str:
    import importlib.util

    try:
        return "numpy._core" if importlib.util.find_spec("numpy._core.multiarray") else "numpy.core"
    except ImportError:  # pragma: no cover - numpy < 1.26
        return "numpy.core"


#: where this numpy keeps ``multiarray``/``numeric``; pickles name either spelling.
_NUMPY_CORE = _numpy_core_name()


def resolve_global(module: str, name: str):
    """The object an allowed ``(module, name)`` names (numpy's core spellings unified)."""
    if module.startswith(("numpy.core.", "numpy._core.")):
        module = _NUMPY_CORE + module[module.index(".", len("numpy.")) :]
    return getattr(importlib.import_module(module), name)


_TEXT_ENCODINGS = frozenset({"latin1", "latin-1", "iso-8859-1", "iso8859-1", "ascii", "utf-8", "utf8"})
_ATOMS = (int, float, complex, str, bytes, bool, type(None))
_SEQUENCES = (list, tuple, set, frozenset, dict, str, bytes, bytearray)
_FACTORIES = (
    list,
    dict,
    set,
    frozenset,
    tuple,
    int,
    float,
    complex,
    str,
    bytes,
    bytearray,
    bool,
    OrderedDict,
)
_MAX_SPEC = 256


def _no_kwargs(u, what, kwargs):
    if kwargs:
        raise u.fail(f"{what}() called with keyword arguments {sorted(kwargs)!r}")


def _arity(u, what, args, low, high):
    if not low <= len(args) <= high:
        raise u.fail(f"{what}() called with {len(args)} arguments")


def _elements(u, what, source) -> list:
    """The elements ``what(source)`` would hold, charged to the item budget."""
    if not isinstance(source, _SEQUENCES):
        raise u.fail(f"{what}() of a {type(source).__name__} is not allowed")
    u.count_items(len(source), f"{what}()")
    return list(source)


def _container(u, func, args, kwargs):
    what = func.__name__
    _no_kwargs(u, what, kwargs)
    _arity(u, what, args, 0, 1)
    items = _elements(u, what, args[0]) if args else []
    depth, count = u.account(items)
    return u.new(func(items), depth, count)


def _pairs(u, what, source) -> list[tuple]:
    if isinstance(source, dict):
        u.count_items(2 * len(source), f"{what}()")
        return list(source.items())
    pairs = _elements(u, what, source)
    if not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise u.fail(f"{what}() needs a mapping or (key, value) pairs")
    return [tuple(p) for p in pairs]


def _mapping(u, func, args, kwargs):
    what = func.__name__
    factory = ()
    if func is defaultdict:
        _arity(u, what, args, 0, 2)
        factory = (None,)
        if args:
            if args[0] is not None and not any(args[0] is f for f in _FACTORIES):
                raise u.fail(f"defaultdict() factory must be a plain type, got {args[0]!r}")
            factory, args = (args[0],), args[1:]
    else:
        _arity(u, what, args, 0, 1)
    pairs = _pairs(u, what, args[0]) if args else []
    pairs += list(kwargs.items())
    depth, count = u.account([x for pair in pairs for x in pair])
    return u.new(func(*factory, pairs), depth, count)


def _encoding(u, what, args, start):
    encoding = args[start] if len(args) > start else "utf-8"
    errors = args[start + 1] if len(args) > start + 1 else "strict"
    if not isinstance(encoding, str) or encoding.lower() not in _TEXT_ENCODINGS:
        raise u.fail(f"{what}() with encoding {encoding!r}: only {sorted(_TEXT_ENCODINGS)} are allowed")
    if not isinstance(errors, str):
        raise u.fail(f"{what}() errors must be a string")
    return encoding, errors


def _encoded_size(text: str, encoding: str) -> int:
    """An upper bound of ``len(text.encode(encoding))`` without encoding it."""
    return len(text) if encoding.lower() not in ("utf-8", "utf8") or text.isascii() else 4 * len(text)


def _bytes(u, func, args, kwargs):
    what = func.__name__
    _no_kwargs(u, what, kwargs)
    _arity(u, what, args, 0, 3)
    if not args:
        return func()
    source = args[0]
    if isinstance(source, str):
        encoding, errors = _encoding(u, what, args, 1)
        u.spend(_encoded_size(source, encoding), f"{what}(str)")
        return func(source, encoding, errors)
    if len(args) > 1:
        raise u.fail(f"{what}() takes an encoding only with a str")
    if isinstance(source, bool) or not isinstance(source, (int, bytes, bytearray, list, tuple)):
        raise u.fail(f"{what}() of a {type(source).__name__} is not allowed")
    if isinstance(source, int):
        if source < 0:
            raise u.fail(f"{what}({source}): negative size")
        u.spend(source, f"{what}({source})")
    else:
        if isinstance(source, (list, tuple)):
            u.count_items(len(source), f"{what}()")
        u.spend(len(source), f"{what}() copy")
    return func(source)


def _number(u, func, args, kwargs):
    what = func.__name__
    _no_kwargs(u, what, kwargs)
    _arity(u, what, args, 0, 2 if func in (int, complex) else 1)
    if not all(isinstance(a, (int, float, complex, str, bytes)) for a in args):
        raise u.fail(f"{what}() takes numbers or strings, got {[type(a).__name__ for a in args]}")
    return func(*args)


def _str(u, func, args, kwargs):
    _no_kwargs(u, "str", kwargs)
    _arity(u, "str", args, 0, 3)
    if not args:
        return ""
    source = args[0]
    if len(args) > 1:
        if not isinstance(source, (bytes, bytearray)):
            raise u.fail("str(x, encoding) needs bytes")
        encoding, errors = _encoding(u, "str", args, 1)
        u.spend(len(source), "str(bytes, encoding)")
        return str(source, encoding, errors)
    if not isinstance(source, _ATOMS):
        raise u.fail(f"str() of a {type(source).__name__} is not allowed")
    if isinstance(source, bytes):
        u.spend(4 * len(source), "str(bytes)")
    return str(source)


def _codecs_encode(u, func, args, kwargs):
    _no_kwargs(u, "_codecs.encode", kwargs)
    _arity(u, "_codecs.encode", args, 1, 3)
    if not isinstance(args[0], str):
        raise u.fail("_codecs.encode() needs a str")
    encoding, errors = _encoding(u, "_codecs.encode", args, 1)
    u.spend(_encoded_size(args[0], encoding), "_codecs.encode()")
    return func(args[0], encoding, errors)


def _dtype_spec(u, spec):
    if isinstance(spec, np.dtype):
        return spec
    if not isinstance(spec, (str, bytes)) or len(spec) > _MAX_SPEC:
        raise u.fail(f"a dtype must be given by a short string, got {type(spec).__name__}")
    return np.dtype(spec.decode("latin-1") if isinstance(spec, bytes) else spec)


def _dtype(u, func, args, kwargs):
    _no_kwargs(u, "numpy.dtype", kwargs)
    _arity(u, "numpy.dtype", args, 1, 3)
    if not isinstance(args[0], (str, bytes)) or len(args[0]) > _MAX_SPEC:
        raise u.fail(f"numpy.dtype() of a {type(args[0]).__name__} is not allowed (a short string is)")
    align = bool(args[1]) if len(args) > 1 else False
    spec = args[0].decode("latin-1") if isinstance(args[0], bytes) else args[0]
    made = np.dtype(spec, align, True)  # always a copy: a BUILD must never change numpy's shared dtypes
    u.mark_fresh_dtype(made)
    return made


def _shape(u, shape) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or len(shape) > 64:
        raise u.fail(f"an array shape must be a tuple of at most 64 ints, got {type(shape).__name__}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise u.fail(f"an array shape must hold non-negative ints, got {shape!r}")
    return shape


def _reconstruct(u, func, args, kwargs):
    _no_kwargs(u, "_reconstruct", kwargs)
    _arity(u, "_reconstruct", args, 3, 3)
    subtype, shape, spec = args
    if subtype is not np.ndarray:
        raise u.fail("_reconstruct() may only build numpy.ndarray")
    shape = _shape(u, shape)
    dtype = _dtype_spec(u, spec)
    u.spend(math.prod(shape) * max(dtype.itemsize, 1), f"an array of shape {shape}")
    array = func(np.ndarray, shape, dtype)
    u.mark_unbuilt(array)
    return array


def _scalar(u, func, args, kwargs):
    _no_kwargs(u, "scalar", kwargs)
    _arity(u, "scalar", args, 1, 2)
    dtype = args[0]
    if not isinstance(dtype, np.dtype):
        raise u.fail("numpy scalar() needs a dtype")
    if dtype.hasobject:
        if dtype.kind != "O" or len(args) != 2:
            raise u.fail("numpy scalar() of an object dtype needs exactly one object")
        return func(dtype, args[1])
    data = args[1] if len(args) > 1 else None
    if data is not None and (not isinstance(data, (bytes, str)) or len(data) != dtype.itemsize):
        raise u.fail(f"numpy scalar() of {dtype} needs {dtype.itemsize} bytes")
    u.spend(dtype.itemsize, f"a numpy scalar of {dtype}")
    return func(*args)


def _frombuffer(u, func, args, kwargs):
    _no_kwargs(u, "_frombuffer", kwargs)
    _arity(u, "_frombuffer", args, 4, 4)
    buffer, dtype, shape, order = args
    if not isinstance(buffer, (bytes, bytearray, memoryview)):
        raise u.fail(f"_frombuffer() of a {type(buffer).__name__} is not allowed")
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise u.fail("_frombuffer() needs a dtype without objects")
    shape = _shape(u, shape)
    if order not in ("C", "F"):
        raise u.fail(f"_frombuffer() order must be 'C' or 'F', got {order!r}")
    declared = math.prod(shape) * dtype.itemsize
    if declared != memoryview(buffer).nbytes:
        raise u.fail(
            f"an array of shape {shape} {dtype} needs {declared} bytes, its buffer holds {len(buffer)}"
        )
    return func(buffer, dtype, shape, order)


def _refuse_ndarray(u, func, args, kwargs):
    raise u.fail("numpy.ndarray may only be passed to _reconstruct, not called")


def build_array(u, array: np.ndarray, state) -> None:
    """``array.__setstate__(state)`` after checking the state matches the data it holds."""
    if not isinstance(state, tuple) or len(state) not in (4, 5):
        raise u.fail("invalid numpy array state")
    if len(state) == 5:
        state = state[1:] if isinstance(state[0], int) else state
    shape, dtype, fortran, data = state[-4:]
    shape = _shape(u, shape)
    if not isinstance(dtype, np.dtype):
        raise u.fail("numpy array state without a dtype")
    count = math.prod(shape)
    if dtype.hasobject:
        if dtype.kind != "O":
            raise u.fail("numpy arrays of structured dtypes with objects are not allowed")
        if not isinstance(data, list) or len(data) != count:
            raise u.fail(f"an object array of shape {shape} needs a list of {count} objects")
        depth, items = u.info(data)
        u.seal(data)
        u.check_shape(depth, items)
        u.set_info(array, depth, items)
    else:
        if not isinstance(data, (bytes, bytearray, str)):
            raise u.fail(f"numpy array data must be bytes, got {type(data).__name__}")
        declared = count * dtype.itemsize
        if declared != len(data):
            raise u.fail(
                f"an array of shape {shape} {dtype} needs {declared} bytes, the pickle holds {len(data)}"
            )
        if dtype.itemsize == 0:
            u.spend(count, f"an array of shape {shape} {dtype}")
    array.__setstate__(state)


def _check_dtype(u, dtype: np.dtype) -> None:
    """Refuse a dtype whose state differs from what its public description builds."""
    if dtype.fields is not None:
        for name, field in dtype.fields.items():
            sub, offset = field[0], field[1]
            if sub.hasobject:
                raise u.fail(f"structured dtype field {name!r} holds objects: not allowed")
            if offset < 0 or offset + sub.itemsize > dtype.itemsize:
                raise u.fail(f"structured dtype field {name!r} lies outside the {dtype.itemsize}-byte item")
        if dtype.hasobject or dtype.flags & 0x0F:
            raise u.fail("structured dtype with inconsistent object flags")
        return
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        if base.hasobject or base.itemsize * math.prod(shape) != dtype.itemsize:
            raise u.fail(f"invalid sub-array dtype {dtype}")
        return
    reference = np.dtype(dtype.str)
    if (dtype.itemsize, dtype.flags, dtype.hasobject, dtype.kind) != (
        reference.itemsize,
        reference.flags,
        reference.hasobject,
        reference.kind,
    ):
        raise u.fail(f"dtype state does not describe {reference} (size, kind or flags differ)")


def build_dtype(u, dtype: np.dtype, state) -> None:
    """``dtype.__setstate__(state)`` on a dtype the pickle made, then check the result."""
    if not u.take_fresh_dtype(dtype):
        raise u.fail("refusing to set the state of a shared or already built dtype")
    if not isinstance(state, tuple) or len(state) > 9:
        raise u.fail("invalid numpy dtype state")
    depth, items = u.account(state)
    dtype.__setstate__(state)
    _check_dtype(u, dtype)
    u.set_info(dtype, depth, items)


def _table() -> dict[int, tuple[object, Callable]]:
    core = {name: resolve_global(f"numpy._core.{module}", name) for module, name in _CORE_FUNCTIONS}
    entries = [(c, _container) for c in (list, tuple, set, frozenset)]
    entries += [(dict, _mapping), (OrderedDict, _mapping), (defaultdict, _mapping)]
    entries += [(bytes, _bytes), (bytearray, _bytes), (str, _str)]
    entries += [(t, _number) for t in (int, float, complex, bool)]
    entries += [
        (resolve_global("_codecs", "encode"), _codecs_encode),
        (np.dtype, _dtype),
        (np.ndarray, _refuse_ndarray),
    ]
    entries += [
        (core["_reconstruct"], _reconstruct),
        (core["scalar"], _scalar),
        (core["_frombuffer"], _frombuffer),
    ]
    return {id(func): (func, check) for func, check in entries}


#: id(callable) -> (callable, checked constructor ``check(unpickler, callable, args, kwargs)``).
CALLS = _table()
