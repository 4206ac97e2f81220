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

import math
import os
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby, repeat
from operator import itemgetter

from slr_metrics.errors import FormatError
from slr_metrics.fileio import atomic_write_text, iter_lines
from slr_metrics.limits import Limits
from slr_metrics.text import split_ws, splits_like_c

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


_CTM_FIELDS = (
    "utt_id", "channel", "start", "duration", "word", "confidence", "start_text", "duration_text", "line"
)


class CTMWord(namedtuple("CTMWord", _CTM_FIELDS, defaults=(None, "", "", 0))):
    """One CTM line (an immutable named tuple).

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

    __slots__ = ()


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
    lines = list(lines)
    words = _parse_plain_ctm(lines)
    if words is not None:
        return words
    words = []
    append = words.append
    new = tuple.__new__  # CTMWord(...) without its Python-level __new__: this loop is slr-score's busiest
    for number, text in lines:
        if text[:1] == ";":
            continue
        fields = split_ws(text)
        count = len(fields)
        if count != 5 and count != 6:
            if not fields:
                continue
            raise FormatError(
                "expected '<id> <channel> <start> <duration> <word> [<confidence>]', "
                f"got {count} field(s)",
                path,
                line=number,
            )
        try:
            start = float(fields[2])
            duration = float(fields[3])
        except ValueError:
            start = duration = math.nan
        if not duration >= 0 or start != start:  # NaN, negative or not a number: say which
            start = _number(fields[2], "start time", path, number)
            duration = _number(fields[3], "duration", path, number)
            raise FormatError(f"negative duration {fields[3]}", path, line=number)
        confidence = None
        if count == 6 and fields[5].upper() != "NA":
            confidence = _number(fields[5], "confidence", path, number)
        uid, channel, start_text, duration_text, word = fields[:5]
        row = (uid, channel, start, duration, word, confidence, start_text, duration_text, number)
        append(new(CTMWord, row))
    return words


def _parse_plain_ctm(lines: list[tuple[int, str]]) -> list[CTMWord] | None:
    """:func:`parse_ctm_lines` of the common file, column by column: every line ASCII with 5
    fields, no comment, blank or bad line; ``None`` for any other file (read line by line)."""
    if not lines:
        return []
    numbers, texts = zip(*lines)
    joined = "\n".join(texts)
    if ";" in joined or not splits_like_c(joined):
        return None
    rows = list(map(str.split, texts))
    if set(map(len, rows)) != {5}:
        return None
    ids, channels, start_texts, duration_texts, tokens = zip(*rows)
    try:
        starts = list(map(float, start_texts))
        durations = list(map(float, duration_texts))
    except ValueError:
        return None
    if any(map(math.isnan, starts)) or any(map(math.isnan, durations)) or min(durations) < 0:
        return None
    confidences = repeat(None)
    columns = zip(ids, channels, starts, durations, tokens, confidences, start_texts, duration_texts, numbers)
    return list(map(tuple.__new__, repeat(CTMWord), columns))


def group_contiguous(
    words: Sequence[CTMWord], path: str | os.PathLike[str] | None, tokens: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """Utterance id -> words (or the matching ``tokens``), requiring contiguous utterances.

    sclite walks a CTM file once, so an utterance whose lines are split by another utterance
    makes it fail; we raise :class:`FormatError` naming the line where the id comes back.
    """
    groups: dict[str, list[str]] = {}
    last_line: dict[str, int] = {}  # last line of each block
    if tokens is None:  # block by block (groupby and the word column run in C)
        for uid, block in groupby(words, key=itemgetter(0)):
            block = list(block)
            if uid in groups:
                _not_contiguous(uid, last_line[uid], path, block[0].line)
            groups[uid] = list(map(itemgetter(4), block))
            last_line[uid] = block[-1].line
        return groups
    previous: str | None = None
    current: list[str] = []
    line = 0
    for k, word in enumerate(words):
        uid = word.utt_id
        if uid != previous:
            if uid in groups:
                _not_contiguous(uid, last_line[uid], path, word.line)
            if previous is not None:
                last_line[previous] = line
            current = groups[uid] = []
            previous = uid
        current.append(tokens[k])
        line = word.line
    return groups


def _not_contiguous(uid: str, last: int, path: str | os.PathLike[str] | None, line: int):
    raise FormatError(
        f"lines of utterance {uid!r} are not contiguous (its previous block ended at line {last}); "
        "sort the file by utterance id (sclite rejects such files)",
        path,
        line=line or None,
    )


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
