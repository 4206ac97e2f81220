"""Bounded reading and scoring: hostile inputs fail with the file and line named, in bounded memory."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from slr_metrics import (
    FormatError,
    Limits,
    ScoringError,
    WERAccumulator,
    fileio,
    read_ctm_words,
    read_hyp,
    read_stm,
    score,
    score_files,
    write_stm,
)
from slr_metrics.fileio import iter_lines
from slr_metrics.limits import DEFAULT_LIMITS, ENV_VARS

SRC = Path(__file__).resolve().parents[1] / "src"
MEMORY_LIMIT = 128 * 2**20  # address space of the child in the memory probes


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SLR_DEBUG" and k not in ENV_VARS.values()}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return env


def _score_in_small_process(*args: str) -> subprocess.CompletedProcess:
    """``slr-score ARGS`` in a child whose address space is capped at MEMORY_LIMIT, so a reader
    that slurps its input dies of MemoryError instead of eating the machine."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))\n"
        "from slr_metrics.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=_child_env(), timeout=120
    )


def _old_split_lines(data: bytes) -> list[tuple[int, str]]:
    """The unbounded reader these limits replaced: whole file, split at "\\n"."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [(k, (r[:-1] if r.endswith(b"\r") else r).decode("utf-8")) for k, r in enumerate(lines, 1)]


@pytest.fixture()
def ref_hyp(tmp_path):
    write_stm(tmp_path / "ref.stm", {"u1": ["A", "B"], "u2": ["C"]})
    (tmp_path / "hyp.ctm").write_text("u1 1 0.00 0.01 A\nu2 1 0.00 0.01 D\n")
    return tmp_path / "ref.stm", tmp_path / "hyp.ctm"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize("which", ["--ref", "--hyp"])
def test_dev_zero_is_refused_in_bounded_memory(ref_hyp, which):
    ref, hyp = ref_hyp
    args = {"--ref": str(ref), "--hyp": str(hyp), which: "/dev/zero"}
    proc = _score_in_small_process(*(x for kv in args.items() for x in kv))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        "slr-score: error: /dev/zero:1: line is longer than the limit of 1048576 bytes (max_line_bytes)\n"
    )


def test_large_regular_file_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.stm"
    with open(big, "wb") as handle:  # sparse: takes no disk space
        handle.truncate(DEFAULT_LIMITS.max_file_bytes + 1)
    proc = _score_in_small_process("--ref", str(big), "--hyp", str(big))
    assert proc.returncode == 2
    assert f"big.stm: file has {DEFAULT_LIMITS.max_file_bytes + 1} bytes, more than the limit" in proc.stderr
    small = _write(tmp_path / "small.stm", b"u1 1 s 0 1\n")
    with pytest.raises(FormatError, match=r"small.stm: file has 11 bytes, more than the limit of 10 "):
        read_stm(small, limits=Limits(max_file_bytes=10))
    assert len(read_stm(small, limits=Limits(max_file_bytes=11))) == 1


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "limits", "message"),
    [
        (
            b"u1 A\n" + b"x" * 20 + b"\n",
            Limits(max_line_bytes=19),
            r"hyp.txt:2: line is longer than the limit of 19",
        ),
        (b"u1 A\n" + b"x" * 20, Limits(max_line_bytes=19), r"hyp.txt:2: line is longer"),  # no final newline
        (b";; c\n" * 5, Limits(max_lines=4), r"hyp.txt:5: file holds more than the limit of 4 lines"),
        (b"u1 \xff\n", Limits(), r"hyp.txt:1: not valid UTF-8 \(byte 4 of the line\)"),
    ],
)
def test_limits_name_file_and_line(tmp_path, data, limits, message):
    path = _write(tmp_path / "hyp.txt", data)
    with pytest.raises(FormatError, match=message) as info:
        read_hyp(path, limits=limits)
    assert info.value.path == str(path)


def test_line_at_the_limit_is_read(tmp_path):
    path = _write(tmp_path / "hyp.txt", b"u1 " + b"A" * 16 + b"\r\n" + b"u2\n")
    assert read_hyp(path, limits=Limits(max_line_bytes=19, max_lines=2)) == {"u1": ["A" * 16], "u2": []}


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_chunked_reading_equals_splitting_the_whole_file(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(fileio, "READ_CHUNK", chunk)
    rng = random.Random(chunk)
    pieces = [b"a", b"bc", b"\n", b"\r\n", b"\r", b" ", b"\xc3\xa4", b";;", b"\xef\xbb\xbf"]
    for k in range(40):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 30)))
        if k % 3 == 0:
            data = b"\xef\xbb\xbf" + data
        path = _write(tmp_path / "f.txt", data)
        assert list(iter_lines(path)) == _old_split_lines(data), data


def test_directory_and_missing_inputs(tmp_path):
    with pytest.raises(FormatError, match=r"cannot read file|is a directory"):
        read_stm(tmp_path)
    with pytest.raises(FormatError, match=r"nope.ctm: cannot read file: No such file"):
        read_ctm_words(tmp_path / "nope.ctm")


def _feed_fifo(path: Path, data: bytes, forever: bool = False) -> threading.Thread:
    def feed() -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            while True:
                os.write(fd, data)
                if not forever:
                    break
        except BrokenPipeError:  # the reader stopped, as it should
            pass
        finally:
            os.close(fd)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_a_fifo_input_is_read_once_within_the_limits(ref_hyp, tmp_path):
    ref, hyp = ref_hyp
    fifo = tmp_path / "hyp.fifo"
    os.mkfifo(fifo)
    feeder = _feed_fifo(fifo, hyp.read_bytes())  # the format is sniffed from the same single read
    report = score_files(ref, fifo)
    feeder.join(10)
    assert report.counts == score_files(ref, hyp).counts
    feeder = _feed_fifo(fifo, b";; endless comments\n" * 1000, forever=True)
    with pytest.raises(FormatError, match=r"hyp.fifo:10001: file holds more than the limit of 10000 lines"):
        score_files(ref, fifo, limits=Limits(max_lines=10_000))
    feeder.join(10)
    assert not feeder.is_alive()


def test_alignment_size_is_bounded():
    refs, hyps = {"u": ["A"] * 100}, {"u": ["B"] * 100}
    assert score(refs, hyps, limits=Limits(max_alignment_cells=10_000)).counts.S == 100
    with pytest.raises(
        ScoringError,
        match=r"utterance 'u': aligning 100 reference with 100 hypothesis "
        r"words needs 10000 cells, more than the limit of 9999 \(max_alignment_cells\)",
    ):
        score(refs, hyps, limits=Limits(max_alignment_cells=9999))
    acc = WERAccumulator(limits=Limits(max_alignment_cells=9999))
    with pytest.raises(ScoringError, match="max_alignment_cells"):
        acc.update("u", refs["u"], hyps["u"])


def test_alignment_limit_applies_to_files(ref_hyp):
    ref, hyp = ref_hyp
    with pytest.raises(ScoringError, match=r"utterance 'u1' \(.*ref.stm / .*hyp.ctm\): aligning 2 reference"):
        score_files(ref, hyp, limits=Limits(max_alignment_cells=1))


def test_limits_validate_and_read_the_environment():
    with pytest.raises(ValueError, match=r"Limits.max_lines must be a positive whole number, got 0"):
        Limits(max_lines=0)
    with pytest.raises(ValueError, match="max_line_bytes"):
        Limits(max_line_bytes=True)
    env = {"SLR_SCORE_MAX_LINES": "12", "SLR_SCORE_MAX_FILE_BYTES": " 1000 ", "SLR_SCORE_MAX_LINE_BYTES": ""}
    assert Limits.from_env(env) == Limits(max_lines=12, max_file_bytes=1000)
    assert Limits.from_env({}) == DEFAULT_LIMITS
    for bad in ("abc", "-1", "0", "1.5"):
        with pytest.raises(ValueError, match=rf"SLR_SCORE_MAX_ALIGNMENT_CELLS='{bad}' is not a positive"):
            Limits.from_env({"SLR_SCORE_MAX_ALIGNMENT_CELLS": bad})


def test_cli_reads_limits_from_the_environment(ref_hyp):
    ref, hyp = ref_hyp
    code = "import sys; from slr_metrics.cli import main; sys.exit(main(sys.argv[1:]))"
    run = lambda extra: subprocess.run(  # noqa: E731
        [sys.executable, "-c", code, "--ref", str(ref), "--hyp", str(hyp)],
        capture_output=True,
        text=True,
        env={**_child_env(), **extra},
        timeout=60,
    )
    proc = run({"SLR_SCORE_MAX_LINES": "1"})
    assert proc.returncode == 2
    assert (
        proc.stderr
        == "slr-score: error: " + str(ref) + ":2: file holds more than the limit of 1 lines (max_lines)\n"
    )
    proc = run({"SLR_SCORE_MAX_LINE_BYTES": "lots"})
    assert proc.returncode == 2 and "SLR_SCORE_MAX_LINE_BYTES='lots' is not a positive" in proc.stderr
    assert run({"SLR_SCORE_MAX_LINES": "2"}).returncode == 0
