"""``slr-score``: summary, JSON, pra file, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from slr_metrics import score_files, write_ctm, write_stm
from slr_metrics.cli import main


@pytest.fixture()
def files(tmp_path):
    write_stm(
        tmp_path / "ref.stm",
        {"u1": "A B C D E".split(), "u2": ["loc-NORD", "REGEN"]},
        {"u1": "Signer01", "u2": "Signer02"},
    )
    write_ctm(tmp_path / "hyp.ctm", {"u1": "X Y Z A B".split(), "u2": ["loc-NORD", "__EPENTHESIS__"]})
    return tmp_path / "ref.stm", tmp_path / "hyp.ctm"


def test_json_output(files, capsys):
    ref, hyp = files
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("N", "C", "S", "D", "I")} == {"N": 7, "C": 3, "S": 1, "D": 3, "I": 3}
    assert out["wer"] == pytest.approx(100 * 7 / 7)
    assert out["utterances"]["u1"] == {"speaker": "Signer01", "N": 5, "C": 2, "S": 0, "D": 3, "I": 3}
    assert set(out["utterances"]["u2"]) >= {"S", "D", "I", "N"}
    assert out["speakers"]["Signer02"]["N"] == 2
    assert out["protocol"] == "none" and out["aligner"] == "sclite"


def test_protocol_and_levenshtein_flags(files, capsys):
    ref, hyp = files
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--json", "--protocol", "phoenix2014"]) == 0
    out = json.loads(capsys.readouterr().out)
    # u2: loc-NORD -> NORD (a substitution against the reference as given), __EPENTHESIS__ dropped
    assert out["utterances"]["u2"] == {"speaker": "Signer02", "N": 2, "C": 0, "S": 1, "D": 1, "I": 0}
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--json", "--levenshtein"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["utterances"]["u1"]["S"] == 5 and out["aligner"] == "levenshtein"


def test_summary_and_pra(files, capsys, tmp_path):
    ref, hyp = files
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--pra", str(tmp_path / "out.pra")]) == 0
    text = capsys.readouterr().out
    assert "SYSTEM SUMMARY PERCENTAGES by SPEAKER" in text
    assert "| Sum/Avg    |     2      7 |" in text
    assert "WER 100.00%  (N=7 C=3 S=1 D=3 I=3, 2 utterances)" in text
    pra = (tmp_path / "out.pra").read_text()
    assert "REF:  * * * a b C D E \nHYP:  X Y Z a b * * * \nEval: I I I     D D D \n" in pra
    assert pra == score_files(ref, hyp).with_sources(str(ref), str(hyp)).format_pra()


@pytest.mark.parametrize(
    ("hyp_text", "message"),
    [
        ("u1 1 0.00 A\n", "hyp.ctm:1: expected '<id> <channel> <start> <duration> <word>"),
        ("u1 1 0.00 0.01 A\nu9 1 0.00 0.01 B\n", "not in the reference: 'u9'"),
        (
            "u1 B 0.00 0.01 A\n",
            "hyp.ctm:1: channel 'B' of utterance 'u1' differs from the reference channel '1'",
        ),
        ("u1 1 0.00 0.01 @\n", "sclite's null word"),
    ],
)
def test_bad_input_exits_2_with_the_reason(files, capsys, hyp_text, message):
    ref, hyp = files
    hyp.write_text(hyp_text)
    assert main(["--ref", str(ref), "--hyp", str(hyp)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("slr-score: error: ") and message in err


def test_missing_file_and_bad_arguments(files, capsys):
    ref, hyp = files
    assert main(["--ref", str(ref) + ".missing", "--hyp", str(hyp)]) == 2
    assert "cannot read file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--ref", str(ref), "--hyp", str(hyp), "--protocol", "nope"])
    assert info.value.code == 2


def test_console_script_runs(files):
    ref, hyp = files
    script = Path(sys.executable).with_name("slr-score")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "slr_metrics.cli"]
    proc = subprocess.run(
        [*command, "--ref", str(ref), "--hyp", str(hyp), "--json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["N"] == 7
    hyp.write_text("u1 1 0.00 0.01\n")
    proc = subprocess.run([*command, "--ref", str(ref), "--hyp", str(hyp)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith(f"slr-score: error: {hyp}:1: expected")
