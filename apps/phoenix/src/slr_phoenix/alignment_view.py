"""The alignment view of one video as a PNG (matplotlib, Agg).

Top to bottom, on one time axis in the model's output frames:

* a strip of frame thumbnails (at most ``max_thumbnails``, evenly spread, so a 300-frame video
  stays readable), with the frame's keypoints drawn on them when the run has keypoints;
* the per-frame probability of the most likely non-blank gloss and of the blank;
* the hypothesis: each decoded gloss as a bar over the frames where its CTC path fires
  (:mod:`slr_phoenix.ctc_alignment`), labelled without overlaps (:mod:`slr_phoenix.label_layout`);
* for a scored utterance, the reference under it, aligned as in the ``.pra`` file:
  correct (green), substitution (orange), deletion (grey, struck through, placed between the
  hypothesis glosses around it) and insertion (purple, ``***`` on the reference side).

:func:`render_alignment_view` returns the PNG and the layouts it drew (tested instead of pixels).
"""

from __future__ import annotations

import difflib
import functools
import io
import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from slr_phoenix.ctc_alignment import GlossSpan
from slr_phoenix.label_layout import LabelPlacement, layout_labels

__all__ = ["AlignmentView", "RenderedView", "ScoredColumn", "render_alignment_view", "scored_columns",
           "thumbnail_positions"]

EDIT_COLOURS = {"C": "#1a7f37", "S": "#d4670b", "D": "#6e7781", "I": "#8250df", None: "#24292f"}
KEYPOINT_GROUP_COLOURS = (("body", range(0, 11), "#ffd33d"), ("face", range(11, 59), "#58a6ff"),
                          ("mouth", range(59, 79), "#ff7b72"), ("hands", range(79, 121), "#3fb950"))
WIDTH_PX, DPI, LEFT_PX, RIGHT_PX = 1400, 100, 90, 20
FONT_SIZE = 8
LABEL_ROWS = 3


@dataclass(frozen=True)
class ScoredColumn:
    """One column of the scored alignment: ``edit`` (C/S/D/I), the reference and hypothesis words as
    scored (``None`` on the missing side) and the hypothesis span the hypothesis word came from."""

    edit: str
    ref: str | None
    hyp: str | None
    span: int | None


@dataclass(frozen=True)
class AlignmentView:
    """What one view shows.

    Attributes:
        title: heading (video or utterance id).
        probs: ``(T, V)`` per-output-frame probabilities (blank = class ``blank``).
        spans: the decoded glosses and their output frames.
        thumbnails: ``(K, h, w, 3)`` uint8 frames, evenly spread over the video.
        keypoints: ``(K, 121, 3)`` ``x, y, score`` in thumbnail pixels, or ``None``.
        columns: the scored alignment (``None`` for an unscored video).
        blank: blank class id.
        subtitle: one extra line (e.g. decoder and counts).
    """

    title: str
    probs: np.ndarray
    spans: Sequence[GlossSpan]
    thumbnails: np.ndarray
    keypoints: np.ndarray | None = None
    columns: Sequence[ScoredColumn] | None = None
    blank: int = 0
    subtitle: str = ""


@dataclass(frozen=True)
class RenderedView:
    """The PNG and the label layouts drawn: ``hyp_labels`` one per span, ``ref_labels`` one per
    scored column (empty when unscored); positions in output frames."""

    png: bytes
    hyp_labels: list[LabelPlacement] = field(default_factory=list)
    ref_labels: list[LabelPlacement] = field(default_factory=list)


def thumbnail_positions(num_frames: int, max_thumbnails: int) -> np.ndarray:
    """Indices of the frames shown: ``min(num_frames, max_thumbnails)`` cell centres, evenly spread."""
    count = max(1, min(num_frames, max_thumbnails))
    return np.minimum(((np.arange(count) + 0.5) * num_frames / count).astype(np.int64), num_frames - 1)


def _fold(word: str) -> str:
    return word.casefold()


