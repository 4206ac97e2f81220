"""Import mamba-ssm's Triton kernels without running ``mamba_ssm/__init__.py``.

mamba-ssm's package ``__init__`` imports its CUDA extension (``selective_scan_cuda``) and, through
its language-model classes, transformers. Neither is needed for the kernels slr calls
(``ops/triton/ssd_combined.py``, ``layer_norm.py``, ``layernorm_gated.py``: plain Python + Triton),
and an install made without compiling (``MAMBA_SKIP_CUDA_BUILD=TRUE``) has no extension at all, so
a plain ``import mamba_ssm.ops.triton.ssd_combined`` fails there although every kernel is present.

:func:`import_mamba_submodule` therefore registers the ``mamba_ssm`` package object without
executing its ``__init__`` (its ``__path__`` is all the import system needs to find submodules),
then imports the submodule normally. The package object keeps a module-level ``__getattr__``: the
first access to a public name that only the real ``__init__`` defines (``mamba_ssm.Mamba2``, ...)
runs that ``__init__`` then, so code that uses the full package still works on a full install, and
gets an ``ImportError`` saying why on a Triton-only one. If ``mamba_ssm`` is already imported (the
user imported it first), it is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import types

PACKAGE = "mamba_ssm"


def _install_lazy_package() -> types.ModuleType:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing it
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"No module named {PACKAGE!r} (install mamba-ssm; see the slr-models README)")
    package = importlib.util.module_from_spec(spec)
    state: dict[str, BaseException | bool] = {}

    def __getattr__(name: str):  # noqa: N807 - PEP 562 hook
        if name.startswith("_"):
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
        if "error" not in state and "done" not in state:
            try:
                spec.loader.exec_module(package)  # the real __init__, on first use of a public name
                state["done"] = True
            except Exception as exc:  # noqa: BLE001 - remembered and re-raised below with context
                state["error"] = exc
        if "error" in state:
            exc = state["error"]
            raise ImportError(
                f"{PACKAGE}.{name} needs mamba-ssm's full package, whose __init__ failed here "
                f"({type(exc).__name__}: {exc}); slr_models loaded only its Triton kernels"
            ) from exc
        try:
            return package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    package.__getattr__ = __getattr__
    try:
        package.__version__ = importlib.metadata.version("mamba-ssm")
    except importlib.metadata.PackageNotFoundError:
        pass
    sys.modules[PACKAGE] = package
    return package


def import_mamba_submodule(name: str) -> types.ModuleType:
    """Import ``mamba_ssm.<name>`` (e.g. ``"ops.triton.ssd_combined"``) without the package ``__init__``.

    Raises whatever the submodule's own import raises (``ModuleNotFoundError`` when mamba-ssm is
    not installed, ``ImportError``/others when a dependency such as triton or einops is missing).
    """
    if PACKAGE not in sys.modules:
        _install_lazy_package()
    return importlib.import_module(f"{PACKAGE}.{name}")


def mamba_version() -> str | None:
    """The installed mamba-ssm distribution's version, or ``None``."""
    try:
        return importlib.metadata.version("mamba-ssm")
    except importlib.metadata.PackageNotFoundError:
        return None
