"""``train.compile``: the model's forward through ``torch.compile``, with a permanent eager fallback.

:func:`resolve_compile` turns ``true | false | auto`` into a decision. ``auto`` compiles where
compiling was measured to pay, and so far that is nowhere: on 2 CPU cores the compiled main job's
steady-state steps were as fast as eager ones (within 5 %) after minutes of compilation (see
``benchmarks/RESULTS.md``); on CUDA the models already run fused Triton kernels (opaque to the
compiler); DeepSpeed's engine wraps the module itself (slr-train does not compile through it, so
``true`` with DeepSpeed is a config error). ``true`` compiles on any device with the plain
PyTorch engine.

:class:`CompiledModel` wraps the user's module (``.module``, so ``unwrap_model`` and checkpoints
see the uncompiled module: no ``_orig_mod.`` prefixes). A model with ``compile_regions()`` (the
slr-models CTC models: stem, spatial and temporal mixers, feed-forward) is compiled region by
region, each region class once for all its instances, with the packing bookkeeping between the
regions left eager: a few graphs and no graph breaks, where compiling the whole forward gave 38
graphs (``.item()`` calls and data-dependent checks) and recompiled as lengths changed. Dim 0 of
every tensor input (the packed frame axis, the batch axis; also inside dataclass inputs such as a
``Packing``) is marked dynamic, so videos of other lengths do not recompile; the other dims
(channels, image size) stay static. Compilation is lazy, so a failure (no C compiler,
an unsupported op) shows at the first call of each mode (train/eval, grad/no-grad): any
exception from the compiled forward logs ONE warning, switches the wrapper to eager for good and
reruns the call eagerly. A failure in the compiled backward (compiled on the first backward) is
raised as :class:`CompileFallback` after the switch; the Trainer then reruns the optimiser step
eagerly. The time of each mode's first call (compilation included) and the number of graphs
compiled are logged.
"""

from __future__ import annotations

import dataclasses
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
    """``(compile?, reason)`` for ``train.compile=mode`` on ``device`` with engine ``engine_kind``.

    ``auto`` compiles only where compiling was measured to pay, which so far is nowhere: on CPU the
    compiled main job's steps were no faster than eager ones after minutes of compilation
    (``benchmarks/RESULTS.md``, "train.compile"), on CUDA the models already run fused kernels, and
    DeepSpeed wraps the module itself. ``true`` compiles anyway (the reason names a missing
    inductor or C compiler, with which the first forward will fall back to eager).
    """
    if mode is False:
        return False, "train.compile=false"
    if mode is True:
        missing = [] if device.type != "cpu" else [what for what, ok in (
            ("torch inductor", inductor_available()), ("C compiler on PATH", c_compiler() is not None)) if not ok]
        if missing:
            return True, f"train.compile=true (no {' and no '.join(missing)}: expect the eager fallback)"
        return True, "train.compile=true"
    if device.type != "cpu":
        return False, f"train.compile=auto: eager on {device.type} (fused kernels already in use)"
    if engine_kind != "ddp":
        return False, f"train.compile=auto: eager under the {engine_kind} engine"
    return False, ("train.compile=auto: eager on CPU (compiled steps measured no faster than eager ones, "
                   "after minutes of compilation: benchmarks/RESULTS.md)")


def _graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _mark_batch_dims_dynamic(values: Any) -> None:
    """Mark dim 0 of every tensor in ``values`` (and in the tensor fields of dataclass values) dynamic."""
    for value in values:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            _mark_batch_dims_dynamic(getattr(value, f.name) for f in dataclasses.fields(value))
        elif torch.is_tensor(value) and value.dim() > 0:
            torch._dynamo.maybe_mark_dynamic(value, 0)


class _CompiledRegion:
    """A region module's ``forward`` through one ``torch.compile`` of its class's ``forward`` (shared
    by every instance of the class, so repeated blocks compile once), batch dims marked dynamic."""

    def __init__(self, module: nn.Module, compiled_forward: Any) -> None:
        self.module, self.compiled_forward = module, compiled_forward

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _mark_batch_dims_dynamic((*args, *kwargs.values()))
        return self.compiled_forward(self.module, *args, **kwargs)


class CompiledModel(nn.Module):
    """``module``'s forward through ``torch.compile`` (see the module docstring); eager after a failure.

    A module with ``compile_regions()`` (slr-models' CTC models) has each region's ``forward``
    compiled in place (the code between the regions runs eagerly); any other module is compiled
    whole. ``compiled`` overrides the compiled callable (tests) and then compiles no region.
    ``first_calls`` maps each mode seen (``"train"``, ``"eval"``, with ``"+grad"``) to the seconds
    its first call took; ``eager`` is true after a fallback.
    """

    def __init__(self, module: nn.Module, compiled: Any = None) -> None:
        super().__init__()
        self.module = module
        self._regions: list[nn.Module] = []
        regions = getattr(module, "compile_regions", None)
        if compiled is None and callable(regions):
            by_class: dict[type, Any] = {}
            for region in regions():
                cls = type(region)
                if cls not in by_class:
                    by_class[cls] = torch.compile(cls.forward)
                region.forward = _CompiledRegion(region, by_class[cls])  # instance attribute: no state_dict change
                self._regions.append(region)
        elif compiled is None:
            compiled = torch.compile(module)
        # Not a registered submodule: torch.compile's wrapper holds `module` under `_orig_mod`.
        object.__setattr__(self, "_compiled", compiled)
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
        for region in self._regions:
            region.__dict__.pop("forward", None)  # the class's eager forward again
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _log.warning("torch.compile failed in the %s (%s: %s); continuing eagerly "
                     "(train.compile=false avoids the attempt)", where, type(error).__name__, first[:200])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.eager:
            return self.module(*args, **kwargs)
        if self._compiled is not None:
            _mark_batch_dims_dynamic((*args, *kwargs.values()))
        mode = ("train" if self.module.training else "eval") + ("+grad" if torch.is_grad_enabled() else "")
        started = time.perf_counter()
        try:
            out = (self.module if self._compiled is None else self._compiled)(*args, **kwargs)
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