def scored_columns(edits: str, ref: Sequence[str], hyp: Sequence[str],
                   decoded: Sequence[str]) -> list[ScoredColumn]:
    """The scored alignment (``UtteranceResult.edits/ref/hyp``) with each hypothesis word mapped to
    the decoded gloss (span) it came from. The scoring protocol may rewrite, drop or add words,
    so scored and decoded words are matched by a case-insensitive sequence alignment; a scored
    word with no decoded counterpart gets ``span=None``."""
    matcher = difflib.SequenceMatcher(a=[_fold(w) for w in hyp], b=[_fold(w) for w in decoded],
                                      autojunk=False)
    span_of: dict[int, int] = {}
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and a1 - a0 == b1 - b0):  # rewritten one for one (protocol)
            span_of.update({a0 + k: b0 + k for k in range(a1 - a0)})
    columns = []
    r = h = 0
    for edit in edits:
        if edit == "D":
            columns.append(ScoredColumn(edit, ref[r], None, None))
            r += 1
        elif edit == "I":
            columns.append(ScoredColumn(edit, None, hyp[h], span_of.get(h)))
            h += 1
        elif edit in "CS":
            columns.append(ScoredColumn(edit, ref[r], hyp[h], span_of.get(h)))
            r += 1
            h += 1
        else:
            raise ValueError(f"unknown edit {edit!r} in {edits!r}")
    if r != len(ref) or h != len(hyp):
        raise ValueError(f"edits {edits!r} do not cover {len(ref)} reference and {len(hyp)} hypothesis words")
    return columns


def reference_label(column: ScoredColumn) -> str:
    """A reference word as the view writes it: as in the ``.pra`` file (errors upper-case, ``***``
    for an insertion) with the edit after it, e.g. ``nord``, ``REGEN (S)``, ``*** (I)``."""
    if column.edit == "C":
        return (column.ref or "").lower()
    word = "***" if column.ref is None else column.ref.upper()
    return f"{word} ({column.edit})"


def column_centres(columns: Sequence[ScoredColumn], spans: Sequence[GlossSpan],
                   num_frames: int) -> list[float]:
    """Where each scored column sits on the time axis: at its hypothesis span, else spread evenly
    between the anchored columns around it (the video's ends for leading/trailing ones)."""
    anchors = [spans[c.span].centre if c.span is not None else None for c in columns]
    out: list[float] = []
    k = 0
    while k < len(columns):
        if anchors[k] is not None:
            out.append(float(anchors[k]))
            k += 1
            continue
        end = k
        while end < len(columns) and anchors[end] is None:
            end += 1
        lo = out[-1] if out else 0.0
        hi = float(anchors[end]) if end < len(columns) else float(num_frames)
        run = end - k
        out.extend(lo + (hi - lo) * (j + 1) / (run + 1) for j in range(run))
        k = end
    return out


#: fonts tried, in order, for glyphs DejaVu Sans lacks (CSL-Daily's Chinese glosses); Debian: fonts-wqy-zenhei
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "AR PL UMing CN")


@functools.lru_cache(maxsize=1)
def font_families() -> tuple[str, ...]:
    """``DejaVu Sans`` then every installed font of :data:`CJK_FONTS` (matplotlib falls back glyph by
    glyph along this list, so German and Chinese glosses both render)."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return ("DejaVu Sans", *(name for name in CJK_FONTS if name in installed))


def _text_width(renderer, axes_px: float, num_frames: int):
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=FONT_SIZE)
    per_px = num_frames / axes_px

    def width(text: str) -> float:
        px, _, _ = renderer.get_text_width_height_descent(text, prop, ismath=False)
        return (px + 6) * per_px  # a little air on both sides

    return width


def render_alignment_view(view: AlignmentView, *, max_thumbnails: int = 24) -> RenderedView:
    """Draw ``view``; returns the PNG bytes and the label layouts used."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    probs = np.asarray(view.probs, dtype=np.float64)
    num_frames = max(int(probs.shape[0]), 1)
    thumbs = np.asarray(view.thumbnails)
    if thumbs.ndim != 4 or thumbs.shape[-1] != 3 or len(thumbs) == 0:
        raise ValueError(f"thumbnails must be (K, h, w, 3) with K >= 1, got {thumbs.shape}")
    axes_px = WIDTH_PX - LEFT_PX - RIGHT_PX
    cell_px = axes_px / len(thumbs)
    strip_px = max(40.0, min(140.0, cell_px * thumbs.shape[1] / thumbs.shape[2]))
    scored = view.columns is not None
    row_px = 30 + 14 * LABEL_ROWS
    heights = {"title": 52, "strip": strip_px, "gap1": 8, "probs": 150, "gap2": 28, "hyp": row_px,
               "gap3": 6 if scored else 0, "ref": row_px if scored else 0, "bottom": 46}
    total_px = sum(heights.values())
    font_log = logging.getLogger("matplotlib.font_manager")  # "failed to find font weight" for CJK fonts
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with plt.rc_context({"font.family": list(font_families())}):  # a list: glyph-by-glyph fallback
            return _render(plt, view, probs, thumbs, num_frames, axes_px, heights, total_px, scored)
    finally:
        font_log.setLevel(level)


