"""The alignment view: label layout (no overlaps), scored columns, the rendered PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from slr_phoenix.alignment_view import (
    AlignmentView,
    ScoredColumn,
    column_centres,
    reference_label,
    render_alignment_view,
    scored_columns,
    thumbnail_positions,
)
from slr_phoenix.ctc_alignment import GlossSpan
from slr_phoenix.label_layout import layout_labels, overlaps


def _width(text: str) -> float:
    return float(len(text))


def test_labels_of_wide_spans_stay_in_the_first_row_centred_on_them():
    placed = layout_labels([(10.0, "AB"), (30.0, "CDEF")], text_width=_width, x_min=0, x_max=100)
    assert [(p.row, p.left, p.right) for p in placed] == [(0, 9.0, 11.0), (0, 28.0, 32.0)]


def test_labels_of_narrow_neighbouring_spans_are_staggered_then_skipped():
    labels = [(5.0 + k, f"GLOSS{k}") for k in range(6)]  # 6 labels of width 6, one frame apart
    placed = layout_labels(labels, text_width=_width, x_min=0, x_max=100, rows=3, gap=0.5)
    assert [p.row for p in placed] == [0, 1, 2, None, None, None]
    assert overlaps(placed, gap=0.5) == []
    assert [p.index for p in placed] == list(range(6))  # input order, whatever the placement order
    # with room to the side, a later label reuses the first row
    placed = layout_labels([*labels, (40.0, "LATER")], text_width=_width, x_min=0, x_max=100, rows=3)
    assert placed[-1].row == 0


def test_labels_are_clamped_into_the_axis():
    left, right = layout_labels([(0.0, "ABCD"), (100.0, "WXYZ")], text_width=_width, x_min=0, x_max=100)
    assert (left.left, right.right) == (0.0, 100.0)
    wide = layout_labels([(50.0, "X" * 200)], text_width=_width, x_min=0, x_max=100)[0]
    assert wide.left == 0.0 and wide.shown


@pytest.mark.parametrize("seed", range(5))
def test_random_layouts_never_overlap(seed):
    rng = np.random.default_rng(seed)
    labels = [(float(x), "G" * int(n)) for x, n in zip(rng.uniform(0, 300, 80), rng.integers(1, 12, 80))]
    placed = layout_labels(labels, text_width=_width, x_min=0, x_max=300, rows=3, gap=1.0)
    assert overlaps(placed, gap=1.0) == []
    assert all(0 <= p.left and p.right <= 300 for p in placed)
    assert any(not p.shown for p in placed) and sum(p.shown for p in placed) > 20


def test_overlaps_reports_colliding_labels():
    from slr_phoenix.label_layout import LabelPlacement

    bad = [LabelPlacement(0, "A", 0, 5, 0), LabelPlacement(1, "B", 4, 9, 0), LabelPlacement(2, "C", 4, 9, 1)]
    assert overlaps(bad) == [(0, 1)]


def test_scored_words_are_mapped_back_to_the_decoded_glosses():
    # the protocol rewrote loc-NORD to NORD and dropped __EMOTION__; scored words are folded case
    decoded = ["loc-NORD", "__EMOTION__", "REGEN", "WIND"]
    columns = scored_columns("CSDI", ["NORD", "SONNE", "KALT"], ["nord", "regen", "wind"], decoded)
    assert columns == [ScoredColumn("C", "NORD", "nord", None), ScoredColumn("S", "SONNE", "regen", 2),
                       ScoredColumn("D", "KALT", None, None), ScoredColumn("I", None, "wind", 3)]
    same = scored_columns("CC", ["A", "B"], ["x", "y"], ["X2", "Y2"])  # rewritten one for one
    assert [c.span for c in same] == [0, 1]
    with pytest.raises(ValueError, match="do not cover"):
        scored_columns("C", ["A", "B"], ["A"], ["A"])
    assert [reference_label(c) for c in columns] == ["nord", "SONNE (S)", "KALT (D)", "*** (I)"]


def test_deleted_reference_words_sit_between_their_neighbours():
    spans = [GlossSpan(0, 1, "A", 10, 12), GlossSpan(1, 2, "B", 30, 32)]
    columns = [ScoredColumn("D", "X", None, None), ScoredColumn("C", "A", "a", 0),
               ScoredColumn("D", "Y", None, None), ScoredColumn("D", "Z", None, None),
               ScoredColumn("C", "B", "b", 1), ScoredColumn("D", "W", None, None)]
    expected = [5.5, 11.0, 11 + 20 / 3, 11 + 40 / 3, 31.0, 45.5]  # two deletions share the gap
    assert column_centres(columns, spans, 60) == pytest.approx(expected)


def test_thumbnails_are_spread_over_the_video():
    assert thumbnail_positions(300, 24).tolist() == [int((k + 0.5) * 12.5) for k in range(24)]
    assert thumbnail_positions(5, 24).tolist() == [0, 1, 2, 3, 4]
    assert thumbnail_positions(1, 24).tolist() == [0]


def _view(num_frames: int, num_spans: int, scored: bool, keypoints: bool = False) -> AlignmentView:
    rng = np.random.default_rng(num_frames)
    starts = np.sort(rng.choice(np.arange(0, num_frames - 1, 2), size=num_spans, replace=False))
    spans = [GlossSpan(k, 1 + k % 5, f"GLOSS-{k}", int(s), int(s) + 1 + k % 2) for k, s in enumerate(starts)]
    probs = rng.dirichlet(np.ones(6), size=num_frames)
    thumbs = rng.integers(0, 255, size=(24, 48, 40, 3), dtype=np.uint8)
    points = None
    if keypoints:
        points = np.concatenate([rng.uniform(0, 40, (24, 121, 2)), np.ones((24, 121, 1))], axis=2)
    columns = None
    if scored:
        columns = [ScoredColumn("C" if k % 3 else "S", f"REF-{k}", f"gloss-{k}", k) for k in range(num_spans)]
        columns.insert(1, ScoredColumn("D", "DELETED", None, None))
    return AlignmentView("video <1> & co", probs, spans, thumbs, points, columns, subtitle="beam-5 decoding")


@pytest.mark.parametrize(("frames", "spans", "scored", "keypoints"),
                         [(300, 60, True, True), (12, 3, False, False), (80, 0, True, False)])
def test_the_rendered_view_is_a_png_with_the_layout_it_computed(frames, spans, scored, keypoints):
    view = _view(frames, spans, scored, keypoints)
    rendered = render_alignment_view(view)
    image = Image.open(io.BytesIO(rendered.png))
    image.load()
    assert image.format == "PNG" and image.size[0] == 1400 and image.size[1] > 300
    assert [p.text for p in rendered.hyp_labels] == [s.gloss for s in view.spans]
    assert overlaps(rendered.hyp_labels) == [] and overlaps(rendered.ref_labels) == []
    if scored:
        assert [p.text for p in rendered.ref_labels] == [reference_label(c) for c in view.columns]
    else:
        assert rendered.ref_labels == []
    if spans == 60:  # 60 glosses on 300 frames: some are too crowded to label, the rest stagger
        rows = {p.row for p in rendered.hyp_labels}
        assert None in rows and {0, 1, 2} <= rows


def test_a_view_needs_thumbnails():
    view = _view(12, 3, False)
    with pytest.raises(ValueError, match="thumbnails must be"):
        render_alignment_view(AlignmentView("x", view.probs, view.spans, np.zeros((0, 4, 4, 3), np.uint8)))


def test_chinese_glosses_render_with_a_cjk_font_where_one_is_installed():
    import warnings

    from slr_phoenix.alignment_view import font_families

    if len(font_families()) == 1:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-wqy-zenhei, as .ci/run does)")
    view = _view(40, 4, True)
    spans = [GlossSpan(s.index, s.label, gloss, s.start, s.end)
             for s, gloss in zip(view.spans, ["我", "明天", "去", "北京"])]
    view = AlignmentView("S000001_P0000_T00", view.probs, spans, view.thumbnails, None, view.columns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rendered = render_alignment_view(view)
    assert [p.text for p in rendered.hyp_labels] == ["我", "明天", "去", "北京"]
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
