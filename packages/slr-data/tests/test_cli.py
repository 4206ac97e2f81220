import subprocess
import sys

from slr_data import load_phoenix2014
from slr_data.cli import build_parser, main, synth_config_from_args
from slr_data.synth import SynthConfig


def test_synth_then_cached_then_stats(tmp_path, capsys):
    out = tmp_path / "corpus"
    args = ["synth", "--out", str(out), "--preset", "tiny", "--videos", "5", "--vocab", "8", "--size", "24",
            "--seed", "3"]
    assert main(args) == 0
    assert "written in" in capsys.readouterr().out
    corpus = load_phoenix2014(out)
    assert {s: len(r) for s, r in corpus.splits.items()} == {"train": 5, "dev": 1, "test": 1}
    assert len(corpus.vocab) == 9
    assert main(args) == 0  # the same corpus again: found in place, not rewritten
    assert "cached" in capsys.readouterr().out
    assert main(["stats", str(out)]) == 0
    assert "train: 5 videos" in capsys.readouterr().out


def test_errors_exit_2_with_a_message(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("x")
    assert main(["synth", "--out", str(tmp_path / "busy"), "--preset", "tiny"]) == 2
    assert "not a synthetic corpus" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "x"), "--vocab", "1000"]) == 2
    assert "vocab_size" in capsys.readouterr().err


def test_options_map_onto_the_config():
    args = build_parser().parse_args(
        [
            "synth",
            "--out",
            "x",
            "--videos",
            "300",
            "--test-videos",
            "7",
            "--signers",
            "4",
            "--noise",
            "0",
            "--threads",
            "2",
        ]
    )
    config = synth_config_from_args(args)
    assert (config.num_train, config.num_dev, config.num_test) == (300, 30, 7)
    assert (config.num_signers, config.noise_std, config.write_threads) == (4, 0.0, 2)
    assert synth_config_from_args(build_parser().parse_args(["synth", "--out", "x"])) == SynthConfig()


def test_console_script_entry_point_runs(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "slr_data.cli",
            "synth",
            "--out",
            str(tmp_path / "c"),
            "--preset",
            "tiny",
            "--videos",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (
        tmp_path / "c" / "phoenix-2014-multisigner" / "annotations" / "manual" / "dev.corpus.csv"
    ).is_file()


def _corpus_with_dev_info(tmp_path, slr_data_tiny_corpus, dev_info: bytes):
    import shutil

    root = tmp_path / "hostile"
    shutil.copytree(slr_data_tiny_corpus / "preprocess", root / "preprocess")
    (root / "preprocess" / "phoenix2014" / "dev_info.npy").write_bytes(dev_info)
    return root


def test_stats_refuses_hostile_info_files_in_one_line(tmp_path, slr_data_tiny_corpus, capsys):
    import io

    import numpy as np

    class Huge:
        def __reduce__(self):
            return (bytearray, (8 << 30,))

    buffer = io.BytesIO()
    np.save(buffer, {"prefix": "p", 0: {"fileid": Huge()}}, allow_pickle=True)
    root = _corpus_with_dev_info(tmp_path, slr_data_tiny_corpus, buffer.getvalue())
    assert main(["stats", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dev_info.npy: bytearray(8589934592) would allocate" in err
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)})
    root = _corpus_with_dev_info(tmp_path / "2", slr_data_tiny_corpus, header.getvalue())
    assert main(["stats", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dev_info.npy: header declares a (10000000000000,) float64 array" in err


def test_exit_codes_interrupt_internal_error_and_debug(tmp_path, capsys, monkeypatch):
    from slr_data import cli

    def interrupted(args):
        raise KeyboardInterrupt

    def broken(args):
        raise RuntimeError("unexpected\nsecond line")

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_stats", interrupted)
    assert main(["stats", "x"]) == 130
    assert capsys.readouterr().err == "slr-data stats: interrupted\n"
    monkeypatch.setattr(cli, "_stats", broken)
    assert main(["stats", "x"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "slr-data stats: internal error: RuntimeError: unexpected second line "
        "(run with --debug or SLR_DEBUG=1 for the traceback)\n"
    )
    assert main(["--debug", "stats", "x"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    monkeypatch.setenv("SLR_DEBUG", "1")
    assert main(["stats", "x", "--debug"]) == 1 and "Traceback" in capsys.readouterr().err
    monkeypatch.delenv("SLR_DEBUG")
    monkeypatch.setattr(cli, "_stats", closed_pipe)
    assert main(["stats", "x"]) == 0
    assert capsys.readouterr() == ("", "")


def test_os_errors_are_one_line_naming_the_path(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["synth", "--out", str(blocker / "corpus"), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"slr-data synth: error: {blocker}") and err.count("\n") == 1
    assert "Not a directory" in err or "File exists" in err
    assert main(["stats", str(tmp_path / "missing")]) == 2
    assert "no PHOENIX-2014 corpus found" in capsys.readouterr().err


def test_stdout_full_or_closed(slr_data_tiny_corpus):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "slr_data.cli", "stats", str(slr_data_tiny_corpus)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr == "slr-data stats: error: cannot write to stdout: No space left on device\n"
    process = subprocess.Popen(
        [sys.executable, "-m", "slr_data.cli", "stats", str(slr_data_tiny_corpus)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # like `| head -0`
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert err == ""


def test_ctrl_c_exits_130_without_a_traceback_or_partial_corpus(tmp_path):
    import signal
    import time

    out = tmp_path / "corpus"
    process = subprocess.Popen(
        [sys.executable, "-m", "slr_data.cli", "synth", "--out", str(out), "--videos", "2000"]
        + ["--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 100
    started = ".corpus.partial-*/phoenix-2014-multisigner"
    while not list(tmp_path.glob(started)) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=100)
    assert process.returncode == 130, err
    assert err == "slr-data synth: interrupted\n"
    assert not out.exists() and not list(tmp_path.iterdir())
