"""PHOENIX protocols: every documented rule, the official scripts' outputs, SLRT's outputs,
and equal results from in-memory and file scoring."""

from __future__ import annotations

import pytest
from slr_metrics import FormatError, get_protocol, list_protocols, score, score_files, write_ctm, write_stm
from slr_metrics.phoenix_rules import (
    official_2014_token,
    official_2014t_token,
    slrt_clean_2014,
    slrt_clean_2014t,
)


def _ours(report) -> dict[str, tuple[int, int, int, int]]:
    return {u.utt_id.lower(): (u.counts.C, u.counts.S, u.counts.D, u.counts.I) for u in report.utterances}


# -- the rules, one example each (the README lists the same examples) -----------------------------
@pytest.mark.parametrize(
    ("token", "cleaned"),
    [
        ("loc-NORD", "NORD"),
        ("cl-KOMMEN", "KOMMEN"),
        ("NICHT-cl-KOMMEN", "NICHT-KOMMEN"),
        ("qu-WAS", "WAS"),
        ("poss-EUCH", "EUCH"),
        ("lh-HOCH", "HOCH"),
        ("S0NNE", "SONNE"),
        ("HABEN2", "HABEN"),
        ("__EMOTION__", ""),
        ("__PU__", ""),
        ("__LEFTHAND__", ""),
        ("__EPENTHESIS__", None),
        ("X__EPENTHESIS__Y", None),
        ("ZEIGEN", "ZEIGEN-BILDSCHIRM"),
        ("ANZEIGEN", "ANZEIGEN-BILDSCHIRM"),
        ("ZEIGEN-BILDSCHIRM", "ZEIGEN-BILDSCHIRM"),
        ("NORDRAUM", "NORD"),
        ("SUEDOSTRAUM", "SUEDOST"),
        ("RAUM", "RAUM"),
        ("ABRAUMRAUM", "ABRAUM"),
        ("REGEN-PLUSPLUS", "REGEN"),
        ("__ON__", "__ON__"),
        ("__OFF__", "__OFF__"),
        ("LOC-NORD", "LOC-NORD"),  # case-sensitive
        ("__LEFTHANDRAUM__", None),  # RAUM removal recreates __LEFTHAND__ and grep drops the line
        ("WIE", "WIE"),
    ],
)
def test_official_2014_token_rules(token, cleaned):
    assert official_2014_token(token) == cleaned


@pytest.mark.parametrize(
    ("token", "cleaned"),
    [
        ("__ON__", None),
        ("__OFF__", None),
        ("__PU__", None),
        ("____", None),
        ("__A_B__", "__A_B__"),  # '_' inside: not an __X__ token
        ("__EPENTHESIS__", None),
        ("loc-NORD", "NORD"),
        ("Xloc-Y", "Xloc-Y"),  # only a leading loc-
        ("cl-KOMMEN", "KOMMEN"),
        ("loc-cl-SUED", "SUED"),
        ("cl-loc-SUED", "loc-SUED"),
        ("REGEN-PLUSPLUS", "REGEN"),
        ("NORDRAUM", "NORD"),
        ("X-NORDRAUM", "X-NORD"),
        ("nordRAUM", "nordRAUM"),
        ("RAUM", "RAUM"),
        ("S0NNE", "S0NNE"),  # no such rule in 2014-T
    ],
)
def test_official_2014t_token_rules(token, cleaned):
    assert official_2014t_token(token) == cleaned


def test_multi_word_rules_do_not_fire_in_official_protocols():
    p = get_protocol("phoenix2014")
    assert p.normalize_hyp(["WIE", "AUSSEHEN", "A", "B", "REGEN", "REGEN"]) == [
        "WIE",
        "AUSSEHEN",
        "A",
        "B",
        "REGEN",
        "REGEN",
    ]


