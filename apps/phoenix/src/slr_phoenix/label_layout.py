"""Non-overlapping text labels along a time axis (the gloss rows of an alignment view).

Labels are placed in axis units (frames): each wants to be centred on its span, is
``text_width(text)`` wide (the view measures the rendered text), and goes into the lowest of
``rows`` rows where it keeps ``gap`` from the label before it; a label that fits in no row is
not shown (``row is None``). The view draws exactly this layout, so "labels never overlap" is a
property of these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

__all__ = ["LabelPlacement", "layout_labels", "overlaps"]


@dataclass(frozen=True)
class LabelPlacement:
    """Label ``index`` (its position in the input) with ``text`` over ``[left, right)``, in ``row``
    (0 nearest the spans) or not shown (``row is None``)."""

    index: int
    text: str
    left: float
    right: float
    row: int | None

    @property
    def centre(self) -> float:
        return (self.left + self.right) / 2

    @property
    def shown(self) -> bool:
        return self.row is not None


def layout_labels(labels: Sequence[tuple[float, str]], *, text_width: Callable[[str], float], x_min: float,
                  x_max: float, rows: int = 3, gap: float = 0.0) -> list[LabelPlacement]:
    """Place ``(centre, text)`` labels without overlaps; returns one placement per label, in input order.

    Labels are taken by increasing centre; each is clamped into ``[x_min, x_max]`` (a label wider
    than the axis is left-aligned at ``x_min``) and put in the first row whose last label ends at
    least ``gap`` before it.
    """
    if rows < 1 or x_max <= x_min:
        raise ValueError(f"need rows >= 1 and x_max > x_min, got {rows}, [{x_min}, {x_max}]")
    row_end = [float("-inf")] * rows
    placed: dict[int, LabelPlacement] = {}
    for index in sorted(range(len(labels)), key=lambda k: (labels[k][0], k)):
        centre, text = labels[index]
        width = float(text_width(text))
        if not width > 0:
            raise ValueError(f"text_width({text!r}) = {width}: must be positive")
        left = min(max(centre - width / 2, x_min), x_max - width)
        left = max(left, x_min)
        row = next((r for r in range(rows) if left >= row_end[r] + gap), None)
        if row is not None:
            row_end[row] = left + width
        placed[index] = LabelPlacement(index, text, left, left + width, row)
    return [placed[k] for k in range(len(labels))]


def overlaps(placements: Sequence[LabelPlacement], gap: float = 0.0) -> list[tuple[int, int]]:
    """Pairs of shown labels in the same row closer than ``gap`` (empty for a valid layout)."""
    shown = sorted((p for p in placements if p.shown), key=lambda p: (p.row, p.left))
    return [(a.index, b.index) for a, b in zip(shown, shown[1:]) if a.row == b.row and b.left < a.right + gap]
