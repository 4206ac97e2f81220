"""Per-utterance counts and pra alignments identical to NIST sclite.

Two sources of truth: the real binary when it is installed (fresh random cases each run), and
outputs of that binary committed under ``tests/data`` (``make_expected.py``), which keep the
check alive where sclite is missing.
"""

from __future__ import annotations

import pytest
from slr_metrics import FormatError, ScoringError, read_stm, score, score_files, write_ctm, write_stm


def _ours(report) -> dict[str, tuple[int, int, int, int]]:
    return {u.utt_id.lower(): (u.counts.C, u.counts.S, u.counts.D, u.counts.I) for u in report.utterances}


def _pra_lines(report, prefixes) -> list[str]:
    return [line for line in report.format_pra().splitlines() if line.startswith(prefixes)]


# -- committed expected outputs (always run) -------------------------------------------------------
def test_counts_match_committed_sclite_output(slr_metrics_cases, slr_metrics_expected, tmp_path):
    cases = slr_metrics_cases
    expected = slr_metrics_expected("sclite_expected.json")
    assert (expected["seed"], expected["n"]) == (cases.SCLITE_SEED, cases.SCLITE_N)
    refs, hyps, speakers = cases.sclite_cases(cases.SCLITE_SEED, cases.SCLITE_N)
    want = {uid: tuple(v) for uid, v in expected["counts"].items()}

    in_memory = _ours(score(refs, hyps, speakers=speakers))
    assert in_memory == want

    write_stm(tmp_path / "ref.stm", refs, speakers)
    write_ctm(tmp_path / "hyp.ctm", hyps)
    assert _ours(score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm")) == want


def test_pra_matches_committed_sclite_output(slr_metrics_cases, slr_metrics_runner, slr_metrics_data_dir):
    cases = slr_metrics_cases
    refs, hyps, speakers = cases.sclite_cases(cases.PRA_SEED, cases.PRA_N)
    want = (slr_metrics_data_dir / "sclite_expected.pra").read_text(encoding="utf-8").splitlines()
    got = _pra_lines(score(refs, hyps, speakers=speakers), slr_metrics_runner.PRA_PREFIXES)
    assert got == want


def test_known_divergence_from_levenshtein():
    report = score({"u": "A B C D E".split()}, {"u": "X Y Z A B".split()})
    c = report.counts
    assert (c.N, c.C, c.S, c.D, c.I) == (5, 2, 0, 3, 3)
    lev = score({"u": "A B C D E".split()}, {"u": "X Y Z A B".split()}, levenshtein=True).counts
    assert (lev.C, lev.S, lev.D, lev.I) == (0, 5, 0, 0)


def test_sclite_token_reading_and_case_folding():
    refs = {"u": ["Hello", "B*", "c;tag", "A\\;B", "Ä"]}
    hyps = {"u": ["hello", "b", "C", "a\\;b", "ä"]}
    c = score(refs, hyps).counts
    assert (c.C, c.S) == (4, 1)  # only ASCII letters fold, so Ä != ä
    strict = score(refs, hyps, case_sensitive=True).counts
    assert (strict.C, strict.S) == (0, 5)
    assert score({"u": ["A\\;B"]}, {"u": ["a;b"]}).counts.S == 1  # unescaped ';' starts a tag: "a"


@pytest.mark.parametrize("token", ["@", "{", "{A", "<ALT_BEGIN>", "<alt>"])
def test_unsupported_sclite_syntax_is_refused(token):
    with pytest.raises(FormatError, match="utterance 'u'"):
        score({"u": ["A"]}, {"u": [token]})


def test_unknown_hypothesis_ids_are_named():
    with pytest.raises(ScoringError, match=r"2 hypothesis utterance id\(s\).*'x'.*'y'"):
        score({"u": ["A"]}, {"u": ["A"], "x": ["B"], "y": []})


# -- the real sclite binary (skips when absent) ----------------------------------------------------
@pytest.mark.parametrize("seed", [101, 202])
def test_counts_and_pra_match_live_sclite(
    seed, slr_metrics_sclite, slr_metrics_cases, slr_metrics_runner, tmp_path
):
    refs, hyps, speakers = slr_metrics_cases.sclite_cases(seed, 2500)
    write_stm(tmp_path / "ref.stm", refs, speakers)
    write_ctm(tmp_path / "hyp.ctm", hyps)
    result = slr_metrics_runner.run_sclite(slr_metrics_sclite, tmp_path / "ref.stm", tmp_path / "hyp.ctm")
    assert result.returncode == 0, result.stderr[-1000:]
    report = score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm")
    assert _ours(report) == result.counts
    assert _pra_lines(report, slr_metrics_runner.PRA_PREFIXES) == result.pra_lines


def test_phoenix_references_match_live_sclite(
    slr_metrics_sclite, slr_metrics_phoenix_meta, slr_metrics_runner, tmp_path
):
    import random

    for split in ("dev", "test"):
        segments = read_stm(slr_metrics_phoenix_meta / f"phoenix2014-groundtruth-{split}.stm")
        vocab = sorted({w for seg in segments for w in seg.words})
        rng = random.Random(split)
        hyps = {}
        for seg in segments:
            hyp = []
            for gloss in seg.words:
                x = rng.random()
                if x < 0.1:
                    continue
                hyp.append(rng.choice(vocab) if x < 0.3 else gloss)
                if rng.random() < 0.05:
                    hyp.append(rng.choice(vocab))
            hyps[seg.utt_id] = hyp
        write_stm(tmp_path / "ref.stm", segments)
        write_ctm(tmp_path / "hyp.ctm", hyps)
        result = slr_metrics_runner.run_sclite(slr_metrics_sclite, tmp_path / "ref.stm", tmp_path / "hyp.ctm")
        assert result.returncode == 0, result.stderr[-1000:]
        assert _ours(score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm")) == result.counts


def test_error_cases_agree_with_live_sclite(slr_metrics_sclite, slr_metrics_runner, tmp_path):
    stm = tmp_path / "ref.stm"
    stm.write_text("u1 1 s 0 1 A B\nu2 1 s 0 1 C D\n", encoding="utf-8")
    ctm = tmp_path / "hyp.ctm"

    ctm.write_text("u1 1 0 0.01 A\nu9 1 0 0.01 C\n", encoding="utf-8")  # id not in the reference
    assert slr_metrics_runner.run_sclite(slr_metrics_sclite, stm, ctm).returncode == 1
    with pytest.raises(ScoringError, match="'u9'"):
        score_files(stm, ctm)

    ctm.write_text("u1 1 0 0.01 A\nu2 1 0 0.01 C\nu1 1 0.01 0.01 B\n", encoding="utf-8")  # u1 split in two
    assert slr_metrics_runner.run_sclite(slr_metrics_sclite, stm, ctm).returncode == 1
    with pytest.raises(FormatError, match=r"hyp.ctm:3: lines of utterance 'u1' are not contiguous"):
        score_files(stm, ctm)

    ctm.write_text(
        "U1 1 0.5 0.01 B\nU1 1 0.1 0.01 A\n", encoding="utf-8"
    )  # upper-case id, words out of time order
    result = slr_metrics_runner.run_sclite(slr_metrics_sclite, stm, ctm)
    assert result.returncode == 0  # u2 missing: all deletions, exit 0
    assert _ours(score_files(stm, ctm)) == result.counts == {"u1": (1, 0, 1, 1), "u2": (0, 0, 2, 0)}
