"""Hypothesis files: NIST CTM and plain ``<id> <words...>`` lines.

CTM: ``<id> <channel> <start> <duration> <word> [<confidence>]``, one word per line; lines
starting with ``;`` are comments (as in sclite), blank lines are skipped.

Sign-language recognisers have no word times. The convention of VAC-style code, which
:func:`write_ctm` follows, gives word ``i`` of an utterance the start time ``i / 100`` printed
with two decimals (``0.00``, ``0.01``, ...). VAC writes ``(i + 1) / 100`` into the fourth field,
which CTM defines as a *duration*; :func:`write_ctm` writes the duration ``0.01``. Scoring never
uses durations here: PHOENIX STM segments run from 0 to 1.79769e+308, so every word falls in
its utterance. The official PHOENIX-2014 script sorts CTM lines by id and then by start time
*compared as text* (``sort -k1,1 -k3,3``), which keeps word order up to 1000 words per
utterance; from the 1001st word on (``10.00`` sorts before ``2.00``) the order breaks, and the
``phoenix2014`` protocol reproduces that.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from slr_metrics.errors import FormatError
from slr_metrics.fileio import atomic_write_text, iter_lines
from slr_metrics.limits import Limits
from slr_metrics.text import split_ws

__all__ = [
    "CTMWord",
    "ctm_start_text",
    "parse_ctm_lines",
    "parse_hyp_lines",
    "read_ctm",
    "read_ctm_words",
    "read_hyp",
    "write_ctm",
    "write_hyp",
]


@dataclass(frozen=True)
class CTMWord:
    """One CTM line.

    Attributes:
        utt_id: recording/utterance id.
        channel: channel field.
        start: start time in seconds.
        duration: duration in seconds.
        word: the hypothesised word.
        confidence: the optional sixth field (``None`` when absent or ``NA``).
        start_text: the start field exactly as written (the official PHOENIX sort compares it as text).
        duration_text: the duration field exactly as written.
        line: 1-based line number in the file (0 when built in memory).
    """

    utt_id: str
    channel: str
    start: float
    duration: float
    word: str
    confidence: float | None = None
    start_text: str = ""
    duration_text: str = ""
    line: int = 0


def ctm_start_text(index: int) -> str:
    """Start field :func:`write_ctm` gives word ``index`` of an utterance: ``f"{index / 100:.2f}"``."""
    return f"{index / 100:.2f}"


def _number(text: str, what: str, path: str | os.PathLike[str], number: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"{what} {text!r} is not a number", path, line=number) from None
    if value != value:
        raise FormatError(f"{what} is NaN", path, line=number)
    return value


def read_ctm_words(path: str | os.PathLike[str], *, limits: Limits | None = None) -> list[CTMWord]:
    """Every word line of a CTM file, in file order.

    ``limits`` bound the file's size, line length and line count (see :mod:`slr_metrics.limits`).

    Raises:
        FormatError: (naming file and line) for a line without 5 or 6 fields, a start time or
            duration that is not a number, a negative duration, a confidence that is not a
            number or ``NA``, or a file over ``limits``.
    """
    return parse_ctm_lines(iter_lines(path, limits), path)


def parse_ctm_lines(lines: Iterable[tuple[int, str]], path: str | os.PathLike[str]) -> list[CTMWord]:
    """:func:`read_ctm_words` on ``(line_number, text)`` pairs already read from ``path``."""
    words: list[CTMWord] = []
    for number, text in lines:
        if text.startswith(";"):
            continue
        fields = split_ws(text)
        if not fields:
            continue
        if len(fields) not in (5, 6):
            raise FormatError(
                "expected '<id> <channel> <start> <duration> <word> [<confidence>]', "
                f"got {len(fields)} field(s)",
                path,
                line=number,
            )
        start = _number(fields[2], "start time", path, number)
        duration = _number(fields[3], "duration", path, number)
        if duration < 0:
            raise FormatError(f"negative duration {fields[3]}", path, line=number)
        confidence = None
        if len(fields) == 6 and fields[5].upper() != "NA":
            confidence = _number(fields[5], "confidence", path, number)
        words.append(
            CTMWord(
                fields[0], fields[1], start, duration, fields[4], confidence, fields[2], fields[3], number
            )
        )
    return words


def group_contiguous(
    words: Sequence[CTMWord], path: str | os.PathLike[str] | None, tokens: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Utterance id -> words (or the matching ``tokens``), requiring contiguous utterances.

    sclite walks a CTM file once, so an utterance whose lines are split by another utterance
    makes it fail; we raise :class:`FormatError` naming the line where the id comes back.
    """
    groups: dict[str, list[str]] = {}
    last_line: dict[str, int] = {}
    previous: str | None = None
    for k, word in enumerate(words):
        uid = word.utt_id
        if uid != previous and uid in groups:
            raise FormatError(
                f"lines of utterance {uid!r} are not contiguous "
                f"(its previous block ended at line {last_line[uid]}); "
                "sort the file by utterance id (sclite rejects such files)",
                path,
                line=word.line or None,
            )
        groups.setdefault(uid, []).append(word.word if tokens is None else tokens[k])
        last_line[uid] = word.line
        previous = uid
    return groups


