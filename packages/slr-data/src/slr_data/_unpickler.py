"""The bounded, restricted unpickler behind :mod:`slr_data.safe_pickle`.

It runs the pure-Python pickle machine (``pickle._Unpickler``) with the opcodes that call,
allocate or grow replaced by checked versions, because the C unpickler allocates what a header
declares before reading it (``BINBYTES8``, ``BYTEARRAY8``, a ``LONG_BINPUT`` index) and calls
constructors without a hook. What it guarantees, with ``limits`` a
:class:`~slr_data.limits.DataLimits`:

* only the globals of ``ALLOWED_GLOBALS`` are resolved, and only the constructors of
  :mod:`slr_data._pickle_calls` are called, each after checking its arguments;
* no declared length exceeds what is left of the file;
* constructors allocate at most ``max_pickle_bytes`` in total beyond the stored data;
* a container never holds more than ``max_pickle_items`` elements, counting shared
  sub-containers once per reference, and nests at most ``max_pickle_depth`` deep. A container
  cannot be changed after it was put into another (pickles never do that except for reference
  cycles, which are refused), so these counts are exact when each container is completed.
"""

from __future__ import annotations

import _compat_pickle
import copyreg
import os
import pickle
from struct import unpack

import numpy as np

from slr_data._pickle_calls import ALLOWED_GLOBALS, CALLS, build_array, build_dtype, resolve_global
from slr_data.errors import DataFormatError, UnsafePickleError
from slr_data.limits import DataLimits, MiB, get_limits

__all__ = ["BoundedUnpickler"]

_SMALL_READ = 1 << 16
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _Stop(Exception):
    def __init__(self, value):
        self.value = value


