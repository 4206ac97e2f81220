"""Run the real NIST ``sclite`` binary and read its per-utterance results (tests only)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PRA_PREFIXES = ("Speaker sentences", "id: ", "File: ", "Scores: ", "REF: ", "HYP: ", "Eval: ")


def find_sclite() -> str | None:
    """``$SCLITE``, else ``sclite`` on PATH, else Debian's ``/usr/lib/sctk/bin/sclite``."""
    env = os.environ.get("SCLITE")
    if env:
        return env if os.access(env, os.X_OK) else None
    found = shutil.which("sclite")
    if found:
        return found
    debian = "/usr/lib/sctk/bin/sclite"
    return debian if os.access(debian, os.X_OK) else None


@dataclass
class ScliteResult:
    returncode: int
    counts: dict[str, tuple[int, int, int, int]]  # lower-cased file id -> (C, S, D, I)
    pra_lines: list[str]  # the alignment lines of the pra report (PRA_PREFIXES)
    stderr: str


def run_sclite(sclite: str, stm: Path, ctm: Path) -> ScliteResult:
    """``sclite -r STM stm -h CTM ctm -o pra stdout -f 0`` with a C locale."""
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(
        [sclite, "-r", str(stm), "stm", "-h", str(ctm), "ctm", "-o", "pra", "stdout", "-f", "0"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    counts: dict[str, tuple[int, int, int, int]] = {}
    current = None
    pra = []
    for line in proc.stdout.splitlines():
        if line.startswith(PRA_PREFIXES):
            pra.append(line)
        if line.startswith("File: "):
            current = line.split(None, 1)[1]
        elif line.startswith("Scores: "):
            c, s, d, i = (int(v) for v in line.split()[-4:])
            counts[current] = (c, s, d, i)
    return ScliteResult(proc.returncode, counts, pra, proc.stderr)