def _render(plt, view: AlignmentView, probs: np.ndarray, thumbs: np.ndarray, num_frames: int, axes_px: float,
            heights: dict[str, float], total_px: float, scored: bool) -> RenderedView:
    fig = plt.figure(figsize=(WIDTH_PX / DPI, total_px / DPI), dpi=DPI)
    try:
        renderer = fig.canvas.get_renderer()
        text_width = _text_width(renderer, axes_px, num_frames)
        top = total_px

        def axes(name: str):
            nonlocal top
            top -= heights[name]
            rect = (LEFT_PX / WIDTH_PX, top / total_px, axes_px / WIDTH_PX, heights[name] / total_px)
            return fig.add_axes(rect)

        def skip(name: str) -> None:
            nonlocal top
            top -= heights[name]

        fig.text(LEFT_PX / WIDTH_PX, 1 - 18 / total_px, view.title, fontsize=11, weight="bold", va="center")
        hyp_text = " ".join(s.gloss for s in view.spans) or "(nothing decoded)"
        if view.subtitle:
            fig.text(1 - RIGHT_PX / WIDTH_PX, 1 - 18 / total_px, view.subtitle, fontsize=FONT_SIZE,
                     va="center", ha="right", color="#57606a")
        hyp_line = f"hyp: {hyp_text}"
        if len(hyp_line) > 230:
            hyp_line = hyp_line[:228] + " …"
        fig.text(LEFT_PX / WIDTH_PX, 1 - 36 / total_px, hyp_line, fontsize=FONT_SIZE, va="center",
                 color="#57606a")
        skip("title")
        strip = axes("strip")
        _draw_strip(strip, thumbs, view.keypoints, num_frames)
        skip("gap1")
        curves = axes("probs")
        _draw_probabilities(curves, probs, view.blank, view.spans)
        skip("gap2")
        hyp_ax = axes("hyp")
        edit_of_span = {c.span: c.edit for c in view.columns or () if c.span is not None}
        hyp_labels = layout_labels([(s.centre, s.gloss) for s in view.spans], text_width=text_width, x_min=0,
                                   x_max=num_frames, rows=LABEL_ROWS)
        _draw_hyp(hyp_ax, view.spans, hyp_labels, edit_of_span if scored else None, num_frames)
        hyp_ax.tick_params(labelbottom=not scored)
        ref_labels: list[LabelPlacement] = []
        if scored:
            skip("gap3")
            ref_ax = axes("ref")
            columns = list(view.columns or ())
            centres = column_centres(columns, view.spans, num_frames)
            texts = [reference_label(c) for c in columns]
            ref_labels = layout_labels(list(zip(centres, texts)), text_width=text_width, x_min=0,
                                       x_max=num_frames, rows=LABEL_ROWS)
            _draw_ref(ref_ax, columns, ref_labels, num_frames)
            ref_ax.set_xlabel("model output frame")
        else:
            hyp_ax.set_xlabel("model output frame")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
        return RenderedView(buffer.getvalue(), hyp_labels, ref_labels)
    finally:
        plt.close(fig)


