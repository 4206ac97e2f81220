"""``slr-score`` exit codes: closed pipes, full disks, Ctrl-C, internal errors, --debug, bad
arguments, and references without words (WER undefined, never 0 %)."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from slr_metrics import Counts, ScoringError, cli, score, score_files, write_ctm, write_stm
from slr_metrics.limits import ENV_VARS

SRC = Path(__file__).resolve().parents[1] / "src"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SLR_DEBUG" and k not in ENV_VARS.values()}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return {**env, **extra}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "slr_metrics.cli", *map(str, args)]


@pytest.fixture()
def files(tmp_path):
    write_stm(tmp_path / "ref.stm", {"u1": ["A", "B"], "u2": ["C"]}, {"u1": "s1", "u2": "s2"})
    write_ctm(tmp_path / "hyp.ctm", {"u1": ["A"], "u2": ["D"]})
    return tmp_path / "ref.stm", tmp_path / "hyp.ctm"


# -- standard output ----------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_full_disk_on_stdout_is_exit_2_naming_stdout(files):
    ref, hyp = files
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            _command("--ref", ref, "--hyp", hyp),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr == "slr-score: error: cannot write to standard output: No space left on device\n"


def test_closed_pipe_is_quiet_success(files):
    ref, hyp = files
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -0`: nobody will read
    try:
        proc = subprocess.run(
            _command("--ref", ref, "--hyp", hyp, "--json"),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_closed_stdout_is_exit_2(files):
    ref, hyp = files
    proc = subprocess.run(
        _command("--ref", ref, "--hyp", hyp),
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        timeout=60,
        preexec_fn=lambda: os.close(1),  # like `slr-score ... >&-`
    )
    assert proc.returncode == 2
    assert proc.stderr == "slr-score: error: cannot write to standard output: it is closed\n"


def test_io_error_on_stdout_in_process(files, monkeypatch, capsys):
    ref, hyp = files

    class BrokenDisk:
        def write(self, text):
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", BrokenDisk())
    assert cli.main(["--ref", str(ref), "--hyp", str(hyp)]) == 2
    assert (
        capsys.readouterr().err == "slr-score: error: cannot write to standard output: Input/output error\n"
    )


# -- interruption and internal errors -----------------------------------------------------------
def test_ctrl_c_exits_130_without_a_traceback(files, tmp_path):
    _, hyp = files
    fifo = tmp_path / "ref.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        _command("--ref", fifo, "--hyp", hyp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        writer = os.open(fifo, os.O_WRONLY)  # returns once slr-score has opened the FIFO: it waits in a read
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        os.close(writer)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err == "slr-score: interrupted\n" and out == ""


@pytest.mark.parametrize(
    ("raised", "status", "first_line"),
    [
        (KeyboardInterrupt(), 130, "slr-score: interrupted"),
        (
            RuntimeError("bug\nwith two lines"),
            1,
            "slr-score: internal error: RuntimeError: bug with two lines "
            "(rerun with --debug or SLR_DEBUG=1 for the traceback)",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "x.stm"),
            2,
            "slr-score: error: [Errno 13] Permission denied: 'x.stm'",
        ),
    ],
)
def test_unexpected_errors_and_debug(files, monkeypatch, capsys, raised, status, first_line):
    ref, hyp = files

    def explode(*args, **kwargs):
        raise raised

    monkeypatch.setattr(cli, "score_files", explode)
    monkeypatch.delenv("SLR_DEBUG", raising=False)
    argv = ["--ref", str(ref), "--hyp", str(hyp)]
    assert cli.main(argv) == status
    assert capsys.readouterr().err == first_line + "\n"  # one line, no traceback
    assert cli.main([*argv, "--debug"]) == status
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and err.endswith(first_line + "\n")
    assert "in explode" in err
    monkeypatch.setenv("SLR_DEBUG", "1")
    assert cli.main(argv) == status
    assert capsys.readouterr().err.startswith("Traceback")


def test_debug_shows_the_traceback_of_bad_input_too(files, capsys):
    ref, _ = files
    assert cli.main(["--ref", str(ref), "--hyp", str(ref) + ".missing", "--debug"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith(
        "ref.stm.missing: cannot read file: No such file or directory\n"
    )


# -- arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"), [("-1", "must be 0 or more, got -1"), ("x", "'x' is not a whole number")]
)
def test_negative_top_is_an_argument_error(files, capsys, value, message):
    ref, hyp = files
    with pytest.raises(SystemExit) as info:
        cli.main(["--ref", str(ref), "--hyp", str(hyp), "--top", value])
    assert info.value.code == 2
    assert f"slr-score: error: argument --top: {message}" in capsys.readouterr().err


def test_top_zero_lists_no_confusions(files, capsys):
    ref, hyp = files
    assert cli.main(["--ref", str(ref), "--hyp", str(hyp), "--json", "--top", "0"]) == 0
    conf = json.loads(capsys.readouterr().out)["confusions"]
    assert conf == {"substitutions": [], "deletions": [], "insertions": []}
    assert cli.main(["--ref", str(ref), "--hyp", str(hyp), "--json", "--top", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["confusions"]["deletions"] == [["b", 1]]


# -- references without words ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stm", "protocol", "message"),
    [
        ("", "none", "ref.stm: the reference has no utterances: WER is undefined (N = 0)"),
        (";; only a comment\n", "none", "ref.stm: the reference has no utterances: WER is undefined (N = 0)"),
        (
            "u1 1 s 0 1\nu2 1 s 0 1\n",
            "none",
            "ref.stm: the reference's 2 utterance(s) hold no words: WER is undefined",
        ),
        (
            "u1 1 s 0 1 __ON__ __OFF__\n",
            "phoenix2014t",
            "ref.stm: no reference words are left after the "
            "phoenix2014t protocol's rules (1 utterance(s)): WER is undefined (N = 0)",
        ),
    ],
)
def test_reference_without_words_is_exit_2(tmp_path, capsys, stm, protocol, message):
    (tmp_path / "ref.stm").write_text(stm)
    (tmp_path / "hyp.ctm").write_text("")
    argv = ["--ref", str(tmp_path / "ref.stm"), "--hyp", str(tmp_path / "hyp.ctm"), "--protocol", protocol]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("slr-score: error: ") and message in err


def test_library_refuses_an_empty_reference_unless_asked(tmp_path):
    with pytest.raises(ScoringError, match=r"^the reference has no utterances: WER is undefined \(N = 0\)$"):
        score({}, {})
    with pytest.raises(ScoringError, match="hold no words"):
        score({"u": []}, {"u": ["A"]})
    assert score({"u": [], "v": ["B"]}, {"u": ["A"]}).counts.N == 1  # one empty utterance is fine

    inserted = score({"u": []}, {"u": ["A"]}, allow_empty_reference=True)
    assert inserted.wer == math.inf and inserted.counts.I == 1
    assert json.loads(inserted.to_json())["wer"] is None
    assert "WER undefined (no reference words)  (N=0 C=0 S=0 D=0 I=1" in inserted.format_summary()
    nothing = score({"u": []}, {}, allow_empty_reference=True)
    assert math.isnan(nothing.wer) and nothing.counts.to_dict()["wer"] is None

    write_stm(tmp_path / "ref.stm", {"u": []})
    write_ctm(tmp_path / "hyp.ctm", {"u": ["A"]})
    with pytest.raises(ScoringError, match=r"ref.stm: the reference's 1 utterance\(s\) hold no words"):
        score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm")
    assert score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm", allow_empty_reference=True).counts.I == 1


def test_wer_of_no_reference_words_is_undefined():
    assert math.isnan(Counts().wer)  # 0 / 0
    assert Counts(I=2).wer == math.inf
    assert Counts(N=4, C=3, S=1).wer == 25.0
    assert Counts().to_dict()["wer"] is None and Counts(I=1).to_dict()["wer"] is None
