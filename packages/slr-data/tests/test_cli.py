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