def test_empty_and_missing_hypotheses_score_as_empty_token():
    refs = {"a": ["X", "Y", "Z"], "b": ["X", "Y"]}
    report = score(refs, {"a": ["__EPENTHESIS__", "loc-"]}, protocol="phoenix2014")
    assert report.utterance("a").hyp == ("[EMPTY]",)
    assert report.utterance("b").hyp == ("[EMPTY]",)  # missing
    c = report.utterance("a").counts
    assert (c.S, c.D, c.I) == (1, 2, 0)  # S=1, D=N-1, not D=N
    plain = score(refs, {"a": []}).utterance("a").counts
    assert (plain.S, plain.D) == (0, 3)


def test_phoenix2014t_cleans_both_sides_and_collapses_repeats():
    p = get_protocol("phoenix2014t")
    assert p.normalize_ref(["__ON__", "loc-NORD", "NORD", "REGEN-PLUSPLUS", "REGEN", "__OFF__"]) == [
        "NORD",
        "REGEN",
    ]
    assert p.normalize_hyp(["A", "A", "__PU__", "A", "B"]) == ["A", "B"]
    assert p.normalize_ref(["REGEN", "REGEN", "loc-REGEN"]) == ["REGEN"]
    assert p.normalize_hyp(["__ON__"]) == ["[EMPTY]"]


def test_slrt_rules_fire_on_whole_strings():
    assert slrt_clean_2014t(["__ON__", "WIE", "AUSSEHEN", "A", "B", "C", "loc-NORD", "NORD"]) == [
        "WIE-AUSSEHEN",
        "A+B+C",
        "NORD",
    ]
    assert slrt_clean_2014t(["X", "SCH", "A", "Y"]) == ["X", "SCH+A+Y"]
    assert slrt_clean_2014(["ZEIGEN", "S0NNE", "HABEN2", "HABEN"]) == ["ZEIGEN-BILDSCHIRM", "SONNE", "HABEN"]
    with pytest.raises(ValueError, match="__EPENTHESIS__"):
        slrt_clean_2014(["__EPENTHESIS__"])


def test_protocol_registry():
    assert list_protocols() == [
        "none",
        "phoenix2014",
        "phoenix2014t",
        "phoenix2014t-vac",
        "phoenix2014-slrt",
        "phoenix2014t-slrt",
        "csl-daily",
    ]
    assert get_protocol("phoenix2014t-slrt").aligner == "slrt"
    with pytest.raises(ValueError, match="unknown protocol 'x'"):
        get_protocol("x")


