"""Hostile and careless input to ``slr-phoenix`` (issue 12): config files, output paths, checkpoints,
videos, interruptions and broken pipes end with one line on stderr and the documented exit code."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
import slr_train.checkpoint
from slr_train import Trainer, TrainingInterrupted, select_checkpoint
from slr_train.atomic import TMP_PREFIX

from slr_phoenix import cli, outputs, pipeline
from slr_phoenix.cli import main
from slr_phoenix.console import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED
from slr_phoenix.settings import MAX_YAML_DEPTH, ConfigError, load_config

TINY_SYNTH = ("{num_train: 8, num_dev: 4, num_test: 4, vocab_size: 6, image_size: 32, num_signers: 2, "
              "gloss_frames: [4, 5], sentence_glosses: [2, 3]}")


def _train_args(out: Path, cache: Path, *extra: str) -> list[str]:
    return ["train", "--out", str(out), "--no-progress", "--epochs", "1", "--batch-size", "4",
            "--set", f"data.synthetic={TINY_SYNTH}", "--set", f"data.cache_dir={cache}",
            "--set", "eval.splits=[]", "--set", "eval.decoder=greedy", *extra]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err: str, prefix: str) -> str:
    """The single error line of ``err`` (log lines with a time stamp may come before it)."""
    lines = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A finished one-epoch run of slr_mamba_tiny on a tiny synthetic corpus: (run dir, cache)."""
    cache = tmp_path_factory.mktemp("cache")
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(_train_args(run, cache)) == 0
    return run, cache


# ------------------------------------------------------------------------------------ config files
def test_a_non_utf8_config_names_the_file_and_line(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: run\nmodel:\n  name: M\xfcller\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"^{path}:3: not UTF-8 text \(byte 0xfc"):
        load_config(str(path))


def test_a_billion_laughs_alias_bomb_is_refused_while_composing(tmp_path: Path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")  # 9**9 values expanded
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=rf"^{path}:[4-7]: more than 100000 values with aliases expanded"):
        load_config(str(path))


def test_a_few_aliases_are_still_fine(tmp_path: Path):
    path = tmp_path / "anchors.yaml"
    path.write_text("x: &lr 0.001\ntrain:\n  optim:\n    lr: *lr\n    warmup_lr: *lr\n")
    with pytest.raises(ConfigError, match="unknown"):  # 'x' is no config key: the aliases themselves loaded
        load_config(str(path))
    path.write_text("train:\n  optim: &o {lr: 0.002}\n")
    assert load_config(str(path)).train.optim.lr == 0.002


@pytest.mark.parametrize("text", ["data: &d\n  synthetic: *d\n", "a: &x\n  - *x\n"])
def test_a_recursive_alias_is_refused_naming_file_and_line(text, tmp_path: Path):
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"^{path}:2: alias \*\w is inside its own anchor"):
        load_config(str(path))


def test_a_recursive_alias_in_an_override_is_refused():
    with pytest.raises(ConfigError, match=r"^override data.synthetic: alias \*a is inside its own anchor"):
        load_config("tiny", ["data.synthetic=&a {x: *a}"])


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/name:os.system", "!custom"])
def test_python_and_unknown_tags_are_refused_and_nothing_runs(tag, tmp_path: Path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: run\ntrain:\n  seed: {tag} [\"touch {marker}\"]\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3: the tag '.*' is refused"):
        load_config(str(path))
    assert not marker.exists()


def test_deep_nesting_and_oversized_files_are_refused(tmp_path: Path):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * (MAX_YAML_DEPTH + 5) + "]" * (MAX_YAML_DEPTH + 5) + "\n")
    with pytest.raises(ConfigError, match=rf"^{path}:1: nested deeper than {MAX_YAML_DEPTH} levels"):
        load_config(str(path))
    with pytest.raises(ConfigError, match=r"^/dev/zero: config file larger than"):
        load_config("/dev/zero")


