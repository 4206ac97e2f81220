"""Run Triton kernels (mamba-ssm's and slr's) on CPU tensors with Triton's interpreter.

Test support only: none of this belongs in the packages. ``TRITON_INTERPRET=1`` makes
``@triton.jit`` return interpreted functions, but only for kernels decorated *after* it is set, so
:func:`triton_interpreter` sets it, forgets every already-imported kernel module (mamba-ssm's and
``slr_models.ops.conv_triton``) and slr_models' kernel cache, and restores all of it on exit.
Four things in mamba-ssm 2.3 / Triton 3.6 assume a GPU and are shimmed while it is active:

* ``torch.cuda.device(index)`` (mamba-ssm wraps every launch in it): a null context for CPU tensors;
* ``Autotuner._bench`` (times every config on the GPU): a made-up time that favours the largest
  blocks (the interpreter's cost is mostly Python overhead per op and program, so fewer, larger
  programs run faster);
* ``torch.cuda.get_device_properties(dev).multi_processor_count`` (sizes backward grids): a fixed count;
* the interpreter's ``tensor.__index__`` (``int(ndarray)`` fails on 1-element loop bounds such as
  ``range(0, chunk_size_limit, BLOCK_SIZE_K)``): reads the single element instead.

A fifth shim is needed only because the interpreter is switched on inside a running process:
Triton's own ``@jit`` library functions (``tl.cumsum``, ``tl.sum``, ``tl.sigmoid``, ...) were
decorated when triton was first imported, possibly before ``TRITON_INTERPRET`` was set, and such a
``JITFunction`` refuses to be called; while active, calling one runs it as an interpreted function.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from typing import Iterator

import torch

FAKE_MULTIPROCESSORS = 1  # fewest split programs in the backward grids


def _forget_kernel_modules() -> None:
    for name in list(sys.modules):
        if name == "mamba_ssm" or name.startswith("mamba_ssm.") or name == "slr_models.ops.conv_triton":
            del sys.modules[name]
    from slr_models.ops._backends import fast_kernels

    fast_kernels.cache_clear()


def _block_cost(config) -> float:
    size = 1.0
    for key, value in config.kwargs.items():
        if key.startswith("BLOCK") and isinstance(value, int):
            size *= value
    return 1.0 / size


def _index(self) -> int:
    data = self.handle.data
    return int(data.reshape(-1)[0]) if getattr(data, "size", 1) == 1 else int(data)


@contextlib.contextmanager
def triton_interpreter() -> Iterator[None]:
    """While active, slr_models' fast backends run mamba-ssm's and slr's Triton kernels on CPU tensors."""
    from triton.runtime import autotuner, interpreter, jit

    saved_env = os.environ.get("TRITON_INTERPRET")
    saved = (torch.cuda.device, torch.cuda.get_device_properties, autotuner.Autotuner._bench,
             interpreter._patch_lang_tensor, jit.JITFunction.__call__)
    original_device, original_props, _, original_patch, _ = saved
    interpreted: dict[int, object] = {}

    def device(index):
        cpu = index is None or (isinstance(index, torch.device) and index.type == "cpu")
        return contextlib.nullcontext() if cpu else original_device(index)

    def get_device_properties(dev=None):
        if dev is None or torch.device(dev).type == "cpu":
            return types.SimpleNamespace(multi_processor_count=FAKE_MULTIPROCESSORS, name="triton-interpreter")
        return original_props(dev)

    def patch_lang_tensor(tensor, scope):
        original_patch(tensor, scope)
        scope.set_attr(tensor, "__index__", _index)

    def call_jit_function(self, *args, **kwargs):  # a device-function call inside an interpreted kernel
        if id(self) not in interpreted:
            interpreted[id(self)] = interpreter.InterpretedFunction(self.fn)
        return interpreted[id(self)](*args, **kwargs)

    os.environ["TRITON_INTERPRET"] = "1"
    jit.JITFunction.__call__ = call_jit_function
    torch.cuda.device = device
    torch.cuda.get_device_properties = get_device_properties
    autotuner.Autotuner._bench = lambda self, *args, config, **kwargs: [_block_cost(config)] * 3
    interpreter._patch_lang_tensor = patch_lang_tensor
    _forget_kernel_modules()
    try:
        from slr_models.ops._backends import fast_kernels

        fast_kernels()  # load the kernels now, interpreted (and mamba_ssm's package without its __init__)
        yield
    finally:
        (torch.cuda.device, torch.cuda.get_device_properties, autotuner.Autotuner._bench,
         interpreter._patch_lang_tensor, jit.JITFunction.__call__) = saved
        if saved_env is None:
            os.environ.pop("TRITON_INTERPRET", None)
        else:
            os.environ["TRITON_INTERPRET"] = saved_env
        _forget_kernel_modules()
