"""Word alignment of one reference against one hypothesis.

Three aligners, all returning an *edit string*: one character per alignment column, in
reading order, ``"C"`` (correct), ``"S"`` (substitution), ``"D"`` (deletion: a reference word
with no hypothesis word) or ``"I"`` (insertion: a hypothesis word with no reference word).
Words are compared with ``==``; callers map them to comparison keys first (see
:mod:`slr_metrics.text`).

* :func:`align_sclite` - NIST sclite's dynamic programme (``net_dp.c``): substitution 4,
  insertion 3, deletion 3, correct 0; every cell stores one back pointer chosen in the order
  substitution/correct (``<=`` both others), then deletion (``<`` insertion), then insertion;
  the traceback follows those pointers from the last cell. sclite does *not* minimise the
  number of errors: ref ``A B C D E`` vs hyp ``X Y Z A B`` gives C=2 D=3 I=3 (cost 18), where a
  Levenshtein scorer reports S=5 (cost 20 under sclite's weights).
* :func:`align_levenshtein` - unit costs, minimum number of edits; ties broken exactly as
  ``rapidfuzz.distance.Levenshtein.opcodes`` does (what jiwer 4 reports): common prefix and
  suffix removed first, then a traceback from the end that prefers deletion, then insertion,
  then the diagonal.
* :func:`align_slrt` - the weighted scorer of SLRT-style code (``utils/metrics.py``:
  ``wer_single``): costs 4/3/3 in an 8-bit cost matrix (values wrap modulo 256, as with
  ``numpy.uint8``), traceback from the end preferring correct, substitution, insertion,
  deletion.

Reference implementations that transcribe the originals literally live in
:mod:`slr_metrics.align_ref`; the tests check these fast versions against them.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Sequence

__all__ = ["ALIGNERS", "align", "align_levenshtein", "align_sclite", "align_slrt"]

def align_sclite(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> str:
    """sclite's alignment of ``ref`` (length ``n``) and ``hyp`` (length ``m``).

    Runs in O(n * m) time. The programme keeps only the cost rows; the traceback recomputes
    sclite's choice (the back pointer) at each of the ``n + m`` cells it visits from the three
    neighbouring costs, which gives the same pointer as storing it. A common suffix is matched
    without running the programme: at a cell whose two words are equal the diagonal costs 0 and
    neighbouring cells differ by at most 3, so sclite's rule always picks the diagonal there.

    A common prefix of ``k`` words is matched without the programme too when its last word
    ``w`` appears nowhere after it (in ``ref[k:]`` or ``hyp[k:]``; else ``k`` shrinks until that
    holds): costs with both indices at least ``k`` equal the rest's programme (the corner costs 0
    and a margin cell ``(k, j)`` costs ``3 (j - k)``), and a traceback reaching row ``k`` at
    ``j > k`` sees substitution ``3 (j - k) + 4``, deletion ``3 (j - k) + 6`` and insertion
    ``3 (j - k)`` unless ``hyp[j - 1] == w``, so it inserts along the margin to ``(k, k)``, as
    the trimmed traceback does (column ``k`` likewise).
    """
    n, m = len(ref), len(hyp)
    tail = 0
    while tail < n and tail < m and ref[n - 1 - tail] == hyp[m - 1 - tail]:
        tail += 1
    n -= tail
    m -= tail
    head = 0
    while head < n and head < m and ref[head] == hyp[head]:
        head += 1
    while head and (ref[head - 1] in ref[head:n] or ref[head - 1] in hyp[head:m]):
        head -= 1  # see the docstring: only a last prefix word that does not come back is safe
    n -= head
    m -= head
    if n == 0 or m == 0:
        return "C" * head + "D" * n + "I" * m + "C" * tail
    if head or tail:
        ref, hyp = ref[head : head + n], hyp[head : head + m]

    # Cell (i, j) from its diagonal d = (i-1, j-1), up u = (i-1, j) and left (i, j-1) neighbours:
    # the minimum of d (+4 unless the words are equal), u + 3 and left + 3, whichever sclite picks.
    # Equal words always give d (neighbouring cells differ by at most 3); otherwise
    # min(u, left) + 3 beats d + 4 exactly when min(u, left) <= d. (A comprehension: no
    # per-cell method calls.)
    prev = list(range(0, 3 * m + 1, 3))  # costs of row 0 (insertions only), columns 0..m
    rows: list = [prev]
    compact = n * m > 1 << 16  # long utterances: rows kept as 4-byte arrays (a list costs 8-36 bytes a cell)
    for word in ref:
        left = prev[0] + 3  # column 0: deletions only
        cur = [left]
        cur += [
            left := d if other == word else (b + 3 if (b := u if u < left else left) <= d else d + 4)
            for d, u, other in zip(prev, prev[1:], hyp)
        ]
        rows.append(array("i", cur) if compact else cur)
        prev = cur

    # Traceback: sclite takes the diagonal if it is the cheapest (always so for equal words),
    # else the deletion if it is strictly cheaper than the insertion, else the insertion.
    out: list[str] = []
    i, j = n, m
    while i and j:
        if ref[i - 1] == hyp[j - 1]:
            i -= 1
            j -= 1
            out.append("C")
            continue
        cost = rows[i][j]
        if cost == rows[i - 1][j - 1] + 4:
            i -= 1
            j -= 1
            out.append("S")
        elif cost == rows[i][j - 1] + 3:
            j -= 1
            out.append("I")
        else:
            i -= 1
            out.append("D")
    out.append("D" * i + "I" * j)  # row 0 holds insertions, column 0 deletions
    return "C" * head + "".join(reversed(out)) + "C" * tail


def align_levenshtein(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> str:
    """Minimum-edit alignment with rapidfuzz's tie breaking (the breakdown jiwer 4 reports)."""
    n, m = len(ref), len(hyp)
    head = 0
    while head < n and head < m and ref[head] == hyp[head]:
        head += 1
    tail = 0
    while tail < n - head and tail < m - head and ref[n - 1 - tail] == hyp[m - 1 - tail]:
        tail += 1
    a = ref[head : n - tail]
    b = hyp[head : m - tail]
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return "C" * head + "D" * n + "I" * m + "C" * tail

    # dist[i][j]: edits between a[:i] and b[:j]; rows kept as 4-byte arrays for the traceback
    # (a list of Python ints would take 8-36 bytes per cell), computed on lists.
    above = list(range(m + 1))
    dist = [array("i", above)]
    for i in range(1, n + 1):
        word = a[i - 1]
        row = [i]
        left = i
        for j in range(1, m + 1):
            best = above[j - 1] if b[j - 1] == word else above[j - 1] + 1
            if above[j] + 1 < best:
                best = above[j] + 1
            if left + 1 < best:
                best = left + 1
            row.append(best)
            left = best
        dist.append(array("i", row))
        above = row

    out: list[str] = []
    i, j = n, m
    while i and j:
        if dist[i][j] - dist[i - 1][j] == 1:  # rapidfuzz: VP bit set -> delete
            i -= 1
            out.append("D")
            continue
        j -= 1
        if j and dist[i][j] - dist[i - 1][j] == -1:  # VN bit of the previous column -> insert
            out.append("I")
            continue
        i -= 1
        out.append("C" if a[i] == b[j] else "S")
    out.append("D" * i + "I" * j)
    return "C" * head + "".join(reversed(out)) + "C" * tail