def read_ctm(path: str | os.PathLike[str], *, limits: Limits | None = None) -> dict[str, list[str]]:
    """Utterance id -> words of a CTM file, words in file order (what sclite aligns).

    Raises:
        FormatError: for malformed lines (see :func:`read_ctm_words`) or an utterance whose
            lines are not contiguous.
    """
    return group_contiguous(read_ctm_words(path, limits=limits), path)


def read_hyp(path: str | os.PathLike[str], *, limits: Limits | None = None) -> dict[str, list[str]]:
    """Plain hypothesis file: ``<id> <words...>`` per line (an id alone is an empty hypothesis).

    Lines starting with ``;;`` are comments; blank lines are skipped. ``limits`` bound the
    file's size, line length and line count (see :mod:`slr_metrics.limits`).

    Raises:
        FormatError: (naming file and line) when an id appears twice or the file is over ``limits``.
    """
    return parse_hyp_lines(iter_lines(path, limits), path)


def parse_hyp_lines(lines: Iterable[tuple[int, str]], path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """:func:`read_hyp` on ``(line_number, text)`` pairs already read from ``path``."""
    hyps: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for number, text in lines:
        if text.startswith(";;"):
            continue
        fields = split_ws(text)
        if not fields:
            continue
        uid = fields[0]
        if uid in hyps:
            raise FormatError(
                f"utterance id {uid!r} already appeared at line {first_line[uid]}", path, line=number
            )
        hyps[uid] = fields[1:]
        first_line[uid] = number
    return hyps


def _check_token(value: str, what: str) -> None:
    if not value or split_ws(value) != [value]:
        raise ValueError(f"{what} {value!r} must be non-empty and free of whitespace")


def write_ctm(
    path: str | os.PathLike[str], hyps: Mapping[str, Sequence[str]], *, channel: str = "1", sort: bool = True
) -> None:
    """Write hypotheses as a CTM file, atomically, one word per line.

    Word ``i`` of an utterance gets start :func:`ctm_start_text` (``i / 100``, two decimals) and
    duration ``0.01``. An utterance with no words writes no line (scorers treat it like a
    missing one). With ``sort`` (default) utterances are ordered by id in code-point order
    (``LC_ALL=C sort -k1,1``), the order :func:`slr_metrics.write_stm` uses, so sclite can walk
    both files together.
    """
    _check_token(channel, "channel")
    ids = sorted(hyps) if sort else list(hyps)
    lines: list[str] = []
    for uid in ids:
        _check_token(uid, "utterance id")
        for i, word in enumerate(hyps[uid]):
            _check_token(word, f"word of utterance {uid!r}:")
            lines.append(f"{uid} {channel} {ctm_start_text(i)} 0.01 {word}\n")
    atomic_write_text(path, "".join(lines))


def write_hyp(path: str | os.PathLike[str], hyps: Mapping[str, Sequence[str]], *, sort: bool = True) -> None:
    """Write hypotheses as plain ``<id> <words...>`` lines, atomically (inverse of :func:`read_hyp`)."""
    ids = sorted(hyps) if sort else list(hyps)
    lines = []
    for uid in ids:
        _check_token(uid, "utterance id")
        for word in hyps[uid]:
            _check_token(word, f"word of utterance {uid!r}:")
        lines.append(" ".join([uid, *hyps[uid]]) + "\n")
    atomic_write_text(path, "".join(lines))
