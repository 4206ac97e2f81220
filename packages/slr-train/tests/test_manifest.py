"""A checkpoint manifest is validated as a schema: every malformed one is a CheckpointError naming the
manifest and what is wrong (never a KeyError/ValueError traceback), and the manager passes over it."""

import json
import re

import pytest
import torch

from slr_train import CheckpointError, CheckpointManager, load_checkpoint
from slr_train import manifest as manifest_module
from slr_train.checkpoint import verify_manifest


def _saved(tmp_path, step=2, **save):
    manager = CheckpointManager(tmp_path, keep_last=5)
    manager.save({"model": {"w": torch.ones(2)}}, step=1, epoch=0)
    main = manager.save({"model": {"w": torch.full((2,), 2.0)}}, step=step, epoch=0, **save)
    return manager, main, main.with_suffix(".json")


def _edit(manifest, change):
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data))


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _files(change):
    return lambda d: change(d["files"])


def _entry(key, value):
    return lambda d: d["files"]["ckpt-000000002-step.pt"].__setitem__(key, value)


PROBES = {
    "only_format_version": (lambda d: [d.pop(k) for k in list(d) if k != "format_version"], "'main' is missing"),
    "files_missing": (lambda d: d.pop("files"), "'files' is missing"),
    "files_traversal": (_files(lambda f: f.__setitem__("../../../etc/passwd", {"sha256": "0" * 64, "bytes": 1})),
                        r"files: '../../../etc/passwd' is not a plain file name of this checkpoint"),
    "files_absolute": (_files(lambda f: f.__setitem__("/etc/passwd", {"sha256": "0" * 64, "bytes": 1})),
                       "'/etc/passwd' is not a plain file name"),
    "files_other_checkpoint": (_files(lambda f: f.__setitem__("ckpt-000000001-step.pt", {"sha256": "0" * 64,
                                                                                          "bytes": 1})),
                               "'ckpt-000000001-step.pt' is not a plain file name of this checkpoint"),
    "files_empty": (_set("files", {}), "'files' is empty; it must list at least 'ckpt-000000002-step.pt'"),
    "files_without_main": (_files(lambda f: f.__setitem__("ckpt-000000002-step.rank000.pt",
                                                          f.pop("ckpt-000000002-step.pt"))),
                           "'files' does not list the main file 'ckpt-000000002-step.pt'"),
    "files_a_list": (_set("files", ["ckpt-000000002-step.pt"]), "'files' must be an object"),
    "entry_not_object": (_files(lambda f: f.__setitem__("ckpt-000000002-step.pt", "abc")),
                         "an object with 'sha256' and 'bytes' expected"),
    "sha_short": (_entry("sha256", "abc"), "'sha256' must be 64 lowercase hex digits"),
    "sha_missing": (lambda d: d["files"]["ckpt-000000002-step.pt"].pop("sha256"), "'sha256' must be 64"),
    "bytes_negative": (_entry("bytes", -1), "'bytes' must be an integer >= 0"),
    "bytes_float": (_entry("bytes", 1.5), "'bytes' must be an integer >= 0"),
    "step_string": (_set("step", "2"), "'step' must be an integer >= 0, found '2'"),
    "step_bool": (_set("step", True), "'step' must be an integer >= 0"),
    "epoch_negative": (_set("epoch", -1), "'epoch' must be an integer >= 0"),
    "world_size_zero": (_set("world_size", 0), "'world_size' must be an integer >= 1"),
    "kind_unknown": (_set("kind", "final"), "'kind' must be one of step, epoch, best"),
    "kind_differs_from_name": (_set("kind", "epoch"), "it says kind 'epoch' step 2, its name says kind 'step' step 2"),
    "step_differs_from_name": (_set("step", 7), "it says kind 'step' step 7, its name says kind 'step' step 2"),
    "main_elsewhere": (_set("main", "../../x.pt"), "'main' must be 'ckpt-000000002-step.pt'"),
    "meta_list": (_set("meta", []), "'meta' must be an object"),
    "sharded_string": (_set("meta", {"sharded": "yes"}), "'meta.sharded' must be true or false"),
    "sharded_without_shards": (_set("meta", {"sharded": True}), "sharded by 1 rank but 'files' does not list "
                                                                r"ckpt-000000002-step\.rank000\.pt"),
    "format_version_string": (_set("format_version", "1"), "format_version '1' is not 1"),
    "format_version_missing": (lambda d: d.pop("format_version"), "'format_version' is missing"),
}


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_a_malformed_manifest_is_a_checkpoint_error_and_is_passed_over(tmp_path, probe):
    change, expected = PROBES[probe]
    manager, main, manifest = _saved(tmp_path)
    _edit(manifest, change)
    with pytest.raises(CheckpointError, match=expected) as caught:
        verify_manifest(manifest)
    assert str(caught.value).startswith(str(manifest))
    with pytest.raises(CheckpointError, match=re.escape(str(manifest))):
        load_checkpoint(main)
    with pytest.warns(RuntimeWarning, match="skipping invalid checkpoint"):
        choice = manager.find()
    assert choice.info.step == 1 and [c.path for c in choice.invalid] == [main]
    assert re.search(expected, choice.invalid[0].reason)