def align_slrt(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> str:
    """SLRT-style weighted alignment (costs 4/3/3 in a wrapping 8-bit matrix)."""
    n, m = len(ref), len(hyp)
    above = [(3 * j) & 0xFF for j in range(m + 1)]
    d = [bytearray(above)]  # 8-bit values: one byte per cell for the traceback
    for i in range(1, n + 1):
        word = ref[i - 1]
        row = [(3 * i) & 0xFF]
        for j in range(1, m + 1):
            if hyp[j - 1] == word:
                row.append(above[j - 1])
            else:
                row.append(min((above[j - 1] + 4) & 0xFF, (row[j - 1] + 3) & 0xFF, (above[j] + 3) & 0xFF))
        d.append(bytearray(row))
        above = row

    out: list[str] = []
    x, y = n, m
    limit = 3 * (n + m)
    while (x > 0 or y > 0) and len(out) <= limit:
        if x >= 1 and y >= 1 and d[x][y] == d[x - 1][y - 1] and ref[x - 1] == hyp[y - 1]:
            out.append("C")
            x, y = x - 1, y - 1
        elif x >= 1 and y >= 1 and d[x][y] == (d[x - 1][y - 1] + 4) & 0xFF:
            out.append("S")
            x, y = x - 1, y - 1
        elif y >= 1 and d[x][y] == (d[x][y - 1] + 3) & 0xFF:
            out.append("I")
            y -= 1
        else:
            out.append("D")
            x = max(x - 1, 0)
    return "".join(reversed(out))


ALIGNERS = {"sclite": align_sclite, "levenshtein": align_levenshtein, "slrt": align_slrt}


def align(ref: Sequence[Hashable], hyp: Sequence[Hashable], method: str = "sclite") -> str:
    """Edit string of ``ref`` against ``hyp`` with the named aligner (see module docstring)."""
    try:
        fn = ALIGNERS[method]
    except KeyError:
        raise ValueError(f"unknown aligner {method!r}; choose one of {sorted(ALIGNERS)}") from None
    return fn(ref, hyp)
