"""Named scoring protocols: how references and hypotheses are normalised before alignment.

A :class:`Protocol` works on one utterance (for in-memory scoring and the training-time
accumulator) and on a whole CTM file (for ``score_files``); both give identical words for the
same data, including the official scripts' line-order effects. See the package README for
every rule with an example, and for which published codebases each protocol reproduces.

========================  ====================================================================
``none``                  words as given, sclite alignment.
``phoenix2014``           official PHOENIX-2014 evaluation (hypothesis-side clean-up, ``[EMPTY]``
                          for empty or missing hypotheses, references as they are); also what
                          VAC-style code runs on PHOENIX-2014-T.
``phoenix2014t``          official PHOENIX-2014-T sign-recognition clean-up, both sides, repeats
                          collapsed, ``[EMPTY]`` for empty or missing hypotheses.
``phoenix2014t-vac``      alias of ``phoenix2014`` under the name of the family that uses it.
``phoenix2014-slrt``      SLRT-style: ``clean_phoenix_2014`` on both sides, SLRT's aligner.
``phoenix2014t-slrt``     SLRT-style: ``clean_phoenix_2014_trans`` on both sides, SLRT's aligner.
``csl-daily``             CSL-Daily gloss WER as published: the (UTF-8, Chinese) glosses as given on
                          both sides, no PHOENIX clean-up, empty hypotheses stay empty (all
                          deletions), sclite alignment.
========================  ====================================================================
"""

from __future__ import annotations

import os
from collections import namedtuple
from collections.abc import Callable, Sequence

from slr_metrics.ctm import CTMWord, ctm_start_text, group_contiguous
from slr_metrics.phoenix_rules import (
    EMPTY_TOKEN,
    official_2014_token,
    official_2014t_token,
    slrt_clean_2014,
    slrt_clean_2014t,
)

__all__ = ["Protocol", "PROTOCOLS", "get_protocol", "list_protocols"]

TokenFn = Callable[[str], "str | None"]

# Start times the official sort compares as text stop sorting numerically at word 1000.
_TEXT_SORT_SAFE = 1000


def _identity(words: Sequence[str]) -> list[str]:
    return list(words)


def _collapse_repeats(words: list[str]) -> list[str]:
    out: list[str] = []
    for word in words:
        if not out or out[-1] != word:
            out.append(word)
    return out


_FIELDS = (
    "name",
    "summary",
    "aligner",
    "hyp_token",
    "ref_token",
    "empty_token",
    "sort_by_start_text",
    "collapse_repeats",
    "hyp_words",
    "ref_words",
)
_DEFAULTS = ("sclite", None, None, None, False, False, _identity, _identity)


class Protocol(namedtuple("Protocol", _FIELDS, defaults=_DEFAULTS)):
    """A named normalisation of references and hypotheses (an immutable named tuple).

    Attributes:
        name: registry name (``--protocol``).
        summary: one line for ``--help`` and reports.
        aligner: ``"sclite"`` or ``"slrt"`` (see :mod:`slr_metrics.align`).
        hyp_token: per-token hypothesis rule of an official shell script (``None``: no such rule);
            returns the new token, ``""`` (erased) or ``None`` (line dropped).
        ref_token: the same for references (``None``: references untouched).
        empty_token: word that replaces an empty or missing hypothesis (``None``: leave it empty).
        sort_by_start_text: hypothesis words are ordered by their CTM start field compared as text
            (``sort -k1,1 -k3,3`` in the official PHOENIX-2014 script).
        collapse_repeats: consecutive equal words are merged after the token rules.
        hyp_words: whole-utterance hypothesis rule (SLRT string clean-up), applied after the above.
        ref_words: whole-utterance reference rule.
    """

    __slots__ = ()

    # -- one utterance ------------------------------------------------------------------------
    def normalize_ref(self, words: Sequence[str]) -> list[str]:
        """Reference words as the protocol scores them."""
        out = list(words)
        if self.ref_token is not None:
            out = [t for t in map(self.ref_token, out) if t]
        if self.collapse_repeats and self.ref_token is not None:
            out = _collapse_repeats(out)
        return self.ref_words(out)

    def normalize_hyp(self, words: Sequence[str]) -> list[str]:
        """Hypothesis words of one utterance as scored (``[]`` stands for a missing hypothesis).

        Equal to what the file pipeline gives for the CTM :func:`slr_metrics.write_ctm` writes,
        including the official text sort of start times beyond word 1000.
        """
        if self.hyp_token is None:
            out = list(words)
        else:
            kept = [(i, t) for i, t in enumerate(map(self.hyp_token, words)) if t]
            if self.sort_by_start_text and len(words) > _TEXT_SORT_SAFE:
                kept.sort(key=lambda item: ctm_start_text(item[0]))
            out = [t for _, t in kept]
        if not out and self.empty_token is not None:
            out = [self.empty_token]
        if self.collapse_repeats:
            out = _collapse_repeats(out)
        return self.hyp_words(out)

    # -- a CTM file ---------------------------------------------------------------------------
    def ctm_hyps(
        self, words: Sequence[CTMWord], path: str | os.PathLike[str] | None = None
    ) -> dict[str, list[str]]:
        """Utterance id -> scored hypothesis words for the lines of a CTM file, in file order.

        For the official protocols this replays the script: the token rules line by line, the
        ``awk`` step that appends ``[EMPTY]`` to the last line of an utterance whose words were
        all erased (judged when the id changes, in file order), the sort by id and start text
        where the script sorts, and the repeat collapse. Utterances absent from the file are the
        caller's to fill (with :meth:`normalize_hyp` of ``[]``).

        Raises:
            FormatError: if an utterance's lines are not contiguous where the script does not sort.
        """
        if self.hyp_token is None:
            groups = group_contiguous(words, path)
            return {uid: self.normalize_hyp(tokens) for uid, tokens in groups.items()}

        rows = _awk_fill_empty(words, self.hyp_token, self.empty_token)
        if self.sort_by_start_text:
            # sort -k1,1 -k3,3: id, then start field as text, then the whole line
            rows.sort(key=lambda r: (r[0].utt_id, r[0].start_text, r[0].channel, r[0].duration_text, r[1]))
            groups = {}
            for word, token in rows:
                groups.setdefault(word.utt_id, []).append(token)
        else:
            groups = group_contiguous([w for w, _ in rows], path, [t for _, t in rows])
        out: dict[str, list[str]] = {}
        for uid, tokens in groups.items():
            if self.collapse_repeats:
                tokens = _collapse_repeats(tokens)
            out[uid] = self.hyp_words(tokens)
        return out


