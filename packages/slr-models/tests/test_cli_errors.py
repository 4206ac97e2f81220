"""``slr-models`` ends with one line on stderr and its documented exit code (issue 12)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

from slr_models import cli as cli_module
from slr_models.cli import main
from slr_models.console import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED

DATA = Path(__file__).parent / "data" / "mamba_slr"
AMP = DATA / "amp" / "checkpoint-best.pth"
GLOSS_DICT = DATA / "gloss_dict.npy"


class _Stdout:
    def __init__(self, error: OSError) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        raise self.error


def test_a_closed_pipe_is_a_quiet_exit_0(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", _Stdout(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    assert main(["list"]) == 0
    assert capsys.readouterr().err == ""


def test_a_full_stdout_is_exit_2(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout", _Stdout(OSError(errno.ENOSPC, "No space left on device")))
    assert main(["list"]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == "slr-models: error: cannot write to stdout: No space left on device\n"


def _failing_run(monkeypatch, exc: BaseException) -> None:
    def run(args):
        raise exc

    monkeypatch.setattr(cli_module, "_run", run)


def test_ctrl_c_is_130(monkeypatch, capsys):
    _failing_run(monkeypatch, KeyboardInterrupt())
    assert main(["list"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "slr-models: interrupted\n"


@pytest.mark.parametrize("exc, shown", [
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "cannot decode text as utf-8"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/ckpt.pth"),
     "/data/ckpt.pth: Permission denied"),
])
def test_os_and_decode_errors_are_bad_input(exc, shown, monkeypatch, capsys):
    _failing_run(monkeypatch, exc)
    assert main(["list"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("slr-models: error: ") and shown in err and err.count("\n") == 1


def test_an_internal_error_hints_at_debug_which_shows_the_traceback(monkeypatch, capsys):
    _failing_run(monkeypatch, KeyError("oops"))
    assert main(["list"]) == EXIT_FAILED
    assert capsys.readouterr().err == ("slr-models: internal error: KeyError: 'oops' (run with --debug or "
                                       "SLR_DEBUG=1 for the traceback)\n")
    for argv in (["--debug", "list"], ["list", "--debug"]):
        assert main(argv) == EXIT_FAILED
        err = capsys.readouterr().err
        assert "Traceback" in err and "KeyError: 'oops'" in err
    monkeypatch.setenv("SLR_DEBUG", "1")
    assert main(["list"]) == EXIT_FAILED and "Traceback" in capsys.readouterr().err


def _import(out: str | Path, source: str | Path = AMP) -> list[str]:
    return ["import-mamba-slr", str(source), "--gloss-dict", str(GLOSS_DICT), "--out", str(out)]


def test_an_unusable_out_is_refused_before_the_checkpoint_is_read(tmp_path: Path, capsys):
    afile = tmp_path / "notes.txt"
    afile.write_text("keep")
    never_read = tmp_path / "no-such.pth"  # the out check comes first
    for out, reason in ((tmp_path, "exists and is not a regular file"),
                        (afile / "bundle.pt", "a folder on the way is a file, not a folder"),
                        ("/sys/slr-bundle.pt", "cannot write in its folder"),
                        ("/dev/null", "exists and is not a regular file")):
        assert main(_import(out, never_read)) == EXIT_BAD_INPUT
        err = capsys.readouterr().err
        assert err.startswith(f"slr-models: --out {out}: {reason}") and err.count("\n") == 1
    assert afile.read_text() == "keep"


def test_a_read_only_file_system_is_refused(tmp_path: Path, capsys, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if ".probe-" in os.fspath(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(cli_module.os, "open", read_only)
    out = tmp_path / "bundle.pt"
    assert main(_import(out)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err == f"slr-models: --out {out}: cannot write in its folder: Read-only file system\n"


def test_a_full_disk_while_writing_the_bundle_names_it_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    def disk_full(obj, f, *args, **kwargs):
        f.write(b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    out = tmp_path / "bundle.pt"
    assert main(_import(out)) == EXIT_BAD_INPUT
    assert capsys.readouterr().err == f"slr-models: error: {out}: cannot write: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_a_symlinked_out_is_written_through(tmp_path: Path, capsys):
    real = tmp_path / "store" / "bundle.pt"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "bundle.pt"
    link.symlink_to(real)
    assert main(_import(link)) == 0
    assert link.is_symlink() and real.stat().st_size > 1000
    assert [p.name for p in real.parent.iterdir()] == ["bundle.pt"]
