"""The start-up and parsing fast paths of ``slr-score`` give what the general code gives."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from slr_metrics import ctm
from slr_metrics.cli import build_parser, parse_common
from slr_metrics.errors import FormatError


_COMMON = [
    ["--ref", "r.stm", "--hyp", "h.ctm"],
    ["--hyp", "h.ctm", "--ref", "r.stm", "--json", "--top", "3", "--protocol", "phoenix2014"],
    ["--ref", "r", "--hyp", "h", "--levenshtein", "--case-sensitive", "--debug", "--hyp-format", "hyp"],
    ["--ref", "r", "--hyp", "h", "--pra", "out.pra", "--top", "0", "--ref", "r2"],  # the last one wins
    ["--ref", "", "--hyp", "h"],
]


def _argvs():
    yield from _COMMON
    # argparse's cases: parse_common must hand them on (None) or agree
    yield ["--ref", "r", "--hyp", "h", "--top", "-1"]
    yield ["--ref", "r", "--hyp", "h", "--top", "+3"]
    yield ["--ref", "-r", "--hyp", "h"]
    yield ["--ref=r", "--hyp", "h"]
    yield ["--re", "r", "--hyp", "h"]
    yield ["--ref", "r", "--hyp", "h", "--protocol", "nope"]
    yield ["--ref", "r", "--hyp", "h", "extra"]
    yield ["--ref", "r"]
    yield ["--ref", "r", "--hyp"]
    yield ["--ref", "r", "--hyp", "h", "--"]
    yield ["-h"]
    yield ["--version"]
    for flags in itertools.permutations(["--json", "--levenshtein", "--top", "7"], 3):
        yield ["--ref", "r", "--hyp", "h", *flags]


@pytest.mark.parametrize("argv", list(_argvs()))
def test_parse_common_is_argparse(argv, capsys):
    fast = parse_common(argv)
    try:
        slow = vars(build_parser().parse_args(argv))
    except SystemExit:
        slow = None
    capsys.readouterr()
    if argv in _COMMON:
        assert fast is not None
    if fast is not None:
        assert vars(fast) == slow


def test_cli_imports_no_heavy_modules():
    code = (
        "import sys; from slr_metrics import cli; "
        "print(sorted(m for m in ('argparse', 're', 'dataclasses', 'inspect', 'json', 'tempfile', "
        "'typing', 'numpy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _lines(text: str):
    return list(enumerate(text.split("\n"), start=1))


@pytest.mark.parametrize(
    "text",
    [
        "u1 1 0.00 0.01 A\nu1 1 0.01 0.01 B\nu2 1 0.00 0.01 C",
        "u1 1 0.00 0.01 A\n;; comment\nu1 1 0.01 0.01 B",
        "u1 1 0.00 0.01 A\n\nu2 1 0.00 0.01 B",
        "u1 1 0.00 0.01 A 0.9\nu1 1 0.01 0.01 B NA",
        "u1\t1 0.00 0.01 A\nu1 1 1e2 0.01 B",
        "u1 1 0.00 0.01 Ä\nu1 1 0.01 0.01 B",
        "u1 1 inf 0.01 A",
    ],
)
def test_plain_ctm_fast_path_equals_line_by_line(text):
    fast = ctm.parse_ctm_lines(_lines(text), "h.ctm")
    slow = _line_by_line(_lines(text))
    assert fast == slow
    assert all(type(w) is ctm.CTMWord for w in fast)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u1 1 0.00 0.01 A\nu1 1 x 0.01 B", "h.ctm:2: start time 'x' is not a number"),
        ("u1 1 0.00 0.01 A\nu1 1 0.01 -1 B", "h.ctm:2: negative duration -1"),
        ("u1 1 0.00 nan A", "h.ctm:1: duration is NaN"),
        ("u1 1 nan 0.01 A", "h.ctm:1: start time is NaN"),
        ("u1 1 0.00 0.01 A\nu1 1 0.01 B", "h.ctm:2: expected"),
    ],
)
def test_plain_ctm_fast_path_errors(text, message):
    with pytest.raises(FormatError) as info:
        ctm.parse_ctm_lines(_lines(text), "h.ctm")
    assert str(info.value).startswith(message)


def _line_by_line(lines):
    """parse_ctm_lines with its column-wise fast path switched off."""
    original = ctm._parse_plain_ctm
    ctm._parse_plain_ctm = lambda lines: None
    try:
        return ctm.parse_ctm_lines(lines, "h.ctm")
    finally:
        ctm._parse_plain_ctm = original


def test_sclite_prefix_and_suffix_shortcuts_match_the_literal_programme():
    """Pairs sharing a prefix and a suffix, with words that come back: the cases where
    ``align_sclite`` may or may not skip the common prefix (see its docstring)."""
    import random

    from slr_metrics.align import align_sclite
    from slr_metrics.align_ref import align_sclite_ref

    rng = random.Random(3)
    for _ in range(3000):
        vocab = "ABCD"[: rng.randint(1, 4)]
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 4))]
        tail = [rng.choice(vocab) for _ in range(rng.randint(0, 2))]
        ref = words + [rng.choice(vocab) for _ in range(rng.randint(0, 6))] + tail
        hyp = words + [rng.choice(vocab) for _ in range(rng.randint(0, 6))] + tail
        assert align_sclite(ref, hyp) == align_sclite_ref(ref, hyp), (ref, hyp)
    assert align_sclite(["A", "A"], ["A"]) == "DC"  # the prefix "A" comes back: not skipped
    assert align_sclite(["A", "B", "C"], ["A", "C"]) == "CDC"
