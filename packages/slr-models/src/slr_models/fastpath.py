"""Installing the fast path without a compiler: ``slr-models install-fast-path``.

The fast path needs only mamba-ssm's Triton kernels (plain Python), so mamba-ssm is installed from
its source distribution with its CUDA extensions switched off (``MAMBA_SKIP_CUDA_BUILD=TRUE``; a few
seconds, no compiler, no download of a prebuilt wheel from outside the package index), without
build isolation (its ``setup.py`` imports the installed torch) and without dependencies (torch
must stay the pinned one). causal-conv1d is optional (slr's own Triton conv is used without it) and
is compiled only when asked for (``--with-causal-conv1d``: needs nvcc, takes long).

Offline (GPU hosts are often cut off): ``--find-links DIR`` installs from a folder filled beforehand
on a connected machine with ``slr-models install-fast-path --download DIR``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MAMBA_SSM = "mamba-ssm==2.3.2.post1"
CAUSAL_CONV1D = "causal-conv1d==1.7.0"
#: Installed normally (wheels) before the no-build-isolation builds need them.
BUILD_REQUIREMENTS = ("einops", "packaging", "setuptools", "wheel", "ninja")


@dataclass(frozen=True)
class InstallPlan:
    """The pip commands (argument lists) and environment of one installation."""

    commands: tuple[tuple[str, ...], ...]
    env: dict[str, str]


def _pip(python: str) -> list[str]:
    return [python, "-m", "pip", "install", "--disable-pip-version-check"]


def _source_args(find_links: str | None) -> list[str]:
    return ["--no-index", "--find-links", find_links] if find_links else []


def _missing(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if importlib.util.find_spec(n.replace("-", "_")) is None)


def plan_install(python: str = sys.executable, find_links: str | None = None, causal_conv1d: bool = False,
                 mamba: str = MAMBA_SSM, quiet: bool = False) -> InstallPlan:
    """What :func:`install` runs: build requirements that are missing, mamba-ssm (Triton only), and
    causal-conv1d if asked (compiled against the installed torch)."""
    quiet_args = ["-q"] if quiet else []
    source = _source_args(find_links)
    commands: list[tuple[str, ...]] = []
    missing = _missing(BUILD_REQUIREMENTS) if python == sys.executable else BUILD_REQUIREMENTS
    if missing:
        commands.append(tuple(_pip(python) + quiet_args + source + list(missing)))
    build = ["--no-build-isolation", "--no-deps", "--no-cache-dir"]
    commands.append(tuple(_pip(python) + quiet_args + source + build + [mamba]))
    if causal_conv1d:
        commands.append(tuple(_pip(python) + quiet_args + source + build + [CAUSAL_CONV1D]))
    env = {"MAMBA_FORCE_BUILD": "TRUE", "MAMBA_SKIP_CUDA_BUILD": "TRUE", "CAUSAL_CONV1D_FORCE_BUILD": "TRUE"}
    return InstallPlan(tuple(commands), env)


def plan_download(directory: str, causal_conv1d: bool = False, python: str = sys.executable) -> InstallPlan:
    """Fill ``directory`` for an offline install: the sdists (source only, never a prebuilt binary)
    and the pure-Python build requirements as wheels."""
    pip = [python, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "-d", directory]
    sdists = [MAMBA_SSM] + ([CAUSAL_CONV1D] if causal_conv1d else [])
    commands = [tuple(pip + ["--no-binary", ":all:", "--no-build-isolation", *sdists]),
                tuple(pip + ["--only-binary", ":all:", *BUILD_REQUIREMENTS])]
    return InstallPlan(tuple(commands), {"MAMBA_SKIP_CUDA_BUILD": "TRUE", "CAUSAL_CONV1D_SKIP_CUDA_BUILD": "TRUE"})


def installed_mamba_version() -> str | None:
    try:
        return importlib.metadata.version("mamba-ssm")
    except importlib.metadata.PackageNotFoundError:
        return None


def run_plan(plan: InstallPlan, echo=print) -> int:
    """Run the plan's commands in order; returns the first non-zero exit code (0 if all passed)."""
    env = {**os.environ, **plan.env}
    for command in plan.commands:
        echo("$ " + " ".join(f"{k}={v}" for k, v in plan.env.items() if "MAMBA" in k or "CONV" in k) + " "
             + " ".join(command))
        code = subprocess.call(list(command), env=env)
        if code:
            return code
    return 0


def install_fast_path(find_links: str | None = None, causal_conv1d: bool = False, if_missing: bool = False,
                      download: str | None = None, quiet: bool = False, echo=print) -> int:
    """The CLI's work; returns an exit code (0 success, 1 a pip command failed, 2 bad arguments)."""
    if download is not None:
        Path(download).mkdir(parents=True, exist_ok=True)
        return run_plan(plan_download(download, causal_conv1d), echo) and 1
    if importlib.util.find_spec("torch") is None:
        echo("slr-models: install torch first (the fast path is built against the installed torch)")
        return 2
    if find_links is not None and not Path(find_links).is_dir():
        echo(f"slr-models: --find-links {find_links}: no such folder")
        return 2
    wanted = MAMBA_SSM.split("==")[1]
    have_conv = importlib.util.find_spec("causal_conv1d") is not None
    if if_missing and installed_mamba_version() == wanted and (have_conv or not causal_conv1d):
        if not quiet:
            echo(f"mamba-ssm {wanted} is installed; nothing to do")
        return 0
    code = run_plan(plan_install(find_links=find_links, causal_conv1d=causal_conv1d, quiet=quiet), echo)
    if code:
        echo(f"slr-models: installation failed (exit {code}); see pip's output above")
        return 1
    return 0
