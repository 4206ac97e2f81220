"""NIST STM reference files: ``<id> <channel> <speaker> <start> <end> [<label>] <words...>``.

One line is one segment. Lines starting with ``;;`` are comments, blank lines are skipped, a
sixth field that starts with ``<`` is the optional label (``<O,F0,M>``). PHOENIX files look like
``01April_2010_Thursday_heute_default-1 1 Signer04 0.0 1.79769e+308 ICH OSTERN ...``.

slr-metrics scores one segment per recording id (as every sign-language corpus has); a second
segment with the same id is reported as an error rather than split by time as sclite would.
"""

from __future__ import annotations

import math
import os
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence

from slr_metrics.errors import FormatError
from slr_metrics.fileio import atomic_write_text, iter_lines
from slr_metrics.limits import Limits
from slr_metrics.text import split_ws

__all__ = ["STMSegment", "read_stm", "write_stm", "stm_to_refs", "PHOENIX_END_TIME"]

#: End time PHOENIX STM files give every segment (the largest double, as printed by C ``%g``).
PHOENIX_END_TIME = 1.79769e308


class STMSegment(
    namedtuple("STMSegment", ("utt_id", "channel", "speaker", "start", "end", "words", "label", "line"),
               defaults=(None, 0))
):
    """One STM line (an immutable named tuple).

    Attributes:
        utt_id: recording/utterance id (first field).
        channel: channel field (PHOENIX: ``"1"``).
        speaker: speaker field (PHOENIX: the signer, e.g. ``"Signer04"``).
        start: segment start time in seconds.
        end: segment end time in seconds.
        words: the reference words, in order.
        label: the optional ``<...>`` label field, else ``None``.
        line: 1-based line number in the file it came from (0 when built in memory).
    """

    __slots__ = ()


def _parse_time(text: str, what: str, path: os.PathLike[str] | str, number: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"{what} {text!r} is not a number", path, line=number) from None
    if math.isnan(value):
        raise FormatError(f"{what} is NaN", path, line=number)
    return value


def read_stm(path: str | os.PathLike[str], *, limits: Limits | None = None) -> list[STMSegment]:
    """Read an STM file into segments, in file order.

    ``limits`` bound the file's size, line length and line count (see :mod:`slr_metrics.limits`).

    Raises:
        FormatError: (naming file and line) for a line with fewer than 5 fields, a time that is
            not a number, an end before the start, an id that appears twice, or a file over
            ``limits``.
    """
    segments: list[STMSegment] = []
    seen: dict[str, int] = {}
    new = tuple.__new__  # STMSegment(...) without its Python-level __new__
    for number, text in iter_lines(path, limits):
        if text.startswith(";;"):
            continue
        fields = split_ws(text)
        if not fields:
            continue
        if len(fields) < 5:
            raise FormatError(
                "expected '<id> <channel> <speaker> <start> <end> [<label>] words...', "
                f"got {len(fields)} field(s)",
                path,
                line=number,
            )
        utt_id, channel, speaker = fields[0], fields[1], fields[2]
        try:
            start = float(fields[3])
            end = float(fields[4])
        except ValueError:
            start = end = math.nan
        if start != start or end != end:  # not a number or NaN: say which
            start = _parse_time(fields[3], "start time", path, number)
            end = _parse_time(fields[4], "end time", path, number)
        if end < start:
            raise FormatError(f"end time {fields[4]} is before start time {fields[3]}", path, line=number)
        rest = fields[5:]
        label = None
        if rest and rest[0].startswith("<"):
            label, rest = rest[0], rest[1:]
        if utt_id in seen:
            raise FormatError(
                f"utterance id {utt_id!r} already has a segment at line {seen[utt_id]}; "
                "slr-metrics scores one segment per recording",
                path,
                line=number,
            )
        seen[utt_id] = number
        segments.append(new(STMSegment, (utt_id, channel, speaker, start, end, tuple(rest), label, number)))
    return segments


def stm_to_refs(segments: Iterable[STMSegment]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """``(refs, speakers)``: utterance id -> words and utterance id -> speaker."""
    refs: dict[str, list[str]] = {}
    speakers: dict[str, str] = {}
    for seg in segments:
        refs[seg.utt_id] = list(seg.words)
        speakers[seg.utt_id] = seg.speaker
    return refs, speakers


def _check_field(value: str, what: str) -> None:
    if not value or split_ws(value) != [value]:
        raise ValueError(f"{what} {value!r} must be non-empty and free of whitespace")


def write_stm(
    path: str | os.PathLike[str],
    refs: Mapping[str, Sequence[str]] | Iterable[STMSegment],
    speakers: Mapping[str, str] | None = None,
    *,
    channel: str = "1",
    start: float = 0.0,
    end: float = PHOENIX_END_TIME,
    sort: bool = True,
) -> None:
    """Write references as an STM file, atomically.

    Args:
        path: output file.
        refs: utterance id -> words, or :class:`STMSegment` objects (written as they are).
        speakers: utterance id -> speaker for ``refs`` given as a mapping (default: the id).
        channel, start, end: fields used for a mapping (defaults give PHOENIX-style lines).
        sort: order lines by utterance id (code-point order, like ``LC_ALL=C sort -k1,1``), so
            sclite can walk the file beside a CTM written by :func:`write_ctm`.
    """
    if isinstance(refs, Mapping):
        speakers = speakers or {}
        segments = [
            STMSegment(str(uid), channel, speakers.get(uid, str(uid)), start, end, tuple(words))
            for uid, words in refs.items()
        ]
    else:
        segments = list(refs)
    if sort:
        segments.sort(key=lambda seg: seg.utt_id)
    lines = []
    for seg in segments:
        for value, what in ((seg.utt_id, "utterance id"), (seg.channel, "channel"), (seg.speaker, "speaker")):
            _check_field(value, what)
        for word in seg.words:
            _check_field(word, f"word of utterance {seg.utt_id!r}:")
        if seg.label is None and seg.words and seg.words[0].startswith("<"):
            raise ValueError(
                f"first word {seg.words[0]!r} of utterance {seg.utt_id!r} starts with '<' "
                "and would be read back as a label"
            )
        head = [seg.utt_id, seg.channel, seg.speaker, repr(float(seg.start)), repr(float(seg.end))]
        if seg.label is not None:
            head.append(seg.label)
        lines.append(" ".join(head + list(seg.words)) + "\n")
    atomic_write_text(path, "".join(lines))