class BoundedUnpickler(pickle._Unpickler):
    """Restricted, bounded unpickler; see the module docstring.

    Args:
        file: binary file positioned at the pickle (``read``, ``readline``, ``tell``).
        source: the file's name, used in every error.
        size: bytes of pickle data from the current position (default: to the end of ``file``).
        limits: default :func:`~slr_data.limits.get_limits`.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, source="<pickle>", encoding="ASCII", size=None, limits=None):
        super().__init__(file, encoding=encoding)
        self._file = file
        self.source = os.fspath(source)
        self.limits: DataLimits = limits if limits is not None else get_limits()
        start = file.tell()
        if size is None:
            size = file.seek(0, os.SEEK_END) - start
            file.seek(start)
        self._end = start + size
        budget = self.limits.max_pickle_bytes
        self.byte_budget = size + MiB if budget is None else budget
        self._bytes_left = self.byte_budget
        self._items_built = 0
        # id(container) -> [container, depth, elements (expanded), sealed]; holds a reference so
        # ids stay unique while loading.
        self._nodes: dict[int, list] = {}
        self._unbuilt: set[int] = set()  # arrays from _reconstruct awaiting their BUILD
        self._fresh_dtypes: set[int] = set()  # dtypes made by the numpy.dtype constructor, not built yet

    # ------------------------------------------------------------------ errors and budgets
    def fail(self, message: str) -> DataFormatError:
        return DataFormatError(message, self.source)

    def spend(self, nbytes: int, what: str) -> None:
        """Charge an allocation of ``nbytes`` made by ``what`` to the byte budget."""
        if nbytes > self._bytes_left:
            source = (
                "SLR_DATA_MAX_PICKLE_BYTES"
                if self.limits.max_pickle_bytes is not None
                else "the file's size + 1 MiB; raise it with SLR_DATA_MAX_PICKLE_BYTES"
            )
            raise self.fail(
                f"{what} would allocate {nbytes} bytes; a pickle may allocate at most "
                f"{self.byte_budget} bytes beyond its stored data ({source}); refused before allocating"
            )
        self._bytes_left -= nbytes

    def count_items(self, count: int, what: str) -> None:
        """Charge ``count`` elements created (or walked) by a constructor."""
        self._items_built += count
        if count > self.limits.max_pickle_items or self._items_built > self.limits.max_pickle_items:
            raise self.fail(
                f"{what} makes {count} elements ({self._items_built} by constructors so far), more than "
                f"the limit of {self.limits.max_pickle_items} (SLR_DATA_MAX_PICKLE_ITEMS)"
            )

    def _remaining(self) -> int:
        return self._end - self._file.tell()

    def _read_counted(self, count: int, what: str) -> bytes:
        if count <= _SMALL_READ:  # a short read cannot allocate much: skip the tell()
            return self.read(count)
        left = self._remaining()
        if count > left:
            raise self.fail(
                f"truncated or corrupt: {what} of {count} bytes declared, {left} bytes left in the file"
            )
        return self.read(count)

    # ------------------------------------------------------------------ container bookkeeping
    def new(self, obj, depth: int = 1, items: int = 0):
        """Register a container created here (``depth`` levels, ``items`` expanded elements)."""
        self.check_shape(depth, items)
        self._nodes[id(obj)] = [obj, depth, items, False]
        return obj

    def check_shape(self, depth: int, items: int) -> None:
        if depth > self.limits.max_pickle_depth:
            raise self.fail(
                f"containers nest more than {self.limits.max_pickle_depth} levels deep "
                "(SLR_DATA_MAX_PICKLE_DEPTH)"
            )
        if items > self.limits.max_pickle_items:
            raise self.fail(
                f"a container holds more than {self.limits.max_pickle_items} elements, counting shared "
                "containers once per reference (SLR_DATA_MAX_PICKLE_ITEMS)"
            )

    def account(self, children, parent=None, depth: int = 1, items: int = 0) -> tuple[int, int]:
        """Depth and expanded size of a container holding ``children`` (sealing them)."""
        get = self._nodes.get
        for child in children:
            node = get(id(child))
            if node is None:
                items += 1
                continue
            if child is parent:
                raise self.fail("a container contains itself (reference cycles are not allowed)")
            node[3] = True
            items += 1 + node[2]
            if node[1] >= depth:
                depth = node[1] + 1
        self.check_shape(depth, items)
        return depth, items

    def grow(self, target, children) -> None:
        """Bookkeeping before ``children`` are added to the existing ``target``."""
        node = self._nodes.get(id(target))
        if node is None:
            if isinstance(target, bytearray) or (
                isinstance(target, np.ndarray) and not target.dtype.hasobject
            ):
                return  # holds numbers, not references
            raise self.fail(f"cannot add items to a {type(target).__name__}")
        if node[3]:
            raise self.fail(
                f"a {type(target).__name__} is changed after it was put into another container "
                "(not written by a pickler)"
            )
        node[1], node[2] = self.account(children, target, node[1], node[2])

    def info(self, obj) -> tuple[int, int]:
        """``(depth, expanded elements)`` of ``obj`` (``(0, 0)`` for non-containers)."""
        node = self._nodes.get(id(obj))
        return (0, 0) if node is None else (node[1], node[2])

    def seal(self, obj) -> None:
        node = self._nodes.get(id(obj))
        if node is not None:
            node[3] = True

    def set_info(self, obj, depth: int, items: int) -> None:
        """Record that ``obj`` (built in place) now holds ``items`` elements ``depth`` deep."""
        self.check_shape(depth, items)
        node = self._nodes.get(id(obj))
        if node is None:
            self._nodes[id(obj)] = [obj, depth, items, False]
        else:
            node[1], node[2] = depth, items

    def _unsealed(self, obj) -> bool:
        node = self._nodes.get(id(obj))
        return node is not None and not node[3]

    def mark_unbuilt(self, array: np.ndarray) -> None:
        self.new(array)
        self._unbuilt.add(id(array))

    def mark_fresh_dtype(self, dtype: np.dtype) -> None:
        self.new(dtype)
        self._fresh_dtypes.add(id(dtype))

    def take_fresh_dtype(self, dtype: np.dtype) -> bool:
        """Whether ``dtype`` was made here, is not built yet and not used yet (then it is taken)."""
        if id(dtype) not in self._fresh_dtypes or not self._unsealed(dtype):
            return False
        self._fresh_dtypes.discard(id(dtype))
        return True

    # ------------------------------------------------------------------ the machine
    def load(self):
        """Read one pickle; raises :class:`~slr_data.errors.DataFormatError` (or
        :class:`~slr_data.errors.UnsafePickleError`) naming the file on any problem."""
        self.read = self._file_read
        self.readline = self._file_readline
        self.readinto = getattr(self._file, "readinto", None)
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        self.proto = 0
        read = self.read
        dispatch = self.dispatch
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError("pickle data ended before its STOP opcode")
                dispatch[key[0]](self)
        except _Stop as stop:
            return stop.value
        finally:
            self._nodes.clear()
            self._unbuilt.clear()
            self._fresh_dtypes.clear()
            self.stack = self.metastack = []

    def load_stop(self):
        value = self.stack.pop()
        raise _Stop(value)

    def find_class(self, module, name):
        if self.proto < 3:  # Python 2 names, as pickle's fix_imports maps them ('unicode' -> str)
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        module = _PY2_MODULES.get(module, module)
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refusing to unpickle global '{module}.{name}': only plain containers, numbers, "
                "strings and numpy arrays are allowed (nothing was executed)",
                self.source,
            )
        return resolve_global(module, name)

    def get_extension(self, code):
        """EXT1/2/4: resolved through :meth:`find_class` every time (never from pickle's shared
        extension cache, which another unpickler may have filled with anything)."""
        key = copyreg._inverted_registry.get(code)
        if not key:
            raise self.fail(f"unregistered extension code {code}")
        self.append(self.find_class(*key))

    def persistent_load(self, pid):
        raise UnsafePickleError("persistent ids are not allowed in metadata pickles", self.source)

    def call(self, func, args, kwargs=None):
        """``func(*args, **kwargs)`` through its checked constructor."""
        entry = CALLS.get(id(func))
        if entry is None or entry[0] is not func:
            raise UnsafePickleError(
                f"refusing to call a {type(func).__name__} object: not an allowed constructor", self.source
            )
        if not isinstance(args, tuple):
            raise self.fail(f"constructor arguments must be a tuple, got {type(args).__name__}")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise self.fail("constructor keyword arguments must be a dict")
        return entry[1](self, func, args, kwargs or {})

    def _instantiate(self, klass, args):
        self.append(self.call(klass, tuple(args)))

    def load_reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self.call(self.stack[-1], args)

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self.call(cls, args))

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self.call(cls, args, kwargs))

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, np.ndarray) and id(inst) in self._unbuilt and self._unsealed(inst):
            self._unbuilt.discard(id(inst))
            build_array(self, inst, state)
        elif isinstance(inst, np.dtype):
            build_dtype(self, inst, state)
        else:
            raise self.fail(f"refusing to set the state of a {type(inst).__name__} (BUILD)")

    # -- opcodes that declare a length: never read (or allocate) past the end of the file
    def load_frame(self):
        (size,) = unpack("<Q", self.read(8))
        if size > self._remaining():
            raise self.fail(f"truncated or corrupt: a frame of {size} bytes, {self._remaining()} bytes left")

    def load_binbytes(self):
        (n,) = unpack("<I", self.read(4))
        self.append(self._read_counted(n, "BINBYTES"))

    def load_binbytes8(self):
        (n,) = unpack("<Q", self.read(8))
        self.append(self._read_counted(n, "BINBYTES8"))

    def load_bytearray8(self):
        (n,) = unpack("<Q", self.read(8))
        self.append(bytearray(self._read_counted(n, "BYTEARRAY8")))

    def load_binunicode(self):
        (n,) = unpack("<I", self.read(4))
        self.append(str(self._read_counted(n, "BINUNICODE"), "utf-8", "surrogatepass"))

    def load_binunicode8(self):
        (n,) = unpack("<Q", self.read(8))
        self.append(str(self._read_counted(n, "BINUNICODE8"), "utf-8", "surrogatepass"))

    def load_binstring(self):
        (n,) = unpack("<i", self.read(4))
        if n < 0:
            raise self.fail("negative BINSTRING length")
        self.append(self._decode_string(self._read_counted(n, "BINSTRING")))

    def load_long4(self):
        (n,) = unpack("<i", self.read(4))
        if n < 0:
            raise self.fail("negative LONG4 length")
        self.append(pickle.decode_long(self._read_counted(n, "LONG4")))

    # -- containers
    def load_empty_list(self):
        self.append(self.new([]))

    def load_empty_dictionary(self):
        self.append(self.new({}))

    def load_empty_set(self):
        self.append(self.new(set()))

    def load_empty_tuple(self):
        self.append(self.new(()))

    def _tuple(self, items):
        depth, count = self.account(items)
        return self.new(tuple(items), depth, count)

    def load_tuple(self):
        items = self.pop_mark()  # before looking up self.append: pop_mark rebinds it
        self.append(self._tuple(items))

    def load_tuple1(self):
        self.stack[-1] = self._tuple(self.stack[-1:])

    def load_tuple2(self):
        self.stack[-2:] = [self._tuple(self.stack[-2:])]

    def load_tuple3(self):
        self.stack[-3:] = [self._tuple(self.stack[-3:])]

    def load_frozenset(self):
        items = self.pop_mark()
        depth, count = self.account(items)
        self.append(self.new(frozenset(items), depth, count))

    def load_list(self):
        items = self.pop_mark()
        depth, count = self.account(items)
        self.append(self.new(items, depth, count))

    def load_dict(self):
        items = self.pop_mark()
        if len(items) % 2:
            raise self.fail("DICT with an odd number of items")
        depth, count = self.account(items)
        self.append(self.new({items[i]: items[i + 1] for i in range(0, len(items), 2)}, depth, count))

    def load_append(self):
        value = self.stack.pop()
        self.grow(self.stack[-1], (value,))
        self.stack[-1].append(value)

    def load_appends(self):
        items = self.pop_mark()
        target = self.stack[-1]
        self.grow(target, items)
        target.extend(items)

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self.grow(self.stack[-1], (key, value))
        self.stack[-1][key] = value

    def load_setitems(self):
        items = self.pop_mark()
        if len(items) % 2:
            raise self.fail("SETITEMS with an odd number of items")
        target = self.stack[-1]
        self.grow(target, items)
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def load_additems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        self.grow(target, items)
        if not isinstance(target, set):
            raise self.fail(f"cannot add items to a {type(target).__name__}")
        target.update(items)


_OVERRIDES = {
    "STOP": "load_stop",
    "REDUCE": "load_reduce",
    "NEWOBJ": "load_newobj",
    "NEWOBJ_EX": "load_newobj_ex",
    "BUILD": "load_build",
    "FRAME": "load_frame",
    "BINBYTES": "load_binbytes",
    "BINBYTES8": "load_binbytes8",
    "BYTEARRAY8": "load_bytearray8",
    "BINUNICODE": "load_binunicode",
    "BINUNICODE8": "load_binunicode8",
    "BINSTRING": "load_binstring",
    "LONG4": "load_long4",
    "EMPTY_LIST": "load_empty_list",
    "EMPTY_DICT": "load_empty_dictionary",
    "EMPTY_SET": "load_empty_set",
    "EMPTY_TUPLE": "load_empty_tuple",
    "TUPLE": "load_tuple",
    "TUPLE1": "load_tuple1",
    "TUPLE2": "load_tuple2",
    "TUPLE3": "load_tuple3",
    "FROZENSET": "load_frozenset",
    "LIST": "load_list",
    "DICT": "load_dict",
    "APPEND": "load_append",
    "APPENDS": "load_appends",
    "SETITEM": "load_setitem",
    "SETITEMS": "load_setitems",
    "ADDITEMS": "load_additems",
}
for _name, _method in _OVERRIDES.items():
    BoundedUnpickler.dispatch[getattr(pickle, _name)[0]] = getattr(BoundedUnpickler, _method)
