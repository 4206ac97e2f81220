"""``train.compile``: the model's forward through ``torch.compile``, with a permanent eager fallback.

:func:`resolve_compile` turns ``true | false | auto`` into a decision: ``auto`` compiles on CPU
when the inductor backend imports and a C compiler is on ``PATH``, with the plain PyTorch engine
only; it stays eager on CUDA (the models already run fused Triton kernels there, and the
``mamba_ssm`` kernels are opaque to the compiler) and under DeepSpeed (whose engine wraps the
module itself; slr-train does not compile through it, so ``true`` with DeepSpeed is a config
error). ``true`` compiles on any device with the plain PyTorch engine.

:class:`CompiledModel` wraps the user's module (``.module``, so ``unwrap_model`` and checkpoints
see the uncompiled module: no ``_orig_mod.`` prefixes). Dim 0 of every tensor input (the packed
frame axis, the batch axis) is marked dynamic, so videos of other lengths do not recompile; the
other dims (channels, image size) stay static. Compilation is lazy, so a failure (no C compiler,
an unsupported op) shows at the first call of each mode (train/eval, grad/no-grad): any
exception from the compiled forward logs ONE warning, switches the wrapper to eager for good and
reruns the call eagerly. A failure in the compiled backward (compiled on the first backward) is
raised as :class:`CompileFallback` after the switch; the Trainer then reruns the optimiser step
eagerly. The time of each mode's first call (compilation included) and the number of graphs
compiled are logged.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import time
from typing import Any, Literal

import torch
from torch import nn

_log = logging.getLogger(__name__)

CompileMode = bool | Literal["auto"]


class CompileFallback(RuntimeError):
    """The compiled backward failed; the model is now eager and the step must be rerun."""


def c_compiler() -> str | None:
    """Path of the C compiler inductor would use (``$CXX``-less lookup of ``c++``, ``g++``, ``clang++``)."""
    for name in ("c++", "g++", "clang++", "cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def inductor_available() -> bool:
    """Whether ``torch._inductor`` imports (it needs e.g. ``sympy`` and a working torch build)."""
    try:
        importlib.import_module("torch._inductor")
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return False
    return True


def resolve_compile(mode: CompileMode, device: torch.device, engine_kind: str) -> tuple[bool, str]:
    """``(compile?, reason)`` for ``train.compile=mode`` on ``device`` with engine ``engine_kind``."""
    if mode is True:
        return True, "train.compile=true"
    if mode is False:
        return False, "train.compile=false"
    if device.type != "cpu":
        return False, f"train.compile=auto: eager on {device.type} (fused kernels already in use)"
    if engine_kind != "ddp":
        return False, f"train.compile=auto: eager under the {engine_kind} engine"
    if not inductor_available():
        return False, "train.compile=auto: eager, torch inductor is not available"
    if c_compiler() is None:
        return False, "train.compile=auto: eager, no C compiler on PATH"
    return True, "train.compile=auto: CPU with torch inductor and a C compiler"


def _graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


class CompiledModel(nn.Module):
    """``module``'s forward through ``torch.compile`` (see the module docstring); eager after a failure.

    ``compiled`` overrides the compiled callable (tests); by default ``torch.compile(module)``.
    ``first_calls`` maps each mode seen (``"train"``, ``"eval"``, with ``"+grad"``) to the seconds
    its first call took; ``eager`` is true after a fallback.
    """

    def __init__(self, module: nn.Module, compiled: Any = None) -> None:
        super().__init__()
        self.module = module
        # Not a registered submodule: torch.compile's wrapper holds `module` under `_orig_mod`.
        object.__setattr__(self, "_compiled", compiled if compiled is not None else torch.compile(module))
        self.eager = False
        self.first_calls: dict[str, float] = {}
        self._graphs_at_start = _graph_count()
        self._backward_proven = False

    @property
    def graphs_compiled(self) -> int:
        """Graphs compiled in this process since the wrapper was built (recompilations included)."""
        return _graph_count() - self._graphs_at_start

    @property
    def on_probation(self) -> bool:
        """Compiled, but no backward has run through it yet (it may still fail there)."""
        return not self.eager and not self._backward_proven

    def _fall_back(self, where: str, error: BaseException) -> None:
        self.eager = True
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _log.warning("torch.compile failed in the %s (%s: %s); continuing eagerly "
                     "(train.compile=false avoids the attempt)", where, type(error).__name__, first[:200])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.eager:
            return self.module(*args, **kwargs)
        for value in (*args, *kwargs.values()):
            if torch.is_tensor(value) and value.dim() > 0:
                torch._dynamo.maybe_mark_dynamic(value, 0)
        mode = ("train" if self.module.training else "eval") + ("+grad" if torch.is_grad_enabled() else "")
        started = time.perf_counter()
        try:
            out = self._compiled(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - whatever the compiler raised, eager is the fallback
            self._fall_back("forward", e)
            return self.module(*args, **kwargs)
        if mode not in self.first_calls:
            self.first_calls[mode] = time.perf_counter() - started
            _log.info("torch.compile: first %s forward took %.1f s (compilation included), "
                      "%d graph(s) so far", mode, self.first_calls[mode], self.graphs_compiled)
        return out

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``; a failed first compiled backward falls back (:class:`CompileFallback`)."""
        if self.eager or self._backward_proven:
            loss.backward()
            return
        started = time.perf_counter()
        try:
            loss.backward()
        except Exception as e:  # noqa: BLE001
            self._fall_back("backward", e)
            for p in self.module.parameters():
                p.grad = None
            raise CompileFallback("the compiled backward failed; rerun the step eagerly") from e
        self._backward_proven = True
        self.first_calls["backward"] = time.perf_counter() - started
        _log.info("torch.compile: first backward took %.1f s (compilation included), %d graph(s) so far",
                  self.first_calls["backward"], self.graphs_compiled)


def find_compiled(model: nn.Module) -> CompiledModel | None:
    """The :class:`CompiledModel` inside DDP/DeepSpeed wrappers of ``model`` (``None`` if there is none)."""
    while True:
        if isinstance(model, CompiledModel):
            return model
        inner = getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            return None
        model = inner
