"""The atomic writer's output policy: nothing but a regular file (or nothing) is replaced, symlinks are
written through, inputs are never overwritten, and every error names the path the caller gave."""

import errno
import json
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap

import pytest

from slr_train import OutputPathError
from slr_train.atomic import (atomic_write, atomic_write_bytes, atomic_write_json, check_output_file,
                              ensure_output_dir)


def _no_temp_files(*folders):
    return all(not p.name.startswith(".tmp-") for folder in folders for p in folder.iterdir())


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def failing(f):
        f.write(b"partial new content")
        raise OSError("disk full")

    with pytest.raises(OutputPathError, match="disk full") as caught:
        atomic_write(target, failing)
    assert caught.value.filename == str(target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_keyboard_interrupt_mid_write_leaves_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def interrupted(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_a_full_disk_is_one_oserror_naming_the_path_not_the_temp_file(tmp_path, slr_train_full_disk):
    target = tmp_path / "history.json"
    atomic_write_json(target, {"old": True})
    slr_train_full_disk("history.json", budget=5)
    with pytest.raises(OSError) as caught:
        atomic_write_json(target, {"new": list(range(100))})
    assert caught.value.errno == errno.ENOSPC
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert ".tmp" not in str(caught.value)
    assert target.read_text() == '{\n  "old": true\n}\n' and _no_temp_files(tmp_path)


def test_a_real_write_limit_of_the_kernel_is_reported_the_same_way(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG), as a full disk would (ENOSPC)."""
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        from slr_train.atomic import atomic_write_bytes
        try:
            atomic_write_bytes({str(target)!r}, bytes(100_000))
        except OSError as e:
            print(e.errno, e)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"{errno.EFBIG} {target}: cannot write: File too large"
    assert target.read_bytes() == b"old" and _no_temp_files(tmp_path)


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert _no_temp_files(tmp_path, elsewhere)
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(elsewhere / "absent.json")
    atomic_write_bytes(dangling, b"created")
    assert dangling.is_symlink() and (elsewhere / "absent.json").read_bytes() == b"created"


def test_permission_bits_are_kept_or_follow_the_umask(tmp_path):
    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"x")
    existing.chmod(0o640)
    atomic_write_bytes(existing, b"y")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "new.bin", b"z")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o640


def _fifo(path):
    os.mkfifo(path)
    return "a FIFO"


def _socket(path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()
    return "a socket"


def _device(path):
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return "a character device"


def _directory(path):
    path.mkdir()
    return "a directory"


@pytest.mark.parametrize("make", [_fifo, _socket, _device, _directory])
@pytest.mark.parametrize("through_link", [False, True])
def test_anything_but_a_regular_file_is_refused_and_left_alone(tmp_path, make, through_link):
    special = tmp_path / "special"
    kind = make(special)
    before = os.lstat(special)
    given = special
    if through_link:
        given = tmp_path / "link"
        given.symlink_to(special)
    expected = f"^{re.escape(str(given))}: exists and is {kind}.*not a regular file; refusing"
    with pytest.raises(OutputPathError, match=expected):
        atomic_write_bytes(given, b"data")
    after = os.lstat(special)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert not through_link or given.is_symlink()
    assert _no_temp_files(tmp_path)


def test_an_input_of_the_same_command_is_never_replaced(tmp_path):
    reference = tmp_path / "ref.stm"
    reference.write_text("reference\n")
    hard = tmp_path / "hard.stm"
    os.link(reference, hard)
    soft = tmp_path / "soft.stm"
    soft.symlink_to(reference)
    for given in (reference, hard, soft):
        expected = f"^{re.escape(str(given))}: is also an input of this command \\({re.escape(str(reference))}\\)"
        with pytest.raises(OutputPathError, match=expected):
            atomic_write_bytes(given, b"listing", inputs=[reference])
    assert reference.read_text() == "reference\n"
    atomic_write_bytes(tmp_path / "other.stm", b"ok", inputs=[reference, tmp_path / "absent", None])


def test_folder_errors_name_the_path(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(OutputPathError, match="a folder on the way is a file") as caught:
        atomic_write_bytes(a_file / "out.json", b"x")
    assert caught.value.filename == str(a_file / "out.json")
    with pytest.raises(OutputPathError, match=f"^{re.escape(str(a_file))}: exists and is not a folder"):
        ensure_output_dir(a_file)
    with pytest.raises(OutputPathError, match=f"^{re.escape(str(a_file / 'sub'))}: a folder on the way is a file"):
        ensure_output_dir(a_file / "sub")
    assert ensure_output_dir(tmp_path / "a" / "b").is_dir()
    assert check_output_file(tmp_path / "absent.json") == tmp_path.resolve() / "absent.json"


_REAL_FS_SCRIPT = textwrap.dedent("""
    import json, os, subprocess, sys, warnings
    import torch
    from slr_train import CheckpointManager
    mnt = sys.argv[1]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", mnt], check=True)
    manager = CheckpointManager(mnt, keep_last=1000)
    out = {}
    try:
        for step in range(1, 100):
            manager.save({"w": torch.zeros(20_000)}, step=step, epoch=0)  # ~80 KB each
    except OSError as e:
        out["full"] = [e.errno, str(e), step]
    out["names"] = sorted(os.listdir(mnt))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out["latest"] = manager.latest().step
    for name in out["names"]:
        os.unlink(os.path.join(mnt, name))
    subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
    try:
        manager.save({"w": torch.zeros(1)}, step=1, epoch=0)
    except OSError as e:
        out["read_only"] = [e.errno, str(e)]
    print(json.dumps(out))
""")


def test_a_real_full_disk_and_a_read_only_file_system(tmp_path):
    """A tiny tmpfs in a private mount namespace (root only): ENOSPC and EROFS from the kernel."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {mnt}"], capture_output=True,
                               timeout=30, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        pytest.skip("no unshare")
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a file system here: {probe.stderr.decode(errors='replace').strip()}")
    done = subprocess.run(["unshare", "-m", sys.executable, "-c", _REAL_FS_SCRIPT, str(mnt)], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    err, message, step = out["full"]
    assert err == errno.ENOSPC and step > 1
    expected = f"{re.escape(str(mnt))}/ckpt-{step:09d}-step\\.(pt|json): cannot write: No space left on device"
    assert re.fullmatch(expected, message), message
    stems = [f"ckpt-{s:09d}-step" for s in range(1, step)]
    assert out["names"] == sorted(f"{stem}.{ext}" for stem in stems for ext in ("json", "pt"))  # nothing partial
    assert out["latest"] == step - 1
    err, message = out["read_only"]
    assert err == errno.EROFS and message == f"{mnt}/ckpt-000000001-step.pt: cannot write: Read-only file system"
