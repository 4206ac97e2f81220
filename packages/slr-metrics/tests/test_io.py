"""STM / CTM / plain hypothesis files: round trips, clear errors with file and line, atomic writes."""

from __future__ import annotations

import os

import pytest
from slr_metrics import (
    FormatError,
    STMSegment,
    read_ctm,
    read_ctm_words,
    read_hyp,
    read_stm,
    stm_to_refs,
    write_ctm,
    write_hyp,
    write_stm,
)
from slr_metrics.fileio import atomic_write_text
from slr_metrics.scoring import detect_hyp_format
from slr_metrics.text import split_ws


def test_split_on_c_whitespace_only():
    assert split_ws(" a\tb\r\nc\x0bd\x0ce ") == ["a", "b", "c", "d", "e"]
    assert split_ws("a\x1cb c") == ["a\x1cb", "c"]  # str.split() would split at \x1c
    assert split_ws("a\u3000b\xa0c d") == ["a\u3000b\xa0c", "d"]  # not whitespace to sclite


def test_stm_round_trip_with_comments_labels_and_crlf(tmp_path):
    path = tmp_path / "ref.stm"
    path.write_bytes(
        b";; a comment\r\n"
        b"b-utt 1 Signer04 0.0 1.79769e+308 <O,F0,M> ICH  OSTERN\r\n"
        b"\r\n"
        b"a-utt A spk 1.5 2.25\r\n"
    )
    segments = read_stm(path)
    assert segments[0] == STMSegment(
        "b-utt", "1", "Signer04", 0.0, 1.79769e308, ("ICH", "OSTERN"), "<O,F0,M>", 2
    )
    assert segments[1].words == () and segments[1].line == 4
    write_stm(tmp_path / "out.stm", segments)
    again = read_stm(tmp_path / "out.stm")
    assert [(s.utt_id, s.words, s.label, s.start, s.end) for s in again] == [
        ("a-utt", (), None, 1.5, 2.25),
        ("b-utt", ("ICH", "OSTERN"), "<O,F0,M>", 0.0, 1.79769e308),
    ]
    refs, speakers = stm_to_refs(again)
    assert refs == {"a-utt": [], "b-utt": ["ICH", "OSTERN"]} and speakers["b-utt"] == "Signer04"


def test_write_stm_from_mapping_is_phoenix_style_and_sorted(tmp_path):
    write_stm(tmp_path / "ref.stm", {"b": ["X"], "a": ["Y", "Z"]}, {"a": "Signer01"})
    assert (
        tmp_path / "ref.stm"
    ).read_text() == "a 1 Signer01 0.0 1.79769e+308 Y Z\nb 1 b 0.0 1.79769e+308 X\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u1 1 spk 0.0\n", r"ref.stm:1: expected '<id> <channel> <speaker> <start> <end>.*got 4 field\(s\)"),
        ("u1 1 spk zero 1.0 A\n", r"ref.stm:1: start time 'zero' is not a number"),
        ("u1 1 spk 0 nan A\n", r"ref.stm:1: end time is NaN"),
        ("u1 1 spk 2 1 A\n", r"ref.stm:1: end time 1 is before start time 2"),
        (
            "u1 1 spk 0 1 A\n;; c\nu1 1 spk 1 2 B\n",
            r"ref.stm:3: utterance id 'u1' already has a segment at line 1",
        ),
    ],
)
def test_stm_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "ref.stm"
    path.write_text(text)
    with pytest.raises(FormatError, match=message) as info:
        read_stm(path)
    assert info.value.path == str(path)


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "ref.stm"
    path.write_bytes(b"u1 1 s 0 1 A\nu2 1 s 0 1 \xff\n")
    with pytest.raises(FormatError, match=r"ref.stm:2: not valid UTF-8"):
        read_stm(path)
    with pytest.raises(FormatError, match=r"nope.ctm: cannot read file"):
        read_ctm(tmp_path / "nope.ctm")


def test_ctm_round_trip_and_vac_convention(tmp_path):
    hyps = {"u2": ["C"], "u1": ["A", "B"], "u3": []}
    write_ctm(tmp_path / "hyp.ctm", hyps)
    assert (tmp_path / "hyp.ctm").read_text() == "u1 1 0.00 0.01 A\nu1 1 0.01 0.01 B\nu2 1 0.00 0.01 C\n"
    assert read_ctm(tmp_path / "hyp.ctm") == {"u1": ["A", "B"], "u2": ["C"]}
    words = read_ctm_words(tmp_path / "hyp.ctm")
    assert words[1].start_text == "0.01" and words[1].line == 2 and words[1].confidence is None


def test_ctm_confidence_comments_and_errors(tmp_path):
    path = tmp_path / "hyp.ctm"
    path.write_text("; comment\nu1 1 0 0.5 A 0.9\nu1 1 0.5 0.5 B NA\n")
    words = read_ctm_words(path)
    assert [w.confidence for w in words] == [0.9, None]
    for text, message in [
        (
            "u1 1 0 A\n",
            r"hyp.ctm:1: expected '<id> <channel> <start> <duration> <word> \[<confidence>\]', got 4",
        ),
        ("u1 1 0 0.1 A B C\n", r"got 7 field"),
        ("u1 1 x 0.1 A\n", r"hyp.ctm:1: start time 'x' is not a number"),
        ("u1 1 0 -1 A\n", r"hyp.ctm:1: negative duration -1"),
        ("u1 1 0 1 A high\n", r"hyp.ctm:1: confidence 'high' is not a number"),
    ]:
        path.write_text(text)
        with pytest.raises(FormatError, match=message):
            read_ctm_words(path)


def test_plain_hypothesis_files(tmp_path):
    path = tmp_path / "hyp.txt"
    path.write_text(";; plain\nu1 A B\nu2\n\n")
    assert read_hyp(path) == {"u1": ["A", "B"], "u2": []}
    path.write_text("u1 A\nu1 B\n")
    with pytest.raises(FormatError, match=r"hyp.txt:2: utterance id 'u1' already appeared at line 1"):
        read_hyp(path)
    write_hyp(tmp_path / "out.txt", {"b": ["X"], "a": []})
    assert (tmp_path / "out.txt").read_text() == "a\nb X\n"


def test_hyp_format_detection(tmp_path):
    (tmp_path / "a.txt").write_text("u1 1 0.00 0.01 A\n")
    (tmp_path / "b.txt").write_text("u1 A B C D E\n")
    (tmp_path / "c.ctm").write_text("")
    assert detect_hyp_format(tmp_path / "a.txt") == "ctm"
    assert detect_hyp_format(tmp_path / "b.txt") == "hyp"
    assert detect_hyp_format(tmp_path / "c.ctm") == "ctm"


@pytest.mark.parametrize("bad", [{"u 1": ["A"]}, {"u1": ["A B"]}, {"u1": [""]}])
def test_writers_refuse_tokens_that_would_not_read_back(tmp_path, bad):
    with pytest.raises(ValueError, match="free of whitespace"):
        write_ctm(tmp_path / "x.ctm", bad)
    with pytest.raises(ValueError, match="free of whitespace"):
        write_stm(tmp_path / "x.stm", bad)
    with pytest.raises(ValueError, match="read back as a label"):
        write_stm(tmp_path / "x.stm", {"u1": ["<A>"]})


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.ctm"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n" and (os.stat(path).st_mode & 0o777) == 0o640

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_ctm(path, {"u": ["A"]})
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ctm"]  # no temp file left behind
