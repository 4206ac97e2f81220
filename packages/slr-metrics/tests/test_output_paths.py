"""Output paths: never an input, symlinks written through, nothing but regular files replaced,
errors naming the path the user gave."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from slr_metrics import OutputError, write_ctm, write_stm
from slr_metrics.cli import main
from slr_metrics.fileio import atomic_write_text, resolve_output_path

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture()
def files(tmp_path):
    write_stm(tmp_path / "ref.stm", {"u1": ["A", "B"], "u2": ["C"]})
    write_ctm(tmp_path / "hyp.ctm", {"u1": ["A"], "u2": ["D"]})
    return tmp_path / "ref.stm", tmp_path / "hyp.ctm"


def _score(ref, hyp, pra) -> int:
    return main(["--ref", str(ref), "--hyp", str(hyp), "--pra", str(pra)])


def _no_temp_files(folder: Path) -> bool:
    return not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_pra_never_replaces_an_input(files, tmp_path, capsys):
    ref, hyp = files
    before = (ref.read_bytes(), hyp.read_bytes())
    (tmp_path / "ref-link.pra").symlink_to(ref)
    os.link(hyp, tmp_path / "hyp-hardlink.pra")
    for pra, named in [
        (ref, ref),
        (hyp, hyp),
        (tmp_path / "ref-link.pra", ref),
        (tmp_path / "hyp-hardlink.pra", hyp),
    ]:
        assert _score(ref, hyp, pra) == 2
        err = capsys.readouterr().err
        assert err == (
            f"slr-score: error: {pra}: is also an input of this command ({named}); refusing to overwrite it\n"
        )
    assert (ref.read_bytes(), hyp.read_bytes()) == before
    assert (tmp_path / "ref-link.pra").is_symlink()
    relative = os.path.relpath(ref)  # the same file named another way
    with pytest.raises(OutputError, match="is also an input"):
        atomic_write_text(relative, "x", inputs=[str(ref)])


def test_a_symlink_is_written_through(files, tmp_path, capsys):
    ref, hyp = files
    target = tmp_path / "listings" / "out.pra"
    target.parent.mkdir()
    target.write_text("old\n")
    os.chmod(target, 0o600)
    link = tmp_path / "out.pra"
    link.symlink_to(target)
    assert _score(ref, hyp, link) == 0
    capsys.readouterr()
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "DUMP OF SYSTEM ALIGNMENT STRUCTURE" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert _no_temp_files(tmp_path) and _no_temp_files(target.parent)

    dangling = tmp_path / "new.pra"
    dangling.symlink_to(tmp_path / "listings" / "created.pra")
    assert _score(ref, hyp, dangling) == 0
    assert dangling.is_symlink() and (tmp_path / "listings" / "created.pra").is_file()


def _special_files(tmp_path: Path) -> list[tuple[Path, str]]:
    out = [(tmp_path / "folder", "a directory")]
    out[0][0].mkdir()
    os.mkfifo(tmp_path / "fifo")
    out.append((tmp_path / "fifo", "a FIFO"))
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        out.append((tmp_path / "null", "a character device"))
    except (PermissionError, OSError):  # mknod needs root (CAP_MKNOD)
        pass
    link = tmp_path / "to-fifo.pra"
    link.symlink_to(tmp_path / "fifo")
    out.append((link, f"a FIFO (through a symlink to {tmp_path / 'fifo'})"))
    return out


def test_anything_but_a_regular_file_is_refused(files, tmp_path, capsys):
    ref, hyp = files
    for path, kind in _special_files(tmp_path):
        mode = os.lstat(path).st_mode
        assert _score(ref, hyp, path) == 2
        err = capsys.readouterr().err
        assert err == f"slr-score: error: {path}: is {kind}, not a regular file; refusing to replace it\n"
        assert os.lstat(path).st_mode == mode  # still what it was, not a regular file


def test_symlink_loops_and_impossible_folders_name_the_users_path(files, tmp_path, capsys):
    ref, hyp = files
    (tmp_path / "a.pra").symlink_to(tmp_path / "b.pra")
    (tmp_path / "b.pra").symlink_to(tmp_path / "a.pra")
    cases = [
        (tmp_path / "a.pra", "cannot write: Too many levels of symbolic links"),
        (tmp_path / "missing" / "x.pra", "cannot write: No such file or directory"),
        (ref / "x.pra", "cannot write: Not a directory"),
    ]
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--pra", ""]) == 2  # e.g. --pra "$UNSET"
    assert capsys.readouterr().err == "slr-score: error: '': an output path must not be empty\n"
    for path, reason in cases:
        assert _score(ref, hyp, path) == 2
        assert capsys.readouterr().err == f"slr-score: error: {path}: {reason}\n"
    with pytest.raises(OutputError, match="empty"):
        resolve_output_path("")


def test_write_failures_name_the_users_path_and_keep_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.pra"
    target.write_text("old\n")
    link = tmp_path / "link.pra"
    link.symlink_to(target)

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src)

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OutputError) as info:
        atomic_write_text(link, "new\n")
    assert str(info.value) == f"{link}: cannot write: No space left on device"
    assert info.value.errno == errno.ENOSPC and info.value.path == str(link)
    assert isinstance(info.value, OSError)
    assert ".tmp" not in str(info.value)
    assert target.read_text() == "old\n" and _no_temp_files(tmp_path)


def test_pra_that_is_also_stdout_is_refused(files, tmp_path):
    ref, hyp = files
    out = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    with open(out, "w") as stdout:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "slr_metrics.cli",
                "--ref",
                str(ref),
                "--hyp",
                str(hyp),
                "--pra",
                str(out),
            ],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"slr-score: error: {out}: is also the standard output of this command; refusing to replace it\n"
    )


def test_library_writers_use_the_same_checks(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputError, match=r"folder: is a directory, not a regular file"):
        write_stm(tmp_path / "folder", {"u": ["A"]})
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OutputError, match=r"fifo: is a FIFO"):
        write_ctm(tmp_path / "fifo", {"u": ["A"]})
