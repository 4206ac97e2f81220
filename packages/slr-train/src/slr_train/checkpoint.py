"""Atomic, verified checkpoints: ``<stem>.pt`` (+ per-rank shards) and a ``<stem>.json`` manifest.

A checkpoint is valid only when its manifest exists and every file it lists has the recorded
size and sha256. The manifest is written (atomically) after the files, so a process killed at
any moment leaves either the previous valid checkpoints or a complete new one. Loading uses
``torch.load(..., weights_only=True)`` only: payloads hold tensors and primitive containers.

Stems: ``ckpt-<step:09d>-step`` (every N steps), ``ckpt-<step:09d>-epoch`` (epoch end; sorts
after a step checkpoint of the same step) and ``best-<step:09d>`` (best dev WER, kept apart).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from slr_train import distributed as D
from slr_train.atomic import atomic_write, atomic_write_json, remove_stale_temp_files, sha256_file

FORMAT_VERSION = 1
_log = logging.getLogger(__name__)
_STEM = re.compile(r"^(?:ckpt-(?P<step>\d{9})-(?P<kind>step|epoch)|best-(?P<best>\d{9}))$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt or incompatible (the message names the file)."""


@dataclass(frozen=True)
class CheckpointInfo:
    """A verified checkpoint: ``path`` is the main ``.pt`` file, ``manifest`` its ``.json``."""

    path: Path
    manifest: Path
    step: int
    epoch: int
    kind: str
    world_size: int
    meta: dict[str, Any]

    def shard_path(self, rank: int) -> Path:
        return self.path.with_name(f"{self.path.stem}.rank{rank:03d}.pt")


def _save_bytes(path: Path, obj: Any) -> str:
    def write(f: Any) -> None:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        f.write(buffer.getbuffer())

    atomic_write(path, write)
    return sha256_file(path)


def _file_entry(path: Path, digest: str) -> dict[str, Any]:
    return {"sha256": digest, "bytes": path.stat().st_size}


def verify_manifest(manifest: str | os.PathLike) -> CheckpointInfo:
    """Checks the manifest and every file it lists; raises ``CheckpointError`` saying what is wrong."""
    manifest = Path(manifest)
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise CheckpointError(f"{manifest}: manifest missing") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{manifest}: unreadable manifest ({e})") from e
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{manifest}: format_version {meta.get('format_version') if isinstance(meta, dict) else None!r}"
                              f" is not {FORMAT_VERSION}")
    for name, entry in meta["files"].items():
        path = manifest.with_name(name)
        if not path.is_file():
            raise CheckpointError(f"{path}: listed in {manifest.name} but missing")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise CheckpointError(f"{path}: {size} bytes, manifest says {entry['bytes']} (truncated or replaced)")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise CheckpointError(f"{path}: sha256 {digest[:12]}… does not match the manifest ({entry['sha256'][:12]}…)")
    return CheckpointInfo(path=manifest.with_name(meta["main"]), manifest=manifest, step=int(meta["step"]),
                          epoch=int(meta["epoch"]), kind=str(meta["kind"]), world_size=int(meta["world_size"]),
                          meta=dict(meta.get("meta", {})))


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors of any kind: report the file
        raise CheckpointError(f"{path}: cannot be loaded with weights_only=True ({type(e).__name__}: {e})") from e


def load_checkpoint(path: str | os.PathLike, *, rank: int | None = None, verify: bool = True) -> dict[str, Any]:
    """Loads a checkpoint ``.pt`` (verified against its manifest unless ``verify=False``).

    With ``rank`` the payload's ``"shard"`` entry is that rank's shard file (DeepSpeed ZeRO state).
    """
    path = Path(path)
    if verify:
        info = verify_manifest(path.with_suffix(".json"))
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not an slr-train checkpoint of format {FORMAT_VERSION}")
    if rank is not None and verify and info.meta.get("sharded"):
        if info.world_size != D.get_world_size():
            raise CheckpointError(f"{path}: saved by {info.world_size} ranks with sharded optimiser state; "
                                  f"resume needs the same number of ranks (now {D.get_world_size()})")
        payload["shard"] = _torch_load(info.shard_path(rank))
    return payload


