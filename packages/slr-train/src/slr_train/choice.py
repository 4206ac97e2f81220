"""What a checkpoint search found: the chosen checkpoint, the invalid ones passed over, and why.

:meth:`CheckpointManager.find` / :meth:`CheckpointManager.load_newest` and
:func:`slr_train.resume.select_checkpoint` return a :class:`CheckpointChoice`; its
:meth:`~CheckpointChoice.describe` is the line an app prints (``using .../best-000000120.pt
(best by dev WER 23.40 %, ema weights, epoch 5, step 120)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slr_train.manifest import CheckpointError, CheckpointInfo


@dataclass(frozen=True)
class InvalidCheckpoint:
    """A checkpoint passed over: ``path`` its main ``.pt``; ``reason`` the error (it names the file)."""

    path: Path
    kind: str
    step: int
    reason: str


@dataclass(frozen=True)
class CheckpointChoice:
    """Which checkpoint was chosen in ``directory``, and the ones passed over.

    ``role``: ``"latest"`` (the newest step/epoch checkpoint), ``"best"`` (best by dev WER) or
    ``"file"`` (a checkpoint file given by the user). ``info``: the chosen checkpoint (``None``:
    none valid); ``invalid``: the invalid checkpoints of this role newer than ``info`` (all of
    them when ``info`` is ``None``), newest first. ``fallback_from``: the search that found
    nothing usable before this one (e.g. no valid best checkpoint, so the latest is used).
    """

    role: str
    directory: Path
    info: CheckpointInfo | None
    invalid: tuple[InvalidCheckpoint, ...] = ()
    fallback_from: CheckpointChoice | None = None

    @property
    def why(self) -> str:
        """Why ``info`` was chosen: ``best by dev WER 23.40 %, ema weights, epoch 5, step 120``,
        ``newest epoch-end checkpoint, epoch 3, step 120`` or ``given, step checkpoint, ...``."""
        info = self.info
        if info is None:
            return ""
        where = f"epoch {info.epoch}, step {info.step}"
        if info.kind == "best":
            wer, weights = info.meta.get("wer"), info.meta.get("weights")
            score = f" {wer:.2f} %" if isinstance(wer, (int, float)) and not isinstance(wer, bool) else ""
            found = f"best by dev WER{score}" if self.role != "file" else "given, a best-by-dev-WER checkpoint"
            return f"{found}, {weights + ' weights, ' if isinstance(weights, str) else ''}{where}"
        what = "epoch-end" if info.kind == "epoch" else "step"
        if self.role == "file":
            return f"given, {what} checkpoint, {where}"
        return f"{'newest valid' if self.invalid else 'newest'} {what} checkpoint, {where}"

    def describe(self) -> str:
        """One line for a user, e.g. ``using DIR/best-000000120.pt (best by dev WER 23.40 %, ...)``,
        ``...; passed over 1 invalid newer best checkpoint: REASON``, ``using DIR/ckpt-...pt
        (newest ...), because no best checkpoint in DIR`` or ``no valid checkpoint in DIR, N
        invalid (newest: REASON)``."""
        noun = "best checkpoint" if self.role == "best" else "checkpoint"
        if self.info is None:
            if not self.invalid:
                return f"no {noun} in {self.directory}"
            newest = self.invalid[0].reason
            return f"no valid {noun} in {self.directory}, {len(self.invalid)} invalid (newest: {newest})"
        text = f"using {self.info.path} ({self.why})"
        if self.invalid:
            n = len(self.invalid)
            text += f"; passed over {n} invalid newer {noun}{'s' if n > 1 else ''}: {self.invalid[0].reason}"
        if self.fallback_from is not None:
            text += f", because {self.fallback_from.describe()}"
        return text

    def require(self) -> CheckpointInfo:
        """``info``, or a :class:`CheckpointError` with :meth:`describe`'s message."""
        if self.info is None:
            raise CheckpointError(self.describe())
        return self.info
