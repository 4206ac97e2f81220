"""Checkpoint manifests (``<stem>.json``): the schema, its validation and the file verification.

A manifest of format 1 is a JSON object (at most ``MAX_MANIFEST_BYTES``)::

    {"format_version": 1, "main": "<stem>.pt", "step": 120, "epoch": 3, "kind": "epoch",
     "world_size": 2, "meta": {"sharded": false, ...},
     "files": {"<stem>.pt": {"sha256": "<64 lowercase hex>", "bytes": 123456}, ...}}

``main`` is the manifest's own stem + ``.pt``; ``step``/``epoch`` are ints >= 0, ``world_size``
>= 1, ``kind`` ``step``/``epoch``/``best`` (and, for the manager's names ``ckpt-<step>-<kind>`` /
``best-<step>``, the same step and kind as the name); ``files`` lists at least ``main``, each
name a plain file name of this checkpoint (``<stem>.pt``, ``<stem>.rankNNN.pt``: no folder, no
``..``); ``meta`` (optional) is an object whose ``sharded`` (a bool) requires a shard
``<stem>.rankNNN.pt`` for every rank. Other keys are ignored. Every check failure is a
:class:`CheckpointError` naming the manifest and what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slr_train.atomic import sha256_file
from slr_train.checkpoint_layout import FORMAT_VERSION, KINDS
from slr_train.errors import CheckpointError

MAX_MANIFEST_BYTES = 4 << 20  # a 1000-rank manifest is ~150 KB
STEM_PATTERN = re.compile(r"^(?:ckpt-(?P<step>\d{9})-(?P<kind>step|epoch)|best-(?P<best>\d{9}))$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class CheckpointInfo:
    """A verified checkpoint: ``path`` is the main ``.pt`` file, ``manifest`` its ``.json``.

    ``meta``: the manifest's ``meta`` (``sharded``; best checkpoints: ``wer``, ``weights``).
    """

    path: Path
    manifest: Path
    step: int
    epoch: int
    kind: str
    world_size: int
    meta: dict[str, Any]

    def shard_path(self, rank: int) -> Path:
        return self.path.with_name(shard_name(self.path.stem, rank))


def shard_name(stem: str, rank: int) -> str:
    return f"{stem}.rank{rank:03d}.pt"


def parse_stem(stem: str) -> tuple[str, int] | None:
    """``(kind, step)`` of a manager checkpoint name (``ckpt-000000120-epoch``), else ``None``."""
    m = STEM_PATTERN.match(stem)
    if not m:
        return None
    if m.group("best") is not None:
        return "best", int(m.group("best"))
    return m.group("kind"), int(m.group("step"))


def _read_json(manifest: Path) -> Any:
    try:
        st = os.stat(manifest)
    except FileNotFoundError as e:
        raise CheckpointError("manifest missing (a checkpoint write that did not complete, "
                              "or a removed manifest)", manifest) from e
    except OSError as e:
        raise CheckpointError(f"unreadable manifest ({e.strerror or e})", manifest) from e
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError("the manifest is not a regular file", manifest)
    if st.st_size > MAX_MANIFEST_BYTES:
        raise CheckpointError(f"the manifest has {st.st_size} bytes, more than the "
                              f"{MAX_MANIFEST_BYTES} allowed (slr_train.manifest.MAX_MANIFEST_BYTES)", manifest)
    try:
        with open(manifest, "rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"unreadable manifest ({e.strerror or e})", manifest) from e
    if len(data) > MAX_MANIFEST_BYTES:
        raise CheckpointError(f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes", manifest)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CheckpointError(f"unreadable manifest (not UTF-8 at byte {e.start})", manifest) from e
    except (json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"unreadable manifest (invalid JSON: {e})", manifest) from e


def _is_int(value: Any) -> bool:
    return type(value) is int


def validate_manifest(data: Any, manifest: str | os.PathLike) -> dict[str, Any]:
    """Checks parsed manifest ``data`` against the schema (module docstring); returns it.

    ``manifest`` is the file it came from: its name gives the checkpoint's stem.
    """
    manifest = Path(manifest)

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"invalid manifest: {what}", manifest)

    if not isinstance(data, dict):
        raise bad(f"a JSON object expected, found {type(data).__name__}")
    if "format_version" not in data:
        raise bad("'format_version' is missing")
    if data["format_version"] != FORMAT_VERSION or not _is_int(data["format_version"]):
        raise CheckpointError(f"format_version {data['format_version']!r} is not {FORMAT_VERSION}", manifest)
    for key, check, expected in (("main", lambda v: isinstance(v, str), "a file name"),
                                 ("step", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
                                 ("epoch", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
                                 ("kind", lambda v: v in KINDS, "one of " + ", ".join(KINDS)),
                                 ("world_size", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
                                 ("files", lambda v: isinstance(v, dict), "an object of file name: entry")):
        if key not in data:
            raise bad(f"{key!r} is missing")
        if not check(data[key]):
            raise bad(f"{key!r} must be {expected}, found {data[key]!r:.80}")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise bad(f"'meta' must be an object, found {meta!r:.80}")
    if "sharded" in meta and not isinstance(meta["sharded"], bool):
        raise bad(f"'meta.sharded' must be true or false, found {meta['sharded']!r:.80}")
    stem = manifest.stem
    named = parse_stem(stem)
    if named is not None and named != (data["kind"], data["step"]):
        raise bad(f"it says kind {data['kind']!r} step {data['step']}, its name says kind {named[0]!r} "
                  f"step {named[1]}")
    if data["main"] != f"{stem}.pt":
        raise bad(f"'main' must be {stem + '.pt'!r} (the manifest's own name), found {data['main']!r:.80}")
    files = data["files"]
    if not files:
        raise bad(f"'files' is empty; it must list at least {data['main']!r}")
    for name, entry in files.items():
        if not _own_file_name(name, stem):
            raise bad(f"files: {name!r:.120} is not a plain file name of this checkpoint ({stem}.pt or "
                      f"{stem}.rankNNN.pt, no folder)")
        if not isinstance(entry, dict):
            raise bad(f"files: {name!r}: an object with 'sha256' and 'bytes' expected, found {entry!r:.80}")
        if not isinstance(entry.get("sha256"), str) or not _SHA256.match(entry["sha256"]):
            raise bad(f"files: {name!r}: 'sha256' must be 64 lowercase hex digits, found {entry.get('sha256')!r:.80}")
        if not _is_int(entry.get("bytes")) or entry["bytes"] < 0:
            raise bad(f"files: {name!r}: 'bytes' must be an integer >= 0, found {entry.get('bytes')!r:.80}")
    if data["main"] not in files:
        raise bad(f"'files' does not list the main file {data['main']!r}")
    if meta.get("sharded"):
        missing = [shard_name(stem, r) for r in range(data["world_size"]) if shard_name(stem, r) not in files]
        if missing:
            n = data["world_size"]
            raise bad(f"sharded by {n} rank{'s' if n != 1 else ''} but 'files' does not list {', '.join(missing[:3])}"
                      + (f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""))
    return data


def _own_file_name(name: Any, stem: str) -> bool:
    if not isinstance(name, str) or "/" in name or "\\" in name or "\0" in name or name in ("", ".", ".."):
        return False
    if name == f"{stem}.pt":
        return True
    return re.fullmatch(re.escape(stem) + r"\.rank\d{3,}\.pt", name) is not None


def verify_manifest(manifest: str | os.PathLike) -> CheckpointInfo:
    """Validates the manifest and checks every file it lists (size, then sha256); raises ``CheckpointError``."""
    manifest = Path(manifest)
    data = validate_manifest(_read_json(manifest), manifest)
    for name, entry in data["files"].items():
        path = manifest.with_name(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise CheckpointError(f"listed in {manifest.name} but missing", path) from None
        except OSError as e:
            raise CheckpointError(f"listed in {manifest.name} but unreadable ({e.strerror or e})", path) from e
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"listed in {manifest.name} but not a regular file", path)
        if st.st_size != entry["bytes"]:
            raise CheckpointError(f"{st.st_size} bytes, manifest says {entry['bytes']} (truncated or replaced)", path)
        try:
            digest = sha256_file(path)
        except OSError as e:
            raise CheckpointError(f"listed in {manifest.name} but unreadable ({e.strerror or e})", path) from e
        if digest != entry["sha256"]:
            raise CheckpointError(f"sha256 {digest[:12]}… does not match the manifest "
                                  f"({entry['sha256'][:12]}…)", path)
    return CheckpointInfo(path=manifest.with_name(data["main"]), manifest=manifest, step=data["step"],
                          epoch=data["epoch"], kind=data["kind"], world_size=data["world_size"],
                          meta=dict(data.get("meta", {})))