@pytest.mark.parametrize("text, expected", [
    ("[]", "a JSON object expected, found list"),
    ('"x"', "a JSON object expected, found str"),
    ("{not json", "unreadable manifest \\(invalid JSON"),
    ("[" * 100_000, "unreadable manifest \\(invalid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_a_manifest_that_is_not_a_json_object_is_a_checkpoint_error(tmp_path, text, expected):
    _, main, manifest = _saved(tmp_path)
    (manifest.write_bytes if isinstance(text, bytes) else manifest.write_text)(text)
    with pytest.raises(CheckpointError, match=f"^{re.escape(str(manifest))}: .*{expected}"):
        verify_manifest(manifest)


def test_an_oversized_or_special_manifest_is_refused_before_reading(tmp_path, monkeypatch):
    _, main, manifest = _saved(tmp_path)
    monkeypatch.setattr(manifest_module, "MAX_MANIFEST_BYTES", 64)
    with pytest.raises(CheckpointError, match="more than the 64 allowed"):
        verify_manifest(manifest)
    monkeypatch.undo()
    manifest.unlink()
    manifest.mkdir()
    with pytest.raises(CheckpointError, match="not a regular file"):
        verify_manifest(manifest)


def test_listed_files_are_each_hashed(tmp_path):
    """A shard listed in the manifest is checked like the main file, and a sharded checkpoint lists every shard."""
    manager, main, manifest = _saved(tmp_path, shard={"rank": torch.zeros(3)})
    shard = main.with_name("ckpt-000000002-step.rank000.pt")
    assert set(json.loads(manifest.read_text())["files"]) == {main.name, shard.name}
    payload = load_checkpoint(main, rank=0)
    assert torch.equal(payload["shard"]["rank"], torch.zeros(3))
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{re.escape(str(shard))}: sha256 .* does not match"):
        verify_manifest(manifest)
    shard.unlink()
    with pytest.raises(CheckpointError, match=f"{re.escape(str(shard))}: listed in {manifest.name} but missing"):
        verify_manifest(manifest)
    _edit(manifest, _files(lambda f: f.pop(shard.name)))
    with pytest.raises(CheckpointError, match="does not list ckpt-000000002-step.rank000.pt"):
        verify_manifest(manifest)


def test_a_payload_that_disagrees_with_its_manifest_is_refused(tmp_path):
    _, main, manifest = _saved(tmp_path)
    older = tmp_path / "ckpt-000000001-step.pt"
    main.write_bytes(older.read_bytes())  # a valid payload of another checkpoint, with a matching manifest entry
    entry = json.loads(older.with_suffix(".json").read_text())["files"][older.name]
    _edit(manifest, _files(lambda f: f.__setitem__(main.name, entry)))
    with pytest.raises(CheckpointError, match="holds kind 'step' step 1, its manifest says kind 'step' step 2"):
        load_checkpoint(main)