def _awk_fill_empty(words: Sequence[CTMWord], rule: TokenFn, empty: str | None) -> list[tuple[CTMWord, str]]:
    """Token rule per line, then the scripts' ``awk`` pass that appends ``[EMPTY]`` lines."""
    rows: list[tuple[CTMWord, str]] = []
    kept: dict[str, int] = {}
    last_id: str | None = None
    last_word: CTMWord | None = None
    for word in words:
        token = rule(word.word)
        if token is None:  # grep -v: awk never sees the line
            continue
        if (
            last_word is not None
            and word.utt_id != last_id
            and kept.get(last_id, 0) < 1
            and empty is not None
        ):
            rows.append((last_word, empty))
        if token:
            kept[word.utt_id] = kept.get(word.utt_id, 0) + 1
            rows.append((word, token))
        last_id, last_word = word.utt_id, word
    return rows


PROTOCOLS: dict[str, Protocol] = {}


def _register(protocol: Protocol) -> Protocol:
    PROTOCOLS[protocol.name] = protocol
    return protocol


_register(Protocol("none", "words as given; sclite alignment"))
_PHOENIX2014 = _register(
    Protocol(
        "phoenix2014",
        "official PHOENIX-2014 evaluation: hypothesis clean-up, [EMPTY] for empty hypotheses, "
        "references as given",
        hyp_token=official_2014_token,
        empty_token=EMPTY_TOKEN,
        sort_by_start_text=True,
    )
)
_register(
    Protocol(
        "phoenix2014t",
        "official PHOENIX-2014-T sign-recognition clean-up on both sides, repeats collapsed, "
        "[EMPTY] for empty hypotheses",
        hyp_token=official_2014t_token,
        ref_token=official_2014t_token,
        empty_token=EMPTY_TOKEN,
        collapse_repeats=True,
    )
)
_register(
    Protocol(
        "phoenix2014t-vac",
        "VAC-style code on PHOENIX-2014-T: the PHOENIX-2014 hypothesis clean-up (same rules as phoenix2014)",
        hyp_token=official_2014_token,
        empty_token=EMPTY_TOKEN,
        sort_by_start_text=True,
    )
)
_register(
    Protocol(
        "phoenix2014-slrt",
        "SLRT-style code on PHOENIX-2014: clean_phoenix_2014 on both sides, SLRT aligner",
        aligner="slrt",
        hyp_words=slrt_clean_2014,
        ref_words=slrt_clean_2014,
    )
)
_register(
    Protocol(
        "phoenix2014t-slrt",
        "SLRT-style code on PHOENIX-2014-T: clean_phoenix_2014_trans on both sides, SLRT aligner",
        aligner="slrt",
        hyp_words=slrt_clean_2014t,
        ref_words=slrt_clean_2014t,
    )
)
_register(
    Protocol(
        "csl-daily",
        "CSL-Daily gloss WER: UTF-8 glosses as given on both sides (no PHOENIX clean-up); sclite alignment",
    )
)


def list_protocols() -> list[str]:
    """Names accepted by ``protocol=`` and ``--protocol``."""
    return list(PROTOCOLS)


def get_protocol(protocol: str | Protocol) -> Protocol:
    """The :class:`Protocol` named ``protocol`` (a :class:`Protocol` is returned as is)."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {list_protocols()}") from None