class CheckpointManager:
    """Saves, prunes and finds checkpoints in one directory (collective: call on every rank)."""

    def __init__(self, directory: str | os.PathLike, keep_last: int = 2) -> None:
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {keep_last}")
        self.directory = Path(directory)
        self.keep_last = keep_last

    def save(self, payload: dict[str, Any], *, step: int, epoch: int, kind: str = "step",
             shard: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Path:
        """Writes ``payload`` (rank 0) and ``shard`` (every rank, if given), then the manifest.

        ``kind``: ``"step"``, ``"epoch"`` or ``"best"``. Returns the main file's path.
        """
        if kind not in ("step", "epoch", "best"):
            raise ValueError(f"checkpoint kind must be step, epoch or best, got {kind!r}")
        stem = f"best-{step:09d}" if kind == "best" else f"ckpt-{step:09d}-{kind}"
        main = self.directory / f"{stem}.pt"
        rank, world = D.get_rank(), D.get_world_size()
        if D.is_main_process():
            self.directory.mkdir(parents=True, exist_ok=True)
        D.barrier()
        entries: dict[str, Any] = {}
        if shard is not None:
            shard_path = main.with_name(f"{stem}.rank{rank:03d}.pt")
            entries[shard_path.name] = _file_entry(shard_path, _save_bytes(shard_path, shard))
        gathered = D.all_gather_objects(entries)
        if rank == 0:
            files: dict[str, Any] = {}
            for e in gathered:
                files.update(e)
            payload = {**payload, "format_version": FORMAT_VERSION, "step": step, "epoch": epoch, "kind": kind}
            files[main.name] = _file_entry(main, _save_bytes(main, payload))
            atomic_write_json(main.with_suffix(".json"), {
                "format_version": FORMAT_VERSION, "main": main.name, "step": step, "epoch": epoch, "kind": kind,
                "world_size": world, "files": files, "meta": {**(meta or {}), "sharded": shard is not None}})
            self._prune(kind)
        D.barrier()
        return main

    def _manifests(self, kinds: tuple[str, ...]) -> list[tuple[tuple[int, int], Path]]:
        found = []
        for manifest in self.directory.glob("*.json"):
            m = _STEM.match(manifest.stem)
            if not m:
                continue
            kind = "best" if m.group("best") else m.group("kind")
            if kind in kinds:
                step = int(m.group("best") or m.group("step"))
                found.append(((step, 1 if kind == "epoch" else 0), manifest))
        return sorted(found, reverse=True)

    def _delete(self, manifest: Path) -> None:
        stem = manifest.stem
        manifest.unlink(missing_ok=True)  # first: a half-deleted checkpoint is then simply invalid
        for path in self.directory.glob(f"{stem}.*"):
            path.unlink(missing_ok=True)

    def _prune(self, kind: str) -> None:
        if kind == "best":
            for _, manifest in self._manifests(("best",))[1:]:
                self._delete(manifest)
        else:
            for _, manifest in self._manifests(("step", "epoch"))[self.keep_last:]:
                self._delete(manifest)
        remove_stale_temp_files(self.directory)

    def _newest_valid(self, kinds: tuple[str, ...]) -> CheckpointInfo | None:
        for _, manifest in self._manifests(kinds):
            try:
                return verify_manifest(manifest)
            except CheckpointError as e:
                message = f"skipping invalid checkpoint: {e}"
                warnings.warn(message, RuntimeWarning, stacklevel=3)
                _log.warning(message)
        return None

    def latest(self) -> CheckpointInfo | None:
        """Newest valid step/epoch checkpoint (rank 0 decides, every rank gets the same answer)."""
        info = self._newest_valid(("step", "epoch")) if D.is_main_process() else None
        return D.broadcast_object(info)

    def best(self) -> CheckpointInfo | None:
        """Newest valid best-by-dev-WER checkpoint."""
        info = self._newest_valid(("best",)) if D.is_main_process() else None
        return D.broadcast_object(info)

    def load(self, info: CheckpointInfo) -> dict[str, Any]:
        """Loads a checkpoint found by :meth:`latest`/:meth:`best`, with this rank's shard if any."""
        return load_checkpoint(info.path, rank=D.get_rank())