def test_malformed_yaml_names_file_and_line_through_the_cli(tmp_path: Path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ntrain:\n  optim: {lr: [1, 2}\n")
    code, _, err = _run(capsys, "train", "--print-config", "--config", str(path))
    assert code == EXIT_BAD_INPUT
    line = _one_line(err, "slr-phoenix train: error:")
    assert line.startswith(f"slr-phoenix train: error: {path}:3: invalid YAML")


# ------------------------------------------------------------------------------------ output paths
def _refused_out(capsys, command: list[str], out: str, reason: str) -> None:
    code, _, err = _run(capsys, *command, "--out", out)
    assert code == EXIT_BAD_INPUT, err
    line = _one_line(err, f"slr-phoenix {command[0]}: error:")
    assert f"--out {out}: " in line and reason in line, line


@pytest.mark.parametrize("command", [["train"], ["evaluate", "--checkpoint", "nowhere.pt"]])
def test_out_naming_a_file_or_under_a_file_is_refused_before_any_work(command, tmp_path: Path, capsys):
    existing = tmp_path / "results.txt"
    existing.write_text("keep me")
    _refused_out(capsys, command, str(existing), "exists and is not a folder")
    _refused_out(capsys, command, str(existing / "run"), "a folder on the way is a file")
    assert existing.read_text() == "keep me"
    _refused_out(capsys, command, "/dev/null", "exists and is not a folder")


def test_out_under_sys_or_proc_is_refused(capsys):
    _refused_out(capsys, ["train"], "/sys/slr-run", "cannot create the folder in /sys")
    _refused_out(capsys, ["train"], "/proc/self/slr-run", "cannot create the folder in /proc/self")
    assert not os.path.exists("/sys/slr-run")


def test_out_on_a_read_only_file_system_is_refused(tmp_path: Path, capsys, monkeypatch):
    existing, new = tmp_path / "old-run", tmp_path / "new" / "run"
    existing.mkdir()
    real_open = os.open

    def read_only_open(path, flags, *args, **kwargs):  # tmp_path as if mounted read-only
        if Path(path).name.startswith(TMP_PREFIX) and Path(path).is_relative_to(tmp_path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "open", read_only_open)
    _refused_out(capsys, ["train"], str(existing), "cannot write in this folder: Read-only file system")
    _refused_out(capsys, ["evaluate", "--checkpoint", "x.pt"], str(new),
                 f"cannot create the folder in {tmp_path}: Read-only file system")
    assert list(existing.iterdir()) == [] and not new.parent.exists()


def test_a_full_disk_during_a_checkpoint_write_is_one_line_and_leaves_only_complete_ones(
        tmp_path: Path, capsys, monkeypatch, trained):
    _, cache = trained
    real_write, calls = slr_train.checkpoint.atomic_write, []

    def disk_full_on_the_second(path, write, *, inputs=()):
        calls.append(path)
        if len(calls) < 2:
            return real_write(path, write, inputs=inputs)

        def partial(f):
            f.write(b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(path, partial, inputs=inputs)

    monkeypatch.setattr(slr_train.checkpoint, "atomic_write", disk_full_on_the_second)
    out = tmp_path / "run"
    code, _, err = _run(capsys, *_train_args(out, cache))
    assert code == EXIT_BAD_INPUT
    line = _one_line(err, "slr-phoenix train: error:")
    assert f"{calls[1]}: cannot write: No space left on device" in line
    folder = out / "checkpoints"
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.startswith(".")], names  # no temp file left
    stems = {n.split(".")[0] for n in names}
    assert all(f"{s}.json" in names and f"{s}.pt" in names for s in stems), names  # no orphan
    if stems:
        assert select_checkpoint(out).info is not None


# ------------------------------------------------------------------------------------ interruption
def test_ctrl_c_mid_epoch_exits_130_with_how_to_resume(tmp_path: Path, capsys, monkeypatch, trained):
    _, cache = trained

    class InterruptedTrainer(Trainer):
        def __init__(self, *args, **kwargs):
            def ctrl_c(step, metrics):
                if step == 3:  # epoch 2, after the epoch-1 checkpoint
                    raise KeyboardInterrupt
            super().__init__(*args, **kwargs, on_step=ctrl_c)

    out = tmp_path / "run"
    monkeypatch.setattr(pipeline, "Trainer", InterruptedTrainer)
    code, _, err = _run(capsys, *_train_args(out, cache, "--epochs", "2"))
    assert code == EXIT_INTERRUPTED
    line = _one_line(err, "slr-phoenix train: interrupted")
    assert "training interrupted at step 3 (epoch 2" in line and "ckpt-000000002-epoch.pt" in line
    assert f"run the same command with --resume auto (--out {out})" in line
    # what --resume auto continues from (its exactness: slr-train's tests)
    assert select_checkpoint(out, prefer="latest").info.path.name == "ckpt-000000002-epoch.pt"


def test_a_plain_ctrl_c_is_130(monkeypatch, capsys):
    def ctrl_c(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_evaluate", ctrl_c)
    code, _, err = _run(capsys, "evaluate", "--checkpoint", "x")
    assert code == EXIT_INTERRUPTED and err.strip() == "slr-phoenix evaluate: interrupted"


def test_training_interrupted_maps_to_130(monkeypatch, tmp_path: Path, capsys):
    def stop(config, run_dir):
        raise TrainingInterrupted("training interrupted at step 5", step=5, epoch=0, last_checkpoint=None)

    monkeypatch.setattr(pipeline, "train", stop)
    code, _, err = _run(capsys, "train", "--out", str(tmp_path / "r"))
    assert code == EXIT_INTERRUPTED and "training interrupted at step 5; to continue" in err


# ------------------------------------------------------------------------------------ checkpoints
def _copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


def test_resume_auto_with_only_corrupt_checkpoints_is_refused_unless_resume_none(trained, tmp_path, capsys):
    run, cache = trained
    copy = _copy_run(run, tmp_path / "run")
    pts = sorted((copy / "checkpoints").glob("*.pt"))
    assert pts
    for pt in pts:
        pt.write_bytes(b"\0" * pt.stat().st_size)  # same size, wrong sha256
    code, _, err = _run(capsys, *_train_args(copy, cache))
    assert code == EXIT_BAD_INPUT
    line = _one_line(err, "slr-phoenix train: error:")
    assert "no valid checkpoint in" in line and "invalid (newest:" in line
    code, _, err = _run(capsys, *_train_args(copy, cache, "--resume", "none"))
    assert code == 0, err


def test_evaluate_and_predict_say_which_checkpoint_they_use(trained, capsys, caplog):
    run, cache = trained
    frames = next(cache.rglob("*.png")).parent
    with caplog.at_level("INFO", logger="slr_phoenix.inference"):
        code, out, _ = _run(capsys, "predict", "--checkpoint", str(run), "--greedy", str(frames))
    assert code == 0 and out.startswith(f"{frames}: ")
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("using ")]
    assert "best-" in line and "(best by dev WER" in line


def test_an_invalid_best_checkpoint_falls_back_to_the_newest_valid_one_saying_why(trained, tmp_path, caplog):
    from slr_phoenix.inference import resolve_checkpoint

    run = _copy_run(trained[0], tmp_path / "run")
    best = next((run / "checkpoints").glob("best-*.pt"))
    best.write_bytes(b"x")
    with caplog.at_level("INFO", logger="slr_phoenix.inference"):
        chosen = resolve_checkpoint(run)
    assert chosen.name.startswith("ckpt-")
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("using ")]
    assert f"because no valid best checkpoint in {run / 'checkpoints'}, 1 invalid" in line


@pytest.mark.parametrize("manifest", [
    {"format_version": 1},
    "files with path parts",
    "empty files",
])
def test_a_malformed_manifest_is_one_line_exit_2(manifest, trained, tmp_path: Path, capsys):
    run = _copy_run(trained[0], tmp_path / "run")
    best = next((run / "checkpoints").glob("best-*.pt"))
    data = json.loads(best.with_suffix(".json").read_text())
    if manifest == "files with path parts":
        data["files"] = {f"../{best.name}": data["files"][best.name]}
    elif manifest == "empty files":
        data["files"] = {}
    else:
        data = manifest
    best.with_suffix(".json").write_text(json.dumps(data))
    for command in (["evaluate", "--out", str(tmp_path / "rescore")], ["predict", str(tmp_path)]):
        code, _, err = _run(capsys, command[0], "--checkpoint", str(best), *command[1:])
        assert code == EXIT_BAD_INPUT, err
        assert str(best.with_suffix(".json")) in _one_line(err, f"slr-phoenix {command[0]}: error:")


def test_evaluate_data_root_is_used_or_refused_never_ignored(trained, tmp_path: Path, capsys):
    run, _ = trained
    code, _, err = _run(capsys, "evaluate", "--checkpoint", str(run), "--data-root", "/nonexistent")
    assert code == EXIT_BAD_INPUT
    assert _one_line(err, "slr-phoenix evaluate:").endswith("--data-root /nonexistent: no such folder")
    empty = tmp_path / "empty-corpus"
    empty.mkdir()
    code, _, err = _run(capsys, "evaluate", "--checkpoint", str(run), "--data-root", str(empty),
                        "--out", str(tmp_path / "rescore"))
    assert code == EXIT_BAD_INPUT and str(empty) in _one_line(err, "slr-phoenix evaluate: error:")
    assert not (tmp_path / "rescore" / "rescore.json").exists()  # the synthetic corpus was not scored


# ------------------------------------------------------------------------------------ predict
def _huge_png(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("as_json", [False, True])
def test_predict_reports_every_video_and_fails_if_any_did(as_json, trained, tmp_path: Path, capsys):
    run, cache = trained
    good = next(cache.rglob("*.png")).parent
    corrupt, huge, missing = tmp_path / "corrupt", tmp_path / "huge", tmp_path / "missing"
    corrupt.mkdir()
    (corrupt / "0001.png").write_bytes(b"not a png at all")
    huge.mkdir()
    _huge_png(huge / "0001.png", 16000, 16000)
    videos = [good, corrupt, good, huge, missing]
    code, out, err = _run(capsys, "predict", "--checkpoint", str(run), "--greedy",
                          *(["--json"] if as_json else []), *map(str, videos))
    assert code == EXIT_BAD_INPUT
    errors = [line for line in err.splitlines() if line.startswith("slr-phoenix predict: error:")]
    assert len(errors) == 3 and "Traceback" not in err
    for video, line in zip((corrupt, huge, missing), errors):
        assert str(video) in line
    assert "16000" in errors[1]
    assert "slr-phoenix predict: 3 of 5 video(s) could not be read" in err
    lines = out.splitlines()
    if as_json:
        items = [json.loads(line) for line in lines]
        assert [i["video"] for i in items] == list(map(str, videos))
        assert ["error" in i for i in items] == [False, True, False, True, True]
    else:
        assert len(lines) == 2 and all(line.startswith(f"{good}: ") for line in lines)


# ------------------------------------------------------------------------------------ the console
class _Stdout:
    def __init__(self, error: OSError) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


def test_a_closed_stdout_pipe_is_a_quiet_exit_0(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", _Stdout(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    code = main(["train", "--print-config"])
    assert code == 0 and capsys.readouterr().err == ""


def test_a_full_stdout_is_exit_2(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", _Stdout(OSError(errno.ENOSPC, "No space left on device")))
    code = main(["train", "--print-config"])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == "slr-phoenix train: error: cannot write to stdout: No space left on device\n"


@pytest.mark.parametrize("exc", [UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
                                 PermissionError(errno.EACCES, "Permission denied", "/data/x")])
def test_decode_and_os_errors_are_bad_input(exc, monkeypatch, capsys):
    def fail(args):
        raise exc

    monkeypatch.setattr(cli, "cmd_evaluate", fail)
    code, _, err = _run(capsys, "evaluate", "--checkpoint", "x")
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1 and "Traceback" not in err
    assert ("/data/x: Permission denied" in err) or ("cannot decode text as utf-8" in err)


def test_an_internal_error_hints_at_debug_which_shows_the_traceback(monkeypatch, capsys):
    def bug(args):
        raise KeyError("oops")

    monkeypatch.setattr(cli, "cmd_evaluate", bug)
    code, _, err = _run(capsys, "evaluate", "--checkpoint", "x")
    assert code == EXIT_INTERNAL
    assert err == ("slr-phoenix evaluate: internal error: KeyError: 'oops' (run with --debug or "
                   "SLR_DEBUG=1 for the traceback)\n")
    for argv, env in ((["--debug", "evaluate", "--checkpoint", "x"], None),
                      (["evaluate", "--checkpoint", "x", "--debug"], None),
                      (["evaluate", "--checkpoint", "x"], "1")):
        if env:
            monkeypatch.setenv("SLR_DEBUG", env)
        code, _, err = _run(capsys, *argv)
        assert code == EXIT_INTERNAL and "Traceback" in err and "KeyError: 'oops'" in err


def test_a_checkpoint_whose_stored_model_does_not_fit_is_one_line_exit_2(trained, tmp_path: Path, capsys):
    from slr_train import CheckpointManager, load_checkpoint

    best = next((trained[0] / "checkpoints").glob("best-*.pt"))
    payload = load_checkpoint(best)
    payload["extra"]["model"] = {**payload["extra"]["model"], "d_model": "wide"}
    for key in ("format_version", "step", "epoch", "kind"):
        payload.pop(key)
    other = CheckpointManager(tmp_path / "checkpoints").save(payload, step=1, epoch=1, kind="best")
    code, _, err = _run(capsys, "predict", "--checkpoint", str(other), str(tmp_path))
    assert code == EXIT_BAD_INPUT
    line = _one_line(err, "slr-phoenix predict: error:")
    assert f"{other}: its stored model or transforms cannot be used" in line
