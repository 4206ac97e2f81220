"""Launch N local processes through torchrun (``--nproc-per-node N`` in the apps)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Mapping, Sequence


def launched_by_torchrun() -> bool:
    """True inside a process started by torchrun (it sets ``TORCHELASTIC_RUN_ID`` and ``LOCAL_RANK``)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def torchrun_command(nproc_per_node: int, program: Sequence[str], *, python: str | None = None,
                     extra_torchrun_args: Sequence[str] = ()) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc-per-node N <program...>``.

    ``program`` is a script path with its arguments, or ``["-m", "module", ...]``.
    """
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be >= 1, got {nproc_per_node}")
    if not program:
        raise ValueError("program is empty: give a script path or ['-m', 'module', ...]")
    command = [python or sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={nproc_per_node}", *extra_torchrun_args]
    if program[0] == "-m":
        command.append("--module")
        program = program[1:]
    return command + list(program)


def launch_local(nproc_per_node: int, program: Sequence[str], *, env: Mapping[str, str] | None = None,
                 extra_torchrun_args: Sequence[str] = ()) -> int:
    """Runs ``program`` in ``nproc_per_node`` local processes and returns torchrun's exit code.

    Each child gets ``OMP_NUM_THREADS`` (torchrun's default of 1 unless already set) and the usual
    ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``; ``--standalone`` picks a free port.
    """
    child_env = dict(os.environ if env is None else env)
    command = torchrun_command(nproc_per_node, program, extra_torchrun_args=extra_torchrun_args)
    return subprocess.call(command, env=child_env)
