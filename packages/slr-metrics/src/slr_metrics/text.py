"""How sclite reads one token, and whitespace splitting as sclite does it.

sclite (default options, 8-bit text) does not compare tokens verbatim. For each token it:

1. lower-cases ASCII letters ``A-Z`` only (``Ä`` and ``ä`` stay different);
2. keeps the part before the first ``;`` that is not escaped by a backslash (``;`` separates
   sclite's word tags), and drops every backslash (``A\\;B`` is the word ``A;B``);
3. drops one trailing ``*`` from a token longer than one character (``B*`` is ``B``).

Syntax that changes the alignment itself is refused instead of approximated, with an error
naming the token: ``@`` (sclite's null word, whose insertion costs 0.001), tokens starting with
``{`` (alternations ``{ A / B }``) and CTM alternation markers ``<ALT_BEGIN>``/``<ALT>``/
``<ALT_END>``. Sign-language glosses never use them.
"""

from __future__ import annotations

from slr_metrics.errors import FormatError

__all__ = ["fold_ascii", "sclite_word", "split_ws", "splits_like_c", "comparison_key", "check_supported"]

# sclite splits on C ``isspace`` characters; Python's str.split() would also split on
# \x1c-\x1f, U+0085, U+00A0, U+3000 and friends.
_C_WS = " \t\n\r\f\v"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WS = None  # the regular expression of C whitespace, compiled on first use (importing re is slow)


def splits_like_c(text: str) -> bool:
    """Whether ``text.split()`` splits ``text`` exactly where C ``isspace`` does: ASCII text
    without ``\\x1c``-``\\x1f`` (true of a whole file means true of each of its lines)."""
    return text.isascii() and not (
        "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text
    )


def split_ws(text: str) -> list[str]:
    """Split on ASCII whitespace (space, tab, newline, CR, FF, VT), dropping empty pieces."""
    if text.isascii() and not ("\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text):
        return text.split()  # for such text str.split() splits on exactly the characters above
    global _WS
    if _WS is None:
        import re

        _WS = re.compile(f"[{_C_WS}]+")
    return [piece for piece in _WS.split(text) if piece]


def fold_ascii(word: str) -> str:
    """Lower-case ``A-Z`` only, as sclite does in its default 8-bit mode."""
    return word.lower() if word.isascii() else word.translate(_ASCII_LOWER)


def sclite_word(token: str) -> str:
    """The text sclite compares for ``token`` (steps 2 and 3 above, case untouched).

    Example: ``sclite_word("B*") == "B"``, ``sclite_word("C;tag") == "C"``.
    """
    if ";" in token or "\\" in token:
        start = 0
        cut = len(token)
        while True:
            pos = token.find(";", start)
            if pos < 0:
                break
            if pos > 0 and token[pos - 1] == "\\":
                start = pos + 1
                continue
            cut = pos
            break
        token = token[:cut].replace("\\", "")
    if len(token) > 1 and token[-1] == "*":
        token = token[:-1]
    return token


def check_supported(token: str, where: str) -> None:
    """Raise :class:`FormatError` if sclite would give ``token`` a meaning we do not reproduce."""
    word = sclite_word(token)
    if word == "@":
        raise FormatError(
            f"{where}: token {token!r} is sclite's null word '@', which slr-metrics does not support"
        )
    if token.startswith("{"):
        raise FormatError(
            f"{where}: token {token!r} starts an sclite alternation '{{ A / B }}', "
            "which slr-metrics does not support"
        )
    if token[:4].upper() == "<ALT":
        raise FormatError(
            f"{where}: token {token!r} is an sclite CTM alternation marker, "
            "which slr-metrics does not support"
        )


def comparison_key(token: str, *, sclite: bool, case_sensitive: bool) -> str:
    """The string two tokens must share to count as the same word.

    ``sclite=True`` applies :func:`sclite_word`; ``case_sensitive=False`` applies
    :func:`fold_ascii`.
    """
    if sclite:
        token = sclite_word(token)
    return token if case_sensitive else fold_ascii(token)
