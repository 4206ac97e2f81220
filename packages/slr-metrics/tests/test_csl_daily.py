"""Chinese (CSL-Daily) glosses: UTF-8 STM/CTM round trip, the ``csl-daily`` protocol, ``slr-score``."""

from __future__ import annotations

import json

import pytest
from slr_metrics import get_protocol, read_ctm, read_stm, score, score_files, write_ctm, write_stm
from slr_metrics.cli import main

REFS = {
    "S000001_P0000_T00": ["我", "今天", "去", "学校"],
    "S000002_P0001_T00": ["你", "吃", "饭", "没关系"],
    "S000003_P0002_T00": ["谢谢"],
}
HYPS = {
    "S000001_P0000_T00": ["我", "明天", "去", "学校", "好"],  # 1 S, 1 I
    "S000002_P0001_T00": ["你", "饭"],  # 2 D
    # S000003 missing: 1 D (no [EMPTY] under csl-daily)
}
SPEAKERS = {"S000001_P0000_T00": "Signer00", "S000002_P0001_T00": "Signer01", "S000003_P0002_T00": "Signer02"}


@pytest.fixture()
def files(tmp_path):
    write_stm(tmp_path / "ref.stm", REFS, SPEAKERS)
    write_ctm(tmp_path / "hyp.ctm", HYPS)
    return tmp_path / "ref.stm", tmp_path / "hyp.ctm"


def _counts(report):
    c = report.counts
    return (c.N, c.C, c.S, c.D, c.I)


def test_chinese_glosses_are_written_as_utf8_and_read_back(files):
    ref, hyp = files
    assert "我 今天 去 学校" in ref.read_bytes().decode("utf-8")
    assert "没关系".encode() in ref.read_bytes()
    assert {s.utt_id: list(s.words) for s in read_stm(ref)} == REFS
    assert {uid: list(words) for uid, words in read_ctm(hyp).items()} == HYPS


def test_csl_daily_protocol_counts_plain_gloss_errors(files):
    ref, hyp = files
    report = score_files(ref, hyp, protocol="csl-daily")
    assert _counts(report) == (9, 5, 1, 3, 1)
    assert report.counts.wer == pytest.approx(100 * 5 / 9)
    per_utt = {u.utt_id: (u.counts.C, u.counts.S, u.counts.D, u.counts.I) for u in report.utterances}
    assert per_utt == {
        "S000001_P0000_T00": (3, 1, 0, 1),
        "S000002_P0001_T00": (2, 0, 2, 0),
        "S000003_P0002_T00": (0, 0, 1, 0),
    }
    assert _counts(score(REFS, HYPS, protocol="csl-daily", speakers=SPEAKERS)) == (9, 5, 1, 3, 1)


def test_csl_daily_protocol_leaves_glosses_untouched():
    p = get_protocol("csl-daily")
    words = ["__ON__", "loc-北京", "S0NNE", "好-PLUSPLUS", "我"]
    assert p.normalize_ref(words) == words and p.normalize_hyp(words) == words
    assert p.normalize_hyp([]) == [] and p.aligner == "sclite"


def test_slr_score_cli_reports_chinese_counts(files, capsys, tmp_path):
    ref, hyp = files
    pra = tmp_path / "out.pra"
    argv = ["--ref", str(ref), "--hyp", str(hyp), "--json", "--protocol", "csl-daily", "--pra", str(pra)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("N", "C", "S", "D", "I")} == {"N": 9, "C": 5, "S": 1, "D": 3, "I": 1}
    assert out["protocol"] == "csl-daily"
    assert out["utterances"]["S000001_P0000_T00"]["S"] == 1
    assert "今天" in pra.read_text(encoding="utf-8")
