"""Which checkpoint a run resumes from or an evaluation uses, and the interruption the Trainer raises.

``resume="auto"``: the newest step/epoch checkpoint whose manifest, files and payload (and every
rank's shard) are valid; each newer invalid one is skipped with a warning. No checkpoint at all
is a fresh start; checkpoints that are all invalid are a :class:`CheckpointError` ("no valid
checkpoint in DIR, N invalid (newest: reason)"), never a silent fresh start. ``None``: a fresh
start, nothing is read. A path: that checkpoint, verified; an invalid one is an error (no
fallback: the user chose it).

:func:`select_checkpoint` is the evaluation side: a checkpoint file as given, or a run
directory's best checkpoint, else (saying why) its newest one.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from slr_train import distributed as D
from slr_train.checkpoint import CheckpointChoice, CheckpointError, CheckpointManager, load_checkpoint
from slr_train.manifest import verify_manifest

_log = logging.getLogger("slr_train.trainer")


@dataclass
class ResumeSource:
    """The checkpoint a run resumes from: its ``path``, this rank's loaded ``payload`` and, for
    ``resume="auto"``, the :class:`CheckpointChoice` (which one and the newer invalid ones)."""

    path: Path
    payload: dict[str, Any] | None
    choice: CheckpointChoice | None = None

    def describe(self) -> str:
        """``resuming from PATH (newest epoch-end checkpoint, epoch 3, step 120)``, with any skipped."""
        if self.choice is None:
            return f"resuming from {self.path} (given as checkpoint.resume)"
        return "resuming from" + self.choice.describe().removeprefix("using")


def find_resume_source(manager: CheckpointManager, resume: str | None) -> ResumeSource | None:
    """Collective: the source for ``resume`` (module docstring), payload loaded; ``None``: fresh start."""
    if resume is None:
        return None
    if resume == "auto":
        choice, payload = manager.load_newest("latest")
        if choice.info is None:
            if choice.invalid:
                raise CheckpointError(f"{choice.describe()}; repair or remove them, or set checkpoint.resume "
                                      "to none to start afresh")
            return None
        return ResumeSource(choice.info.path, payload, choice)
    path = Path(resume)
    return ResumeSource(path, load_checkpoint(path, rank=D.get_rank()))


def select_checkpoint(path: str | os.PathLike, *, prefer: str = "best", fallback: bool = True,
                      warn: bool = False) -> CheckpointChoice:
    """The checkpoint to evaluate: ``path`` itself when it is a checkpoint file (or its manifest),
    verified, never replaced by another; else, in the run directory ``path`` (its ``checkpoints/``
    folder when it has one), the newest valid ``prefer`` checkpoint (``"best"`` or ``"latest"``)
    and, with ``fallback``, the newest valid one of the other role when there is none
    (``fallback_from`` then says why). Print :meth:`CheckpointChoice.describe`.

    Raises :class:`CheckpointError` naming the path: no such file or directory, an invalid file,
    or nothing usable (``no valid best checkpoint in DIR, 1 invalid (newest: ...)`` ...).
    ``warn``: also a ``RuntimeWarning`` per invalid checkpoint passed over.
    """
    if prefer not in ("best", "latest"):
        raise ValueError(f"prefer must be 'best' or 'latest', got {prefer!r}")
    path = Path(path)
    if path.is_file():
        return CheckpointChoice("file", path.parent, verify_manifest(path.with_suffix(".json")))
    if not path.is_dir():
        raise CheckpointError("no such checkpoint file or run directory", path)
    folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    manager = CheckpointManager(folder)
    first = manager.find(prefer, warn=warn)
    if first.info is not None:
        return first
    if not fallback:
        raise CheckpointError(first.describe())
    second = manager.find("latest" if prefer == "best" else "best", warn=warn)
    if second.info is None:
        if not first.invalid and not second.invalid:
            raise CheckpointError(f"no checkpoint in {folder}", path)
        raise CheckpointError(f"{first.describe()}; {second.describe()}")
    return replace(second, fallback_from=first)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (``KeyboardInterrupt``) during :meth:`Trainer.fit`, re-raised with where training stood.

    A ``KeyboardInterrupt`` (apps map it to exit 130); ``str()`` is one line for the user.
    Nothing is written on the way out: the checkpoints on disk are the complete ones written
    before, and ``resume="auto"`` continues exactly from ``last_checkpoint``.
    """

    def __init__(self, message: str, *, step: int, epoch: int, last_checkpoint: Path | None) -> None:
        super().__init__(message)
        self.step, self.epoch, self.last_checkpoint = step, epoch, last_checkpoint

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "interrupted"


def interrupted_at(state: Any, last_checkpoint: Path | None, *, log: bool = True) -> TrainingInterrupted:
    """The :class:`TrainingInterrupted` for a Trainer's ``state`` (``TrainerState``), logged when ``log``."""
    last = (f"the last checkpoint is {last_checkpoint} (checkpoint.resume='auto' continues from it)"
            if last_checkpoint else "no checkpoint was written yet")
    message = (f"training interrupted at step {state.global_step} (epoch {state.epoch + 1}, batch "
               f"{state.batch_in_epoch} of {state.batches_per_epoch}); {last}")
    if log:
        _log.warning("%s", message)
    return TrainingInterrupted(message, step=state.global_step, epoch=state.epoch, last_checkpoint=last_checkpoint)
