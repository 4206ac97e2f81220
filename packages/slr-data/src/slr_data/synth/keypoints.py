"""Keypoints of the synthetic signer, in TwoStream-SLR's 121-point layout and 256x256 coordinates.

The points are put where the renderer draws the parts (:func:`~slr_data.synth.render.body_geometry`,
:func:`~slr_data.synth.render.video_layout`), with score 1:

* the dominant hand (the glyph, or the skin-coloured hand at rest; drawn on the image's right,
  i.e. the signer's left): left wrist (body point 9) and the left hand (points 79-99), wrist at
  the glyph centre and the fingers fanned out within 0.3 glyph radii of it;
* the non-dominant hand at rest (image left): right wrist (10) and the right hand (100-120);
* the head: nose, eyes, ears (body 0-4), the 48 face points (11-58: jaw, brows, nose, eyes of
  the 68-point face) and the 20 mouth points (59-78), all inside the head ellipse.

Shoulders and elbows (body 5-8) are not drawn (no arms): plausible positions with score
:data:`UNDRAWN_SCORE`.
"""

from __future__ import annotations

import numpy as np

from slr_data.heatmaps import KEYPOINT_GROUPS, NUM_KEYPOINTS
from slr_data.keypoints import TWOSTREAM_FRAME_SIZE
from slr_data.synth.render import REST, BodyGeometry, Timeline, VideoLayout

__all__ = ["UNDRAWN_SCORE", "synthetic_keypoints", "hand_offsets", "face_offsets"]

#: score of the points the renderer does not draw (shoulders, elbows)
UNDRAWN_SCORE = 0.05
_LEFT_HAND = KEYPOINT_GROUPS["hands"].start  # COCO-WholeBody left hand: the signer's left, image right
_RIGHT_HAND = _LEFT_HAND + 21


def hand_offsets() -> np.ndarray:
    """``(21, 2)`` hand points (COCO order: wrist, then 4 joints of thumb .. little finger) as
    offsets in glyph radii: the wrist at 0, the fingers fanned upwards within 0.3."""
    out = np.zeros((21, 2), dtype=np.float64)
    for j in range(1, 21):
        finger, joint = divmod(j - 1, 4)
        angle = -np.pi / 2 + (finger - 2) * 0.35
        distance = 0.12 + 0.06 * joint
        out[j] = distance * np.cos(angle), distance * np.sin(angle)
    return out


def face_offsets() -> np.ndarray:
    """``(68, 2)`` points of the 68-point face (jaw, brows, nose, eyes, mouth) as offsets in head
    radii ``(rx, ry)``; image left is the signer's right, as in the 68-point scheme."""
    points = []
    for k in range(17):  # jaw, from the signer's right (image left) under the chin to the left
        angle = np.pi - k * np.pi / 16
        points.append((0.9 * np.cos(angle), 0.9 * np.sin(angle)))
    for start, stop in ((-0.6, -0.15), (0.15, 0.6)):  # right brow 17-21 (image left), left brow 22-26
        points += [(x, -0.45) for x in np.linspace(start, stop, 5)]
    points += [(0.0, y) for y in np.linspace(-0.3, 0.1, 4)]  # nose bridge 27-30
    points += [(x, 0.2) for x in np.linspace(-0.2, 0.2, 5)]  # nostrils 31-35
    for cx in (-0.35, 0.35):  # right eye 36-41, left eye 42-47
        angles = np.pi - np.arange(6) * np.pi / 3
        points += [(cx + 0.15 * np.cos(a), -0.2 - 0.06 * np.sin(a)) for a in angles]
    for count, rx, ry in ((12, 0.35, 0.12), (8, 0.25, 0.06)):  # outer lip 48-59, inner 60-67
        angles = np.pi - np.arange(count) * 2 * np.pi / count
        points += [(rx * np.cos(a), 0.5 + ry * np.sin(a)) for a in angles]
    return np.asarray(points, dtype=np.float64)


def synthetic_keypoints(timeline: Timeline, layout: VideoLayout, body: BodyGeometry, side: int) -> np.ndarray:
    """``(T, 121, 3)`` float32 ``x, y, score`` in 256x256 pixels (pixel centres) of one video."""
    count = len(layout.x)
    points = np.zeros((count, NUM_KEYPOINTS, 2), dtype=np.float64)
    scores = np.ones((count, NUM_KEYPOINTS), dtype=np.float32)
    (hx, hy), (rx, ry) = body.head, body.head_radii
    head = np.array([hx, hy])
    points[:, 0] = head + (0.0, 0.15 * ry)  # nose
    points[:, 1] = head + (0.35 * rx, -0.2 * ry)  # left eye (image right)
    points[:, 2] = head + (-0.35 * rx, -0.2 * ry)
    points[:, 3] = head + (0.95 * rx, 0.0)  # left ear
    points[:, 4] = head + (-0.95 * rx, 0.0)
    (tx, ty), (ta, tb) = body.torso, body.torso_radii
    shoulders = np.array([[tx + 0.55 * ta, ty - 0.8 * tb], [tx - 0.55 * ta, ty - 0.8 * tb]])
    points[:, 5:7] = shoulders
    hand = np.stack([layout.x, layout.y], axis=-1).astype(np.float64)  # (T, 2)
    rest = np.asarray(body.rest_hand, dtype=np.float64)
    points[:, 7] = 0.5 * (shoulders[0] + hand)  # left elbow, between shoulder and the moving hand
    points[:, 8] = 0.5 * (shoulders[1] + rest)
    scores[:, 5:9] = UNDRAWN_SCORE
    points[:, 9], points[:, 10] = hand, rest
    face = face_offsets() * (rx, ry) + head
    points[:, KEYPOINT_GROUPS["face"]] = face[:48]
    points[:, KEYPOINT_GROUPS["mouth"]] = face[48:]
    radius = layout.radius * np.where(timeline.kind_a == REST, 0.64, 1.0)  # as drawn
    offsets = hand_offsets()
    points[:, _LEFT_HAND : _LEFT_HAND + 21] = hand[:, None] + offsets[None] * radius[:, None, None]
    points[:, _RIGHT_HAND : _RIGHT_HAND + 21] = rest + offsets * body.rest_radius
    out = np.empty((count, NUM_KEYPOINTS, 3), dtype=np.float32)
    scale = np.array(TWOSTREAM_FRAME_SIZE, dtype=np.float64) / side
    out[..., :2] = points * scale - 0.5  # continuous frame coordinates -> 256 px pixel centres
    out[..., 2] = scores
    return out
