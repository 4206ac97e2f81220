"""Gloss clean-up rules of the PHOENIX evaluation scripts, one function per published rule set.

The official scripts are shell pipelines (``sed``/``grep``/``perl``/``awk``) that run over CTM
*lines*, one hypothesis word per line, case-sensitively. A rule written over several words
(``WIE AUSSEHEN`` -> ``WIE-AUSSEHEN``, single letters joined with ``+``, ``perl`` collapsing of
repeated words) therefore never fires on CTM input, and the rules reduce to the per-token
functions below. Each function returns the cleaned token, ``""`` when the token is erased (the
line survives ``grep`` but ``awk`` drops it for its empty word field) or ``None`` when ``grep -v``
drops the line.

SLRT-style code instead cleans whole space-joined strings in Python, where the multi-word rules
do fire; :func:`slrt_clean_2014` and :func:`slrt_clean_2014t` reproduce those regular
expressions in order.
"""

from __future__ import annotations

from itertools import groupby

__all__ = [
    "EMPTY_TOKEN",
    "official_2014_token",
    "official_2014t_token",
    "slrt_clean_2014",
    "slrt_clean_2014t",
]

#: Word the official scripts put in place of an empty or missing hypothesis.
EMPTY_TOKEN = "[EMPTY]"

# --- official PHOENIX-2014 (evaluation/preprocess.sh), per CTM line ------------------------------
_P2014_LITERAL = (
    ("loc-", ""),
    ("cl-", ""),
    ("qu-", ""),
    ("poss-", ""),
    ("lh-", ""),
    ("S0NNE", "SONNE"),
    ("HABEN2", "HABEN"),
    ("__EMOTION__", ""),
    ("__PU__", ""),
    ("__LEFTHAND__", ""),
)
_P2014_RAUM = r"([A-Z][A-Z])RAUM"  # sed 's,\([A-Z][A-Z]\)RAUM,\1,g' (C locale)
_GREP_DROP = ("__LEFTHAND__", "__EPENTHESIS__", "__EMOTION__")


def official_2014_token(token: str) -> str | None:
    """One hypothesis token through the official PHOENIX-2014 ``preprocess.sh``.

    In order (all case-sensitive, every occurrence): remove ``loc-``, ``cl-``, ``qu-``,
    ``poss-``, ``lh-`` anywhere (``loc-NORD`` -> ``NORD``, ``NICHT-cl-KOMMEN`` -> ``NICHT-KOMMEN``);
    ``S0NNE`` -> ``SONNE``; ``HABEN2`` -> ``HABEN``; erase ``__EMOTION__``, ``__PU__``,
    ``__LEFTHAND__``; a token ending in ``ZEIGEN`` gets ``-BILDSCHIRM`` (``ZEIGEN`` ->
    ``ZEIGEN-BILDSCHIRM``, and also ``ANZEIGEN`` -> ``ANZEIGEN-BILDSCHIRM``: the ``sed`` patterns
    ``ZEIGEN `` / ``ZEIGEN$`` match any line whose word ends so); ``RAUM`` after two capitals is
    removed (``NORDRAUM`` -> ``NORD``, ``SUEDOSTRAUM`` -> ``SUEDOST``); ``-PLUSPLUS`` is
    removed (``REGEN-PLUSPLUS`` -> ``REGEN``). Then ``grep -v`` drops the line if the token still
    holds ``__LEFTHAND__``, ``__EPENTHESIS__`` or ``__EMOTION__`` (so ``__EPENTHESIS__`` is
    dropped). ``__ON__``, ``__OFF__`` and every other token stay.
    """
    for old, new in _P2014_LITERAL:
        if old in token:
            token = token.replace(old, new)
    if token.endswith("ZEIGEN"):
        token += "-BILDSCHIRM"
    if "RAUM" in token:
        token = _RX.p2014_raum.sub(r"\1", token)
    if "-PLUSPLUS" in token:
        token = token.replace("-PLUSPLUS", "")
    if "__" in token and any(marker in token for marker in _GREP_DROP):
        return None
    return token


# --- official PHOENIX-2014-T (evaluation/sign-recognition/preprocess.sh), per CTM line ----------
_P2014T_DUNDER = r"__[^_ ]*__"  # grep -v -e ' __[^_ ]*__$' (the whole word)
_P2014T_RAUM = r"\b([A-Z][A-Z]*)RAUM$"  # sed 's,\b\([A-Z][A-Z]*\)RAUM$,\1,g' (re.ASCII)


def official_2014t_token(token: str) -> str | None:
    """One token through the official PHOENIX-2014-T sign-recognition ``preprocess.sh``.

    In order: ``grep -v`` drops tokens holding ``__LEFTHAND__``, ``__EPENTHESIS__`` or
    ``__EMOTION__`` and every token of the form ``__X__`` without ``_`` inside ``X``
    (``__ON__``, ``__OFF__``, ``__PU__``); a leading ``loc-`` is removed (``loc-NORD`` ->
    ``NORD``); a trailing ``-PLUSPLUS`` is removed; a leading ``cl-`` is removed; a trailing
    ``RAUM`` after one or more capitals that start a word is removed (``NORDRAUM`` -> ``NORD``,
    ``RAUM`` stays). Repeats are collapsed per utterance by the caller.
    """
    if "__" in token:
        if any(marker in token for marker in _GREP_DROP) or _RX.p2014t_dunder.fullmatch(token):
            return None
    if token.startswith("loc-"):
        token = token[4:]
    if token.endswith("-PLUSPLUS"):
        token = token[:-9]
    if token.startswith("cl-"):
        token = token[3:]
    if token.endswith("RAUM"):
        token = _RX.p2014t_raum.sub(r"\1", token)
    return token


