from pathlib import Path

import pytest
from slr_metrics import Counts, read_ctm, write_stm

from slr_phoenix.plots import write_plots
from slr_phoenix.reports import ScoringMismatchError, split_summary, write_split_reports

REFS = {"utt1": ["__ON__", "REGEN", "MORGEN", "__OFF__"], "utt2": ["SONNE", "NORD"]}
HYPS = [("utt1", ["__ON__", "REGEN", "REGEN"]), ("utt2", ["loc-SONNE", "NORD"])]


def _stm(tmp_path: Path) -> Path:
    path = tmp_path / "dev.stm"
    write_stm(path, REFS, speakers={"utt1": "Signer01", "utt2": "Signer02"})
    return path


def test_split_reports_are_written_and_scored_with_the_protocol(tmp_path: Path):
    report = write_split_reports(tmp_path, "dev", _stm(tmp_path), HYPS, "phoenix2014")
    for name in ("dev.ctm", "dev.sys.txt", "dev.pra", "dev.json", "dev.confusions.txt"):
        assert (tmp_path / name).stat().st_size > 0, name
    # phoenix2014 strips the loc- prefix on the hypothesis side: utt2 is correct.
    assert report.utterance("utt2").counts.S == 0 and report.utterance("utt2").counts.C == 2
    summary = split_summary(report)
    assert summary["N"] == 6 and summary["utterances"] == 2
    assert summary["wer"] == pytest.approx(100 * (summary["S"] + summary["D"] + summary["I"]) / 6)
    words = read_ctm(tmp_path / "dev.ctm")
    assert words["utt1"] == ["__ON__", "REGEN", "REGEN"]


def test_a_scoring_mismatch_raises_instead_of_reporting(tmp_path: Path):
    stm = _stm(tmp_path)
    good = write_split_reports(tmp_path, "dev", stm, HYPS, "phoenix2014").counts
    write_split_reports(tmp_path, "dev", stm, HYPS, "phoenix2014", expected_counts=good)  # agrees: fine
    wrong = Counts(N=good.N, C=good.C + 1, S=good.S - 1, D=good.D, I=good.I)
    with pytest.raises(ScoringMismatchError, match=r"\(N, C, S, D, I\)"):
        write_split_reports(tmp_path, "dev", stm, HYPS, "phoenix2014", expected_counts=wrong)


def test_plots_are_png_files(tmp_path: Path):
    history = [{"epoch": 1, "train_loss": 30.0, "dev_wer_raw": 90.0, "dev_wer_ema": 95.0},
               {"epoch": 2, "train_loss": 10.0, "dev_wer_raw": 40.0, "dev_wer_ema": 50.0}]
    for path in write_plots(history, tmp_path / "plots"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
