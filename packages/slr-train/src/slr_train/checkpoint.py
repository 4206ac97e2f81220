"""Atomic, verified checkpoints: ``<stem>.pt`` (+ per-rank shards) and a ``<stem>.json`` manifest.

A checkpoint is valid only when its manifest passes the schema (:mod:`slr_train.manifest`) and
every file it lists has the recorded size and sha256. The manifest is written (atomically)
after the files, so a process killed at any moment leaves either the previous valid checkpoints
or a complete new one; a write that fails (disk full, Ctrl-C) removes what it had written.
Loading uses ``torch.load(..., weights_only=True)`` only: payloads hold tensors and primitive
containers.

Stems: ``ckpt-<step:09d>-step`` (every N steps), ``ckpt-<step:09d>-epoch`` (epoch end; sorts
after a step checkpoint of the same step) and ``best-<step:09d>`` (best dev WER, kept apart).
:meth:`CheckpointManager.find` / :meth:`CheckpointManager.load_newest` say which checkpoint was
chosen and which newer ones were passed over, and why (:class:`~slr_train.choice.CheckpointChoice`).
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from slr_train import distributed as D
from slr_train.atomic import (
    OutputPathError,
    atomic_write,
    atomic_write_json,
    check_output_file,
    ensure_output_dir,
    remove_stale_temp_files,
    sha256_file,
)
from slr_train.checkpoint_layout import check_header, header
from slr_train.choice import CheckpointChoice, InvalidCheckpoint
from slr_train.manifest import (
    FORMAT_VERSION,
    CheckpointError,
    CheckpointInfo,
    parse_stem,
    shard_name,
    verify_manifest,
)

_log = logging.getLogger(__name__)
ROLES = {"latest": ("step", "epoch"), "best": ("best",)}

__all__ = ["FORMAT_VERSION", "CheckpointChoice", "CheckpointError", "CheckpointInfo", "CheckpointManager",
           "InvalidCheckpoint", "load_checkpoint", "verify_manifest"]


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise CheckpointError(f"cannot be read ({e.strerror or e})", path) from e
    except Exception as e:  # unpickling errors of any kind: report the file
        raise CheckpointError(f"cannot be loaded with weights_only=True ({type(e).__name__}: {e})", path) from e


def _load_payload(path: Path, info: CheckpointInfo | None, rank: int | None) -> dict[str, Any]:
    payload = check_header(_torch_load(path), path)
    if info is None:
        return payload
    if (payload.get("step"), payload.get("kind")) != (info.step, info.kind):
        raise CheckpointError(f"holds kind {payload.get('kind')!r} step {payload.get('step')!r}, its manifest "
                              f"says kind {info.kind!r} step {info.step}", path)
    if rank is not None and info.meta.get("sharded"):
        if info.world_size != D.get_world_size():
            raise CheckpointError(f"saved by {info.world_size} ranks with sharded optimiser state; "
                                  f"resume needs the same number of ranks (now {D.get_world_size()})", path)
        payload["shard"] = _torch_load(info.shard_path(rank))
    return payload


def load_checkpoint(path: str | os.PathLike, *, rank: int | None = None, verify: bool = True) -> dict[str, Any]:
    """Loads a checkpoint ``.pt`` (verified against its manifest unless ``verify=False``).

    With ``rank`` the payload's ``"shard"`` entry is that rank's shard file (DeepSpeed ZeRO state).
    Every failure is a :class:`CheckpointError` naming the file.
    """
    path = Path(path)
    info = verify_manifest(path.with_suffix(".json")) if verify else None
    return _load_payload(path, info, rank)


def _save_bytes(path: Path, obj: Any, inputs: Iterable[Path], written: list[Path]) -> dict[str, Any]:
    """Writes ``torch.save(obj)`` atomically (then appends ``path`` to ``written``); returns its manifest entry."""
    def write(f: Any) -> None:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        f.write(buffer.getbuffer())

    atomic_write(path, write, inputs=inputs)
    written.append(path)
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


class CheckpointManager:
    """Saves, prunes and finds checkpoints in one directory (collective: call on every rank).

    ``inputs``: files this run reads (``init_from``, an explicit resume file): a save that would
    replace one is refused, and pruning leaves them alone.
    """

    def __init__(self, directory: str | os.PathLike, keep_last: int = 2, *,
                 inputs: Iterable[str | os.PathLike | None] = ()) -> None:
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {keep_last}")
        self.directory = Path(directory)
        self.keep_last = keep_last
        self.inputs = tuple(Path(p) for p in inputs if p is not None)

    # --------------------------------------------------------------------------------- saving
    def save(self, payload: dict[str, Any], *, step: int, epoch: int, kind: str = "step",
             shard: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Path:
        """Writes ``payload`` (rank 0) and ``shard`` (every rank, if given), then the manifest.

        ``kind``: ``"step"``, ``"epoch"`` or ``"best"``. Returns the main file's path. A failure
        on any rank (e.g. ``OutputPathError`` ENOSPC naming the file) is raised on every rank after
        the files of this checkpoint are removed again; older checkpoints are untouched.
        """
        if kind not in ("step", "epoch", "best"):
            raise ValueError(f"checkpoint kind must be step, epoch or best, got {kind!r}")
        stem = f"best-{step:09d}" if kind == "best" else f"ckpt-{step:09d}-{kind}"
        main = self.directory / f"{stem}.pt"
        manifest = main.with_suffix(".json")
        rank, world = D.get_rank(), D.get_world_size()
        written: list[Path] = []  # files this rank has replaced: removed again if the save fails
        try:
            error = None
            try:
                if D.is_main_process():
                    ensure_output_dir(self.directory)
                    check_output_file(main, inputs=self.inputs)
                    _unlink_if_present(manifest)  # an older checkpoint of this name is replaced
            except OSError as e:
                error = e
            self._agree(error, f"checkpoint {stem}: the folder")
            entries: dict[str, Any] = {}
            try:
                if shard is not None:
                    shard_path = main.with_name(shard_name(stem, rank))
                    entries[shard_path.name] = _save_bytes(shard_path, shard, self.inputs, written)
            except Exception as e:  # noqa: BLE001 - any failure is agreed on by every rank, then raised
                error = e
            gathered = self._agree(error, f"checkpoint {stem}: a shard", entries)
            if rank == 0:
                try:
                    files: dict[str, Any] = {}
                    for e in gathered:
                        files.update(e)
                    payload = {**payload, **header(step=step, epoch=epoch, kind=kind)}
                    files[main.name] = _save_bytes(main, payload, self.inputs, written)
                    atomic_write_json(manifest, {
                        "format_version": FORMAT_VERSION, "main": main.name, "step": step, "epoch": epoch,
                        "kind": kind, "world_size": world, "files": files,
                        "meta": {**(meta or {}), "sharded": shard is not None}}, inputs=self.inputs)
                    written.append(manifest)
                except Exception as e:  # noqa: BLE001 - as above
                    error = e
            self._agree(error, f"checkpoint {stem}: the main file or manifest")
        except BaseException:
            self._remove(written)
            raise
        if rank == 0:
            try:
                self._prune(kind, stem)
            except OSError as e:  # the new checkpoint is complete; old ones stay for now
                _log.warning("could not remove old checkpoints in %s: %s", self.directory, e)
        return main

    def _agree(self, error: BaseException | None, what: str, value: Any = None) -> list[Any]:
        """Collective: every rank's ``value``; raises on every rank if ``error`` is set on any."""
        gathered = D.all_gather_objects((value, None if error is None else str(error)))
        if error is not None:
            raise error
        failed = [(r, message) for r, (_, message) in enumerate(gathered) if message is not None]
        if failed:
            r, message = failed[0]
            raise CheckpointError(f"{what} was not written by rank {r}: {message}")
        return [v for v, _ in gathered]

    def _remove(self, written: list[Path]) -> None:
        """Removes the files of a checkpoint whose save failed, manifest first (it then stays invalid)."""
        for path in sorted(written, key=lambda p: p.suffix != ".json"):
            if not any(_same_file(path, p) for p in self.inputs):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass

    def _delete(self, manifest: Path) -> None:
        if any(_same_file(manifest.with_suffix(".pt"), p) for p in self.inputs):
            return
        stem = manifest.stem
        manifest.unlink(missing_ok=True)  # first: a half-deleted checkpoint is then simply invalid
        for path in self.directory.glob(f"{stem}.*"):
            path.unlink(missing_ok=True)

    def _prune(self, kind: str, saved: str) -> None:
        """Keeps the newest ``keep_last`` step/epoch checkpoints (1 best) and the one just ``saved``;
        also removes the files of interrupted writes (no manifest) older than the oldest kept one."""
        keep = 1 if kind == "best" else self.keep_last
        stems = self._stems(("best",) if kind == "best" else ("step", "epoch"))
        complete = [s for s in stems if (self.directory / f"{s[2]}.json").exists()]
        for _, _, stem in complete[keep:]:
            if stem != saved:
                self._delete(self.directory / f"{stem}.json")
        if len(complete) >= keep:
            oldest_kept = complete[keep - 1][0]
            for key, _, stem in stems:
                if key < oldest_kept and not (self.directory / f"{stem}.json").exists():
                    self._delete(self.directory / f"{stem}.json")
        remove_stale_temp_files(self.directory)

    # -------------------------------------------------------------------------------- finding
    def _stems(self, kinds: tuple[str, ...]) -> list[tuple[tuple[int, int], str, str]]:
        """``(sort key, kind, stem)`` of every checkpoint with a manifest or a main file, newest first."""
        found: dict[str, tuple[tuple[int, int], str, str]] = {}
        if not self.directory.is_dir():
            return []
        for path in self.directory.iterdir():
            if path.suffix not in (".json", ".pt") or path.name.startswith("."):
                continue
            named = parse_stem(path.stem)
            if named is not None and named[0] in kinds:
                kind, step = named
                found[path.stem] = ((step, 1 if kind == "epoch" else 0), kind, path.stem)
        return sorted(found.values(), reverse=True)

    def _scan(self, role: str, warn: bool) -> CheckpointChoice:
        invalid: list[InvalidCheckpoint] = []
        for _, kind, stem in self._stems(ROLES[role]):
            try:
                info = verify_manifest(self.directory / f"{stem}.json")
            except CheckpointError as e:
                invalid.append(self._invalid(stem, kind, str(e), warn))
                continue
            return CheckpointChoice(role, self.directory, info, tuple(invalid))
        return CheckpointChoice(role, self.directory, None, tuple(invalid))

    def _invalid(self, stem: str, kind: str, reason: str, warn: bool) -> InvalidCheckpoint:
        named = parse_stem(stem)
        if warn:
            message = f"skipping invalid checkpoint: {reason}"
            warnings.warn(message, RuntimeWarning, stacklevel=4)
            _log.warning(message)
        return InvalidCheckpoint(self.directory / f"{stem}.pt", kind, named[1] if named else -1, reason)

    def find(self, role: str = "latest", *, warn: bool = True) -> CheckpointChoice:
        """The newest checkpoint of ``role`` whose manifest and files verify, with the newer invalid ones.

        ``role``: ``"latest"`` (step/epoch checkpoints) or ``"best"``. Rank 0 decides, every rank
        gets the same answer. ``warn``: a ``RuntimeWarning`` (and log warning) per invalid one.
        The payload itself is not loaded (:meth:`load_newest` does).
        """
        if role not in ROLES:
            raise ValueError(f"role must be 'latest' or 'best', got {role!r}")
        choice = self._scan(role, warn) if D.is_main_process() else None
        return D.broadcast_object(choice)

    def load_newest(self, role: str = "latest", *, warn: bool = True) -> tuple[CheckpointChoice, dict[str, Any] | None]:
        """Collective: like :meth:`find`, but also loads the payload (and each rank's shard).

        A checkpoint whose payload cannot be loaded on some rank (unreadable, not weights-only,
        missing shard, other world size) is passed over like an invalid manifest. Returns the
        choice and this rank's payload (``None`` when no checkpoint is usable).
        """
        if role not in ROLES:
            raise ValueError(f"role must be 'latest' or 'best', got {role!r}")
        stems = D.broadcast_object(self._stems(ROLES[role]) if D.is_main_process() else None)
        invalid: list[InvalidCheckpoint] = []
        main = D.is_main_process()
        for _, kind, stem in stems:
            info, reason = None, None
            if main:
                try:
                    info = verify_manifest(self.directory / f"{stem}.json")
                except CheckpointError as e:
                    reason = str(e)
            info, reason = D.broadcast_object((info, reason))
            payload = None
            if info is not None:
                try:
                    payload = _load_payload(info.path, info, D.get_rank())
                except CheckpointError as e:
                    reason = str(e)
                reasons = [r for r in D.all_gather_objects(reason) if r is not None]
                reason = reasons[0] if reasons else None
            if reason is None:
                return CheckpointChoice(role, self.directory, info, tuple(invalid)), payload
            invalid.append(self._invalid(stem, kind, reason, warn and main))
        return CheckpointChoice(role, self.directory, None, tuple(invalid)), None

    def latest(self) -> CheckpointInfo | None:
        """Newest valid step/epoch checkpoint (warns about each newer invalid one); ``find("latest").info``."""
        return self.find("latest").info

    def best(self) -> CheckpointInfo | None:
        """Newest valid best-by-dev-WER checkpoint; ``find("best").info``."""
        return self.find("best").info

    def load(self, info: CheckpointInfo) -> dict[str, Any]:
        """Loads a checkpoint found by :meth:`latest`/:meth:`best`, with this rank's shard if any."""
        return load_checkpoint(info.path, rank=D.get_rank())


def _unlink_if_present(path: Path) -> None:
    if not (path.exists() or path.is_symlink()):
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise OutputPathError(f"cannot replace it: {e.strerror or e}", str(path), errno=e.errno) from e


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False

