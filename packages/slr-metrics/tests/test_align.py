"""The aligners against their references: the literal net_dp.c transcription, jiwer, SLRT."""

from __future__ import annotations

import random

import pytest
from slr_metrics import align, align_levenshtein, align_sclite, align_slrt
from slr_metrics.align_ref import align_sclite_ref


def _random_pairs(seed: int, count: int, max_len: int = 12):
    rng = random.Random(seed)
    for _ in range(count):
        vocab = "ABCDEFGH"[: rng.choice((1, 2, 3, 4, 8))]
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, max_len))]
        hyp = [rng.choice(vocab) for _ in range(rng.randint(0, max_len))]
        yield ref, hyp


def _counts(edits: str) -> tuple[int, int, int, int]:
    return edits.count("C"), edits.count("S"), edits.count("D"), edits.count("I")


def _check_edit_string(ref, hyp, edits):
    assert len(edits) - edits.count("I") == len(ref)
    assert len(edits) - edits.count("D") == len(hyp)
    r = h = 0
    for e in edits:
        if e in "CS":
            assert (ref[r] == hyp[h]) == (e == "C")
            r += 1
            h += 1
        elif e == "D":
            r += 1
        else:
            h += 1


def test_sclite_is_not_levenshtein():
    ref, hyp = "A B C D E".split(), "X Y Z A B".split()
    assert align_sclite(ref, hyp) == "IIICCDDD"
    assert _counts(align_levenshtein(ref, hyp)) == (0, 5, 0, 0)
    # sclite weights: 3 * (3 + 3) = 18 < 5 substitutions * 4 = 20
    assert _counts(align_sclite(ref, hyp)) == (2, 0, 3, 3)


@pytest.mark.parametrize(
    ("ref", "hyp", "edits"),
    [
        ([], [], ""),
        (["A"], [], "D"),
        ([], ["A", "B"], "II"),
        (["A", "B"], ["A", "B"], "CC"),
        (["A"], ["B"], "S"),
        (["A", "A"], ["A"], "DC"),  # checked against sclite: the first A is the deleted one
        (["A", "B"], ["B", "A"], "DCI"),  # 3 + 0 + 3 = 6 beats two substitutions (8)
        (["A"], ["A", "A"], "IC"),
    ],
)
def test_sclite_small_cases(ref, hyp, edits):
    assert align_sclite(ref, hyp) == edits
    assert align_sclite_ref(ref, hyp) == edits


def test_sclite_fast_matches_literal_reference():
    for ref, hyp in _random_pairs(0, 3000):
        fast = align_sclite(ref, hyp)
        assert fast == align_sclite_ref(ref, hyp), (ref, hyp)
        _check_edit_string(ref, hyp, fast)


def test_sclite_weighted_cost_is_minimal():
    """Exhaustive check on tiny inputs: no alignment has a lower 4/3/3 cost than sclite's."""
    for ref, hyp in _random_pairs(1, 400, max_len=6):
        edits = align_sclite(ref, hyp)
        cost = 4 * edits.count("S") + 3 * (edits.count("D") + edits.count("I"))
        n, m = len(ref), len(hyp)
        best = [[0] * (m + 1) for _ in range(n + 1)]
        for i in range(n + 1):
            for j in range(m + 1):
                if i == 0 or j == 0:
                    best[i][j] = 3 * (i + j)
                else:
                    best[i][j] = min(
                        best[i - 1][j - 1] + (0 if ref[i - 1] == hyp[j - 1] else 4),
                        best[i - 1][j] + 3,
                        best[i][j - 1] + 3,
                    )
        assert cost == best[n][m]


def test_levenshtein_matches_jiwer_breakdown():
    jiwer = pytest.importorskip("jiwer")
    for ref, hyp in _random_pairs(2, 2000):
        if not ref:
            continue
        out = jiwer.process_words(" ".join(ref), " ".join(hyp))
        edits = align_levenshtein(ref, hyp)
        _check_edit_string(ref, hyp, edits)
        assert _counts(edits) == (out.hits, out.substitutions, out.deletions, out.insertions), (ref, hyp)


def test_levenshtein_is_minimum_edit_distance():
    for ref, hyp in _random_pairs(3, 500, max_len=7):
        edits = align_levenshtein(ref, hyp)
        n, m = len(ref), len(hyp)
        d = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                d[i][j] = min(d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]), d[i - 1][j] + 1, d[i][j - 1] + 1)
        assert len(edits) - edits.count("C") == d[n][m]


def test_slrt_small_cases_and_tie_order():
    # SLRT's traceback prefers correct, substitution, insertion, deletion from the end.
    assert align_slrt(["A", "B"], ["B", "A"]) == "DCI"
    assert align_slrt(["A"], ["A", "A"]) == "IC"  # from the end: correct first, then the insertion
    assert align_slrt(["A", "A"], ["A"]) == "DC"
    assert align_slrt(["A", "B", "C"], ["X", "B"]) == "SCD"  # vs sclite's "SCD" too
    assert align_sclite(["A", "B", "C"], ["X", "B"]) == "SCD"
    assert align_slrt([], ["A"]) == "I"
    assert align_slrt(["A"], []) == "D"
    for ref, hyp in _random_pairs(4, 1000):
        _check_edit_string(ref, hyp, align_slrt(ref, hyp))


def test_slrt_wraps_like_an_8_bit_matrix():
    """SLRT keeps costs in numpy.uint8: beyond 255 they wrap (the counts stop adding up)."""
    long_ref = ["A"] * 90
    edits = align_slrt(long_ref, [])
    assert edits.count("D") >= 85  # still deletions, but the matrix wrapped (3 * 90 = 270 > 255)


def test_align_dispatch_and_unknown_method():
    assert align(["A"], ["B"], "sclite") == "S"
    assert align(["A"], ["B"], "levenshtein") == "S"
    with pytest.raises(ValueError, match="unknown aligner 'x'"):
        align([], [], "x")
