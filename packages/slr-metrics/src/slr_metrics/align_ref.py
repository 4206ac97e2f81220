"""Reference implementation of sclite's alignment, transcribed cell by cell from ``net_dp.c``.

Slow and literal on purpose: a full ``(n + 1) x (m + 1)`` cost matrix whose cells hold the
minimum cost and the coordinates of the cell they came from, filled the way sclite fills it
(margins first, then the interior row by row), and a traceback that classifies each step by
comparing coordinates exactly as ``extract_NET_ALIGN_result`` does. The fast
:func:`slr_metrics.align.align_sclite` is tested against this function and against the
``sclite`` binary.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

__all__ = ["align_sclite_ref"]


def _word_cost(a: Hashable | None, b: Hashable | None) -> float:
    """sclite's ``wwd_WORD`` for ordinary words: 0 equal, 4 substitution, 3 insertion/deletion."""
    if a is None or b is None:
        return 3.0
    return 0.0 if a == b else 4.0


def align_sclite_ref(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> str:
    """Edit string (``C``/``S``/``D``/``I`` per column) of sclite's alignment of ``ref`` vs ``hyp``.

    Index 0 of both axes is sclite's added null word, so ``cell[a][b]`` covers ``ref[:a]`` and
    ``hyp[:b]``.
    """
    na, nb = len(ref) + 1, len(hyp) + 1
    min_d = [[0.0] * nb for _ in range(na)]
    back_a = [[-1] * nb for _ in range(na)]
    back_b = [[-1] * nb for _ in range(na)]

    for b in range(1, nb):  # calculate_margin_cells, row a = 0: insertions
        min_d[0][b] = min_d[0][b - 1] + _word_cost(None, hyp[b - 1])
        back_a[0][b], back_b[0][b] = 0, b - 1
    for a in range(1, na):  # column b = 0: deletions
        min_d[a][0] = min_d[a - 1][0] + _word_cost(ref[a - 1], None)
        back_a[a][0], back_b[a][0] = a - 1, 0

    for a in range(1, na):  # calculate_internal_cells
        for b in range(1, nb):
            ins = min_d[a][b - 1] + _word_cost(None, hyp[b - 1])
            dele = min_d[a - 1][b] + _word_cost(ref[a - 1], None)
            sub = min_d[a - 1][b - 1] + _word_cost(ref[a - 1], hyp[b - 1])
            if sub <= dele and sub <= ins:
                min_d[a][b], back_a[a][b], back_b[a][b] = sub, a - 1, b - 1
            elif dele < ins:
                min_d[a][b], back_a[a][b], back_b[a][b] = dele, a - 1, b
            else:
                min_d[a][b], back_a[a][b], back_b[a][b] = ins, a, b - 1

    steps: list[str] = []
    a, b = na - 1, nb - 1
    while a > 0 or b > 0:  # extract_NET_ALIGN_result
        if a == back_a[a][b]:
            steps.append("I")
        elif b == back_b[a][b]:
            steps.append("D")
        else:
            steps.append("C" if ref[a - 1] == hyp[b - 1] else "S")
        a, b = back_a[a][b], back_b[a][b]
    return "".join(reversed(steps))
