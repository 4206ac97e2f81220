"""The output policy of slr-data's writes: never an input, links written through, no special files."""

import errno
import os
import stat

import pytest
from slr_data import OutputPathError, SynthConfig, generate_synthetic_corpus
from slr_data._atomic import atomic_write_text, resolve_output_path


def test_writes_replace_regular_files_and_keep_their_mode(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "one\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    path.chmod(0o640)
    atomic_write_text(path, "two\n")
    assert path.read_text() == "two\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    atomic_write_text(tmp_path / "new" / "deep" / "x.txt", "made\n")  # folders are created
    assert (tmp_path / "new" / "deep" / "x.txt").read_text() == "made\n"


def test_an_input_of_the_same_operation_is_never_replaced(tmp_path):
    source = tmp_path / "ref.stm"
    source.write_text("reference\n")
    os.link(source, tmp_path / "hardlink.stm")
    for target in (source, tmp_path / "hardlink.stm", tmp_path / "." / "ref.stm"):
        with pytest.raises(OutputPathError, match="is also an input of this operation") as info:
            atomic_write_text(target, "listing\n", inputs=[source])
        assert str(info.value).startswith(f"{target}:")
    assert source.read_text() == "reference\n"
    atomic_write_text(tmp_path / "other.txt", "fine\n", inputs=[source, tmp_path / "missing"])


def test_symlinks_are_written_through(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    atomic_write_text(link, "new\n")
    assert link.is_symlink() and target.read_text() == "new\n"
    chain = tmp_path / "chain.txt"
    chain.symlink_to(link)
    atomic_write_text(chain, "via two links\n")
    assert chain.is_symlink() and link.is_symlink() and target.read_text() == "via two links\n"
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "created.txt")
    atomic_write_text(dangling, "made\n")
    assert dangling.is_symlink() and (tmp_path / "created.txt").read_text() == "made\n"
    with pytest.raises(OutputPathError, match="is also an input"):
        atomic_write_text(link, "x\n", inputs=[target])


def test_non_regular_outputs_are_refused_naming_the_given_path(tmp_path):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to_null").symlink_to("/dev/null")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    cases = {
        "folder": "exists and is a directory",
        "fifo": "exists and is not a regular file",
        "to_null": "not a regular file (a device, FIFO or socket?) (through the link to /dev/null)",
        "loop1": "cannot write here",
    }
    for name, message in cases.items():
        with pytest.raises(OutputPathError) as info:
            atomic_write_text(tmp_path / name, "x\n")
        assert str(info.value).startswith(f"{tmp_path / name}: ") and message in str(info.value), str(
            info.value
        )
        assert isinstance(info.value, OSError)
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)
    assert (tmp_path / "to_null").is_symlink()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_a_device_node_is_not_replaced(tmp_path):
    device = tmp_path / "dev.pra"
    os.mknod(device, 0o644 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    with pytest.raises(OutputPathError, match="not a regular file"):
        atomic_write_text(device, "x\n")
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_os_errors_name_the_given_path_and_leave_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "vocab.json"
    path.write_text("old\n")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic_write_text(path, "new\n")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_text() == "old\n"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    monkeypatch.undo()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError) as info:
        atomic_write_text(blocker / "under" / "out.txt", "x\n")
    assert info.value.filename == str(blocker / "under" / "out.txt")


def test_resolve_output_path(tmp_path):
    assert resolve_output_path(tmp_path / "absent") == tmp_path / "absent"
    (tmp_path / "link").symlink_to(tmp_path / "target")
    assert resolve_output_path(tmp_path / "link") == tmp_path / "target"


def test_synthetic_corpus_refuses_to_replace_its_own_metadata(slr_data_tiny_corpus, tmp_path):
    import shutil

    out = tmp_path / "corpus"
    shutil.copytree(slr_data_tiny_corpus, out)
    meta = out / "preprocess" / "phoenix2014"
    config = SynthConfig.tiny(gloss_names="phoenix", phoenix_meta=str(meta), vocab_size=8)
    with pytest.raises(FileExistsError, match="holds this run's phoenix_meta"):
        generate_synthetic_corpus(out, config, overwrite=True)
    assert (meta / "train_info.npy").is_file()


def test_synthetic_corpus_is_written_through_a_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    config = SynthConfig.tiny(num_train=2, num_dev=1, num_test=1)
    corpus = generate_synthetic_corpus(link, config)
    assert link.is_symlink() and (real / "synth_config.json").is_file()
    assert generate_synthetic_corpus(link, config).cached
    assert corpus.root == real


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