def _draw_strip(ax, thumbs: np.ndarray, keypoints: np.ndarray | None, num_frames: int) -> None:
    count, height, width = thumbs.shape[:3]
    ax.imshow(np.concatenate(list(thumbs), axis=1), extent=(0, num_frames, 0, 1), aspect="auto",
              interpolation="bilinear")
    cell = num_frames / count
    for k in range(1, count):
        ax.axvline(k * cell, color="white", linewidth=0.6)
    if keypoints is not None:
        points = np.asarray(keypoints, dtype=np.float64)
        for _, group, colour in KEYPOINT_GROUP_COLOURS:
            part = points[:, group]  # (K, n, 3)
            visible = (part[..., 2] > 0) & np.isfinite(part[..., 0]) & np.isfinite(part[..., 1])
            visible &= (part[..., 0] >= 0) & (part[..., 0] < width)
            visible &= (part[..., 1] >= 0) & (part[..., 1] < height)
            ks, js = np.nonzero(visible)
            xs = (ks + (part[ks, js, 0] + 0.5) / width) * cell
            ys = 1 - (part[ks, js, 1] + 0.5) / height
            ax.scatter(xs, ys, s=1.5, c=colour, linewidths=0)
    ax.set_xlim(0, num_frames)
    ax.set_ylim(0, 1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_ylabel("frames", fontsize=FONT_SIZE)


def _draw_probabilities(ax, probs: np.ndarray, blank: int, spans: Sequence[GlossSpan]) -> None:
    frames = np.arange(len(probs)) + 0.5
    non_blank = np.delete(probs, blank, axis=1) if probs.shape[1] > 1 else np.zeros((len(probs), 1))
    for span in spans:
        ax.axvspan(span.start, span.end, color="#ddf4ff", linewidth=0)
    ax.plot(frames, non_blank.max(axis=1), color="#0969da", linewidth=1.2, label="top gloss (non-blank)")
    ax.plot(frames, probs[:, blank], color="#6e7781", linewidth=1.0, linestyle="--", label="blank")
    ax.set_xlim(0, len(probs))
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("probability", fontsize=FONT_SIZE)
    ax.tick_params(labelsize=FONT_SIZE)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=FONT_SIZE, framealpha=0.8)


def _label_y(row: int) -> float:
    return 0.30 + 0.23 * row


def _row_axes(ax, num_frames: int, name: str) -> None:
    ax.set_xlim(0, num_frames)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel(name, fontsize=FONT_SIZE, rotation=0, ha="right", va="center")
    ax.tick_params(labelsize=FONT_SIZE)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _draw_hyp(ax, spans: Sequence[GlossSpan], labels: Sequence[LabelPlacement],
              edit_of_span: dict[int, str] | None, num_frames: int) -> None:
    _row_axes(ax, num_frames, "hypothesis")
    for span, label in zip(spans, labels, strict=True):
        edit = edit_of_span.get(span.index) if edit_of_span is not None else None
        colour = EDIT_COLOURS[edit]
        ax.add_patch(_bar(span.start, span.end - span.start, colour))
        if label.shown:
            y = _label_y(label.row)
            ax.plot([span.centre, label.centre], [0.18, y - 0.07], color=colour, linewidth=0.5)
            ax.text(label.centre, y, label.text, ha="center", va="center", fontsize=FONT_SIZE, color=colour)


def _draw_ref(ax, columns: Sequence[ScoredColumn], labels: Sequence[LabelPlacement], num_frames: int) -> None:
    _row_axes(ax, num_frames, "reference")
    for column, label in zip(columns, labels, strict=True):
        if not label.shown:
            continue
        colour = EDIT_COLOURS[column.edit]
        ax.text(label.centre, _label_y(label.row), label.text, ha="center", va="center", fontsize=FONT_SIZE,
                color=colour, weight="normal" if column.edit == "C" else "bold")
        if column.edit == "D":
            inset = 0.1 * (label.right - label.left)
            ax.plot([label.left + inset, label.right - inset], [_label_y(label.row)] * 2, color=colour,
                    linewidth=0.8)


def _bar(start: float, width: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((start, 0.04), max(width, 0.6), 0.12, facecolor=colour, alpha=0.55, edgecolor=colour)
