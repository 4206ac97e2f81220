"""Where a CTC model emits each gloss: its frame path and the spans of the decoded glosses.

The greedy decoder's best path (arg-max class per frame) says directly where each gloss fires.
The beam decoder (:class:`slr_models.CTCBeamDecoder`) returns labels only, so for its hypothesis
:func:`forced_alignment` finds the most likely frame path that collapses to exactly those labels
(CTC Viterbi). :func:`ctc_path` picks the cheaper one: the arg-max path when it already collapses
to the labels (it is then also the Viterbi path), else the forced alignment.

All functions take one video's ``log_probs`` as a ``(T, V)`` numpy array (blank = ``0`` unless
given); ``T`` counts the model's output frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["GlossSpan", "collapse_path", "ctc_path", "forced_alignment", "path_spans"]


@dataclass(frozen=True)
class GlossSpan:
    """One emitted gloss: position ``index`` in the hypothesis, its ``label`` id and ``gloss`` text,
    and the output frames ``[start, end)`` its path occupies (blank frames around it excluded)."""

    index: int
    label: int
    gloss: str
    start: int
    end: int

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2


def collapse_path(path: Sequence[int], blank: int = 0) -> list[int]:
    """Labels of a frame path: repeats collapsed, blanks dropped (``a a - a b`` -> ``a a b``)."""
    out: list[int] = []
    previous = None
    for label in (int(v) for v in path):
        if label != blank and label != previous:
            out.append(label)
        previous = label
    return out


def _min_frames(labels: Sequence[int]) -> int:
    """Frames a CTC path of ``labels`` needs: one per label plus a blank between equal neighbours."""
    return len(labels) + sum(1 for a, b in zip(labels, labels[1:]) if a == b)


def forced_alignment(log_probs: np.ndarray, labels: Sequence[int], blank: int = 0) -> np.ndarray:
    """The most likely frame path of ``log_probs (T, V)`` that collapses to ``labels`` (CTC Viterbi).

    Returns a ``(T,)`` int64 array of classes (``collapse_path(result) == labels``). Ties go to
    staying in the same state, then to the blank before a label. Raises ``ValueError`` when
    ``labels`` cannot be emitted in ``T`` frames or name a class outside ``V`` or the blank.
    """
    scores = np.asarray(log_probs, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"log_probs must be (T, V), got shape {scores.shape}")
    frames, classes = scores.shape
    labels = [int(v) for v in labels]
    if any(v == blank or not 0 <= v < classes for v in labels):
        raise ValueError(f"labels must be non-blank classes below {classes}, got {labels}")
    if _min_frames(labels) > frames:
        raise ValueError(f"{len(labels)} labels need at least {_min_frames(labels)} frames, "
                         f"the output has {frames}")
    if not labels:
        return np.full(frames, blank, dtype=np.int64)
    states = np.full(2 * len(labels) + 1, blank, dtype=np.int64)  # blank l1 blank l2 ... blank
    states[1::2] = labels
    num = len(states)
    skip = np.zeros(num, dtype=bool)  # a label state may be entered from two states back
    skip[3::2] = states[3::2] != states[1:-2:2]
    best = np.full(num, -np.inf)
    best[:2] = scores[0, states[:2]]
    back = np.zeros((frames, num), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, frames):
        stay = best
        step = np.concatenate(([-np.inf], best[:-1]))
        jump = np.where(skip, np.concatenate(([-np.inf, -np.inf], best[:-2])), -np.inf)
        choice = np.where(stay >= step, 0, 1)
        top = np.maximum(stay, step)
        choice = np.where(jump > top, 2, choice)
        best = np.maximum(top, jump) + scores[t, states]
        back[t] = choice
    state = num - 1 if best[num - 1] >= best[num - 2] else num - 2
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = states[state]
        state -= int(back[t, state])
    return path


def ctc_path(log_probs: np.ndarray, labels: Sequence[int], blank: int = 0) -> np.ndarray:
    """A most likely ``(T,)`` frame path for ``labels``: the arg-max (greedy best) path when it
    collapses to ``labels``, else :func:`forced_alignment`."""
    greedy = np.asarray(log_probs).argmax(axis=-1).astype(np.int64)
    if collapse_path(greedy, blank) == [int(v) for v in labels]:
        return greedy
    return forced_alignment(log_probs, labels, blank)


def path_spans(path: Sequence[int], glosses: Sequence[str], blank: int = 0) -> list[GlossSpan]:
    """The spans of a frame path's emitted labels, named by ``glosses`` (one per emitted label,
    e.g. ``Vocabulary.decode(collapse_path(path))``)."""
    spans: list[GlossSpan] = []
    previous = blank
    start = 0
    values = [int(v) for v in path]
    for t, label in enumerate([*values, blank]):
        if label != previous:
            if previous != blank:
                if len(spans) >= len(glosses):
                    raise ValueError(f"the path emits more labels than the {len(glosses)} glosses given")
                spans.append(GlossSpan(len(spans), previous, glosses[len(spans)], start, t))
            start = t
        previous = label
    if len(spans) != len(glosses):
        raise ValueError(f"the path emits {len(spans)} labels, but {len(glosses)} glosses were given")
    return spans