# --- SLRT-style Python clean-up (utils/phoenix_cleanup.py), on whole strings -------------------
_JOIN_LETTERS = (
    (r"^([A-Z]) ([A-Z][+ ])", r"\1+\2"),
    (r"[ +]([A-Z]) ([A-Z]) ", r" \1+\2 "),
    (r"([ +][A-Z]) ([A-Z][ +])", r"\1+\2"),
    (r"([ +][A-Z]) ([A-Z][ +])", r"\1+\2"),
    (r"([ +][A-Z]) ([A-Z][ +])", r"\1+\2"),
    (r"([ +]SCH) ([A-Z][ +])", r"\1+\2"),
    (r"([ +]NN) ([A-Z][ +])", r"\1+\2"),
    (r"([ +][A-Z]) (NN[ +])", r"\1+\2"),
    (r"([ +][A-Z]) ([A-Z])$", r"\1+\2"),
)
_COLLAPSE = (r"(?<![\w-])(\b[A-Z]+(?![\w-])) \1(?![\w-])", r"\1")
_SLRT_2014 = (
    (r"loc-", ""),
    (r"cl-", ""),
    (r"qu-", ""),
    (r"poss-", ""),
    (r"lh-", ""),
    (r"S0NNE", "SONNE"),
    (r"HABEN2", "HABEN"),
    (r"__EMOTION__", ""),
    (r"__PU__", ""),
    (r"__LEFTHAND__", ""),
    (r"WIE AUSSEHEN", "WIE-AUSSEHEN"),
    (r"ZEIGEN ", "ZEIGEN-BILDSCHIRM "),
    (r"ZEIGEN$", "ZEIGEN-BILDSCHIRM"),
    *_JOIN_LETTERS,
    (r"([A-Z][A-Z])RAUM", r"\1"),
    (r"-PLUSPLUS", ""),
    (r" +", " "),
    _COLLAPSE,
    _COLLAPSE,
    _COLLAPSE,
    _COLLAPSE,
    (r" +", " "),
)
_SLRT_2014T = (
    (r"__LEFTHAND__", ""),
    (r"__EPENTHESIS__", ""),
    (r"__EMOTION__", ""),
    (r"\b__[^_ ]*__\b", ""),
    (r"\bloc-([^ ]*)\b", r"\1"),
    (r"\bcl-([^ ]*)\b", r"\1"),
    (r"\b([^ ]*)-PLUSPLUS\b", r"\1"),
    (r"\b([A-Z][A-Z]*)RAUM\b", r"\1"),
    (r"WIE AUSSEHEN", "WIE-AUSSEHEN"),
    *_JOIN_LETTERS,
    (r" +", " "),
    _COLLAPSE,
    _COLLAPSE,
    _COLLAPSE,
    _COLLAPSE,
    (r" +", " "),
)


class _Compiled:
    """The regular expressions above, compiled on first use (importing :mod:`re` would cost
    ``slr-score`` more time than scoring a test set with a protocol that needs none)."""

    def __getattr__(self, name: str):
        import re

        if name == "p2014_raum":
            value = re.compile(_P2014_RAUM)
        elif name == "p2014t_dunder":
            value = re.compile(_P2014T_DUNDER)
        elif name == "p2014t_raum":
            value = re.compile(_P2014T_RAUM, re.ASCII)
        elif name in ("slrt_2014", "slrt_2014t"):
            value = tuple((re.compile(p), r) for p, r in (_SLRT_2014 if name == "slrt_2014" else _SLRT_2014T))
        else:
            raise AttributeError(name)
        setattr(self, name, value)
        return value


_RX = _Compiled()


def _apply(rules: tuple, text: str) -> str:
    text = text.strip()
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def _dedupe(text: str) -> list[str]:
    # SLRT: " ".join(" ".join(i[0] for i in groupby(text.split(" "))).split())
    return " ".join(k for k, _ in groupby(text.split(" "))).split()


def slrt_clean_2014(words: list[str]) -> list[str]:
    """SLRT's ``clean_phoenix_2014`` on ``" ".join(words)``, split back into words.

    Multi-word rules fire here: ``WIE AUSSEHEN`` -> ``WIE-AUSSEHEN``, ``A B C`` (single
    letters) -> ``A+B+C``, repeated words collapse. Like the original, raises if
    ``__EPENTHESIS__`` survives (that function never removes it and then asserts).
    """
    text = _apply(_RX.slrt_2014, " ".join(words))
    for marker in _GREP_DROP:
        if marker in text:
            raise ValueError(
                f"SLRT's clean_phoenix_2014 fails on {marker} (it asserts the marker is gone): {text!r}"
            )
    return _dedupe(text)


def slrt_clean_2014t(words: list[str]) -> list[str]:
    """SLRT's ``clean_phoenix_2014_trans`` on ``" ".join(words)``, split back into words.

    Erases ``__LEFTHAND__``, ``__EPENTHESIS__``, ``__EMOTION__`` and every ``__X__`` word,
    strips ``loc-``/``cl-`` prefixes, ``-PLUSPLUS`` and ``RAUM`` suffixes, joins single letters
    with ``+``, collapses repeats.
    """
    return _dedupe(_apply(_RX.slrt_2014t, " ".join(words)))