# -- official scripts + sclite (committed outputs) -------------------------------------------------
@pytest.mark.parametrize("mode", ["sorted", "shuffled", "interleaved"])
def test_phoenix2014_matches_official_pipeline(mode, slr_metrics_cases, slr_metrics_expected, tmp_path):
    cases = slr_metrics_cases
    expected = slr_metrics_expected("phoenix2014_official.json")
    assert (expected["seed"], expected["n"]) == (cases.PHOENIX_SEED, cases.PHOENIX_N)
    refs, hyps, speakers = cases.phoenix_cases(cases.PHOENIX_SEED, cases.PHOENIX_N)
    lines = cases.vac_ctm_lines(hyps, cases.PHOENIX_SEED, mode)
    (tmp_path / "hyp.ctm").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_stm(tmp_path / "ref.stm", refs, speakers)
    want = {uid: tuple(v) for uid, v in expected["counts"][mode].items()}
    assert _ours(score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm", protocol="phoenix2014")) == want
    if mode == "sorted":  # in memory, the same data give the same counts
        assert _ours(score(refs, hyps, protocol="phoenix2014")) == want
        assert _ours(score(refs, hyps, protocol="phoenix2014t-vac")) == want


def test_phoenix2014t_matches_official_pipeline(slr_metrics_cases, slr_metrics_expected, tmp_path):
    cases = slr_metrics_cases
    expected = slr_metrics_expected("phoenix2014t_official.json")
    refs, hyps, speakers = cases.phoenix_cases(expected["seed"], expected["n"])
    want = {uid: tuple(v) for uid, v in expected["counts"].items()}
    lines = cases.vac_ctm_lines(hyps, cases.PHOENIX_SEED, "sorted")
    (tmp_path / "hyp.ctm").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_stm(tmp_path / "ref.stm", refs, speakers)
    assert _ours(score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm", protocol="phoenix2014t")) == want
    assert _ours(score(refs, hyps, protocol="phoenix2014t")) == want


def test_slrt_protocols_match_slrt_code(slr_metrics_cases, slr_metrics_expected):
    cases = slr_metrics_cases
    expected = slr_metrics_expected("slrt_expected.json")
    assert (expected["seed"], expected["n"]) == (cases.SLRT_SEED, cases.SLRT_N)
    refs, hyps, _ = cases.phoenix_cases(cases.SLRT_SEED, cases.SLRT_N)
    for name in ("phoenix2014-slrt", "phoenix2014t-slrt"):
        want = expected["counts"][name]
        checked = failed = 0
        for uid, ref, hyp in cases.slrt_inputs(refs, hyps):  # one utterance at a time, some empty
            if want[uid] == "AssertionError":
                with pytest.raises(ValueError, match="EPENTHESIS|LEFTHAND|EMOTION"):
                    score({uid: ref}, {uid: hyp}, protocol=name, allow_empty_reference=True)
                failed += 1
                continue
            c = score({uid: ref}, {uid: hyp}, protocol=name, allow_empty_reference=True).counts
            assert [c.C, c.S, c.D, c.I] == want[uid], (name, uid)
            checked += 1
        assert checked > 600


# -- in-memory and file scoring agree for every protocol -------------------------------------------
@pytest.mark.parametrize("protocol", list_protocols())
@pytest.mark.parametrize("levenshtein", [False, True])
def test_score_equals_score_files(protocol, levenshtein, slr_metrics_cases, tmp_path):
    refs, hyps, speakers = slr_metrics_cases.phoenix_cases(5, 300)
    if protocol == "phoenix2014-slrt":  # that clean-up stops on surviving markers, as SLRT's does
        refs = {u: [w for w in r if "EPENTHESIS" not in w and "LEFTHAND" not in w] for u, r in refs.items()}
        hyps = {u: [w for w in h if "EPENTHESIS" not in w and "LEFTHAND" not in w] for u, h in hyps.items()}
    write_stm(tmp_path / "ref.stm", refs, speakers)
    write_ctm(tmp_path / "hyp.ctm", hyps)
    in_memory = score(refs, hyps, protocol=protocol, levenshtein=levenshtein, speakers=speakers)
    from_files = score_files(
        tmp_path / "ref.stm", tmp_path / "hyp.ctm", protocol=protocol, levenshtein=levenshtein
    )
    assert _ours(in_memory) == _ours(from_files)
    assert in_memory.counts == from_files.counts


def test_unsorted_ctm_is_an_error_only_where_the_script_does_not_sort(tmp_path):
    write_stm(tmp_path / "ref.stm", {"u1": ["A", "B"], "u2": ["C"]})
    (tmp_path / "hyp.ctm").write_text(
        "u1 1 0.00 0.01 A\nu2 1 0.00 0.01 C\nu1 1 0.01 0.01 B\n", encoding="utf-8"
    )
    report = score_files(
        tmp_path / "ref.stm", tmp_path / "hyp.ctm", protocol="phoenix2014"
    )  # sorted by the script
    assert report.utterance("u1").hyp == ("A", "B")
    for protocol in ("none", "phoenix2014t"):
        with pytest.raises(FormatError, match=r"hyp.ctm:3:.*not contiguous"):
            score_files(tmp_path / "ref.stm", tmp_path / "hyp.ctm", protocol=protocol)


def test_official_sort_compares_start_times_as_text():
    p = get_protocol("phoenix2014")
    words = [f"W{i}" for i in range(1001)]
    out = p.normalize_hyp(words)
    assert out[:2] == ["W0", "W1"]
    # as text "10.00" sorts after "0.00".."1.99" ('.' < '0') and before "2.00"
    assert out.index("W1000") == 200
    assert out[201] == "W200"
