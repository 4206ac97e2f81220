"""Rendering synthetic signing videos (vectorised numpy, one call per video).

A frame shows a signer (background with clutter, clothed torso, head, the non-dominant hand at
rest) and the dominant "hand": a coloured glyph whose shape x colour x motion is the gloss's
signature. Between signs, transition frames move the hand from the end of one sign to the start
of the next while cross-fading the two glyphs (co-articulation). Per-signer scale, position and
speed, per-video camera shift, lighting and pixel noise vary the appearance.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from slr_data.synth.config import SynthConfig

__all__ = [
    "SHAPES",
    "COLORS",
    "MOTIONS",
    "Signature",
    "gloss_signature",
    "SignerStyle",
    "signer_styles",
    "build_timeline",
    "render_video",
    "Timeline",
    "BodyGeometry",
    "body_geometry",
    "VideoLayout",
    "video_layout",
    "describe_signatures",
    "noise_bank",
]

SHAPES = ("disk", "square", "triangle", "ring", "cross", "diamond")
COLOR_NAMES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta")
COLORS = np.array(
    [
        (230, 40, 40),
        (245, 150, 20),
        (235, 225, 40),
        (40, 190, 60),
        (30, 200, 220),
        (40, 80, 235),
        (150, 50, 210),
        (235, 60, 170),
    ],
    dtype=np.float32,
)
#: Where each motion happens (signing-space offsets, fractions of the frame) and how the hand moves there.
MOTION_ANCHORS = (
    (-0.27, -0.25),
    (0.0, -0.3),
    (0.27, -0.25),
    (-0.3, 0.02),
    (0.3, 0.02),
    (-0.22, 0.27),
    (0.0, 0.2),
    (0.22, 0.27),
)
MOTIONS = (
    "upper-left right",
    "top up",
    "upper-right left",
    "left down",
    "right circle",
    "lower-left pulse",
    "centre shake",
    "lower-right figure-eight",
)
#: PHOENIX-2014 train videos per signer (Signer01..09): the default signer shares.
PHOENIX_SIGNER_SHARES = (1475, 49, 470, 836, 1296, 30, 646, 704, 165)
REST, NONE = -1, -2


@dataclass(frozen=True)
class Signature:
    """Visual signature of one gloss: indices into :data:`SHAPES`, :data:`COLORS`, :data:`MOTIONS`."""

    shape: int
    color: int
    motion: int

    def describe(self) -> str:
        return f"{COLOR_NAMES[self.color]} {SHAPES[self.shape]} {MOTIONS[self.motion]}"


def gloss_signature(index: int) -> Signature:
    """Signature of gloss ``index``: the first 48 differ pairwise in >= 2 of the 3 attributes."""
    n_colors, n_shapes, n_motions = len(COLORS), len(SHAPES), len(MOTIONS)
    color = index % n_colors
    shape = (index // n_colors) % n_shapes
    motion = (shape + color + index // (n_colors * n_shapes)) % n_motions
    return Signature(shape, color, motion)


@dataclass(frozen=True)
class SignerStyle:
    """Appearance of one signer (positions in fractions of the frame size)."""

    background: np.ndarray
    clothing: np.ndarray
    skin: np.ndarray
    scale: float
    center_x: float
    speed: float
    clutter: tuple[tuple[float, float, float, float, tuple[float, float, float]], ...]


def signer_styles(config: SynthConfig) -> tuple[list[SignerStyle], np.ndarray]:
    """Styles of ``Signer01..`` and their shares of the videos (PHOENIX shares for 9 signers)."""
    rng = np.random.default_rng([config.seed, 7919])
    skins = np.array([(224, 172, 140), (198, 134, 100), (141, 85, 56), (250, 214, 180), (170, 110, 80)])
    styles = []
    for i in range(config.num_signers):
        gray = rng.uniform(60, 150)
        background = np.clip(gray + rng.uniform(-18, 18, 3), 0, 255)
        clutter = []
        for _ in range(config.clutter):
            x0, y0 = rng.uniform(-0.1, 0.95, 2)
            w, h = rng.uniform(0.05, 0.3, 2)
            color = tuple(float(c) for c in np.clip(background + rng.uniform(-30, 30, 3), 0, 255))
            clutter.append((float(x0), float(x0 + w), float(y0), float(y0 + h), color))
        styles.append(
            SignerStyle(
                background=background.astype(np.float32),
                clothing=np.clip(rng.uniform(15, 70) + rng.uniform(-12, 12, 3), 0, 255).astype(np.float32),
                skin=(skins[i % len(skins)] + rng.uniform(-10, 10, 3)).astype(np.float32),
                scale=float(rng.uniform(0.85, 1.15)),
                center_x=float(0.5 + rng.uniform(-0.06, 0.06)),
                speed=float(rng.uniform(0.8, 1.25)),
                clutter=tuple(clutter),
            )
        )
    if config.num_signers == len(PHOENIX_SIGNER_SHARES):
        shares = np.array(PHOENIX_SIGNER_SHARES, dtype=np.float64)
    else:
        shares = np.ones(config.num_signers)
    return styles, shares / shares.sum()


def _trajectory(motion: int, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hand position (fractions of the frame size, relative to the signing-space centre) and
    radius factor, for sign progress ``u`` in ``[0, 1]``.

    Each motion has its own place in the signing space (:data:`MOTION_ANCHORS`), so that where
    the hand is already tells motions apart in a single frame, and its own movement there.
    """
    ax, ay = MOTION_ANCHORS[motion]
    kind = MOTIONS[motion].split()[-1]
    one = np.ones_like(u)
    sweep = 0.1 * (2 * u - 1)
    if kind == "right":
        return ax + sweep, ay * one, one
    if kind == "left":
        return ax - sweep, ay * one, one
    if kind == "up":
        return ax * one, ay - sweep, one
    if kind == "down":
        return ax * one, ay + sweep, one
    if kind == "circle":
        angle = 2 * np.pi * u
        return ax + 0.07 * np.cos(angle), ay + 0.07 * np.sin(angle), one
    if kind == "pulse":
        return ax * one, ay * one, 1.0 + 0.3 * np.sin(2 * np.pi * u)
    if kind == "shake":
        return ax + 0.05 * np.sin(6 * np.pi * u), ay * one, one
    return ax + 0.07 * np.sin(2 * np.pi * u), ay + 0.07 * np.sin(4 * np.pi * u), one  # figure-eight


@dataclass
class Timeline:
    """Per-frame description of the dominant hand: two cross-faded layers.

    Arrays of length ``T``: ``kind_*`` (gloss index, ``REST`` = skin-coloured hand, ``NONE``),
    ``x``, ``y`` (pixels), ``size`` (radius factor), ``alpha_*``; ``segments`` lists each gloss's
    ``(gloss_index, first_frame, end_frame)``.
    """

    kind_a: np.ndarray
    kind_b: np.ndarray
    alpha_a: np.ndarray
    alpha_b: np.ndarray
    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    segments: list[tuple[int, int, int]]


def build_timeline(
    gloss_ids: list[int], style: SignerStyle, config: SynthConfig, rng: np.random.Generator
) -> Timeline:
    """Frame-level plan of a sentence: rest, (transition, sign)*, transition, rest."""
    side = config.image_size
    reach = side * style.scale
    cx, cy = style.center_x * side, 0.5 * side
    rest = (cx + 0.2 * side, 0.93 * side)
    rows: list[tuple] = []  # (kind_a, kind_b, alpha_b, x, y, size)
    segments = []

    def sign_states(gloss: int, count: int):
        u = (np.arange(count) + 0.5) / count
        dx, dy, size = _trajectory(gloss_signature(gloss).motion, u)
        return cx + reach * dx, cy + reach * dy, size

    def add_transition(prev, nxt):
        (kind0, x0, y0, s0), (kind1, x1, y1, s1) = prev, nxt
        count = int(rng.integers(config.transition_frames[0], config.transition_frames[1] + 1))
        for j in range(count):
            w = (j + 1) / (count + 1)
            rows.append((kind0, kind1, w, x0 + w * (x1 - x0), y0 + w * (y1 - y0), s0 + w * (s1 - s0)))

    for _ in range(int(rng.integers(config.rest_frames[0], config.rest_frames[1] + 1))):
        rows.append((REST, NONE, 0.0, *rest, 1.0))
    previous = (REST, *rest, 1.0)
    low, high = config.gloss_frames
    for gloss in gloss_ids:
        count = max(1, int(round(rng.uniform(low, high + 1 - 1e-9) * style.speed - 0.5)))
        xs, ys, sizes = sign_states(gloss, count)
        add_transition(previous, (gloss, xs[0], ys[0], sizes[0]))
        segments.append((gloss, len(rows), len(rows) + count))
        rows.extend((gloss, NONE, 0.0, x, y, s) for x, y, s in zip(xs, ys, sizes, strict=True))
        previous = (gloss, xs[-1], ys[-1], sizes[-1])
    add_transition(previous, (REST, *rest, 1.0))
    for _ in range(int(rng.integers(config.rest_frames[0], config.rest_frames[1] + 1))):
        rows.append((REST, NONE, 0.0, *rest, 1.0))
    columns = list(zip(*rows, strict=True))
    alpha_b = np.array(columns[2], dtype=np.float32)
    return Timeline(
        kind_a=np.array(columns[0]),
        kind_b=np.array(columns[1]),
        alpha_a=1.0 - alpha_b,
        alpha_b=alpha_b,
        x=np.array(columns[3], dtype=np.float32),
        y=np.array(columns[4], dtype=np.float32),
        size=np.array(columns[5], dtype=np.float32),
        segments=segments,
    )


def _sdf(shape: int, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance (pixels, negative inside) of glyph ``shape`` with radius ``r``."""
    name = SHAPES[shape]
    ax, ay = np.abs(dx), np.abs(dy)
    if name == "disk":
        return np.hypot(dx, dy) - r
    if name == "square":
        return np.maximum(ax, ay) - 0.85 * r
    if name == "triangle":
        return np.maximum(dy, 0.866 * ax - 0.5 * dy) - 0.55 * r
    if name == "ring":
        return np.abs(np.hypot(dx, dy) - 0.72 * r) - 0.32 * r
    if name == "cross":
        return np.minimum(np.maximum(ax - r, ay - 0.38 * r), np.maximum(ax - 0.38 * r, ay - r))
    return (ax + ay) * 0.7071 - 0.8 * r  # diamond


def _paint(canvas, pad, select, x, y, radius, shape, color, alpha) -> None:
    """Alpha-blend one glyph into ``canvas[select]`` (anti-aliased 1-pixel edge).

    Only a square window around each glyph is touched: ``canvas`` is the frame stack padded by
    ``pad`` pixels on every side, so windows never leave it.
    """
    box = 2 * pad
    r = radius[select]
    top = np.floor(y[select]).astype(np.int64)  # window rows top..top+box-1 in canvas coordinates
    left = np.floor(x[select]).astype(np.int64)
    rows = top[:, None] + np.arange(box)  # canvas row index = frame row + pad
    cols = left[:, None] + np.arange(box)
    dy = (rows - pad + 0.5 - y[select, None])[:, :, None]
    dx = (cols - pad + 0.5 - x[select, None])[:, None, :]
    coverage = np.clip(0.5 - _sdf(shape, dx, dy, r[:, None, None]), 0.0, 1.0)
    coverage *= alpha[select, None, None]
    index = (select[:, None, None], rows[:, :, None], cols[:, None, :])
    region = canvas[index]
    region += coverage[..., None] * (color - region)
    canvas[index] = region


@dataclass(frozen=True)
class BodyGeometry:
    """Where the static parts of a signer are drawn in one video (pixels; continuous coordinates,
    pixel ``i`` covering ``[i, i + 1)``).

    Attributes:
        head: ``(x, y)`` centre of the head ellipse; ``head_radii``: its ``(rx, ry)``.
        rest_hand: ``(x, y)`` centre of the non-dominant hand (always at rest); ``rest_radius``.
        torso: ``(x, y)`` centre of the torso ellipse (below the frame centre); ``torso_radii``.
    """

    head: tuple[float, float]
    head_radii: tuple[float, float]
    rest_hand: tuple[float, float]
    rest_radius: float
    torso: tuple[float, float]
    torso_radii: tuple[float, float]


def body_geometry(style: SignerStyle, side: int, shift: tuple[float, float]) -> BodyGeometry:
    """The head, torso and resting hand of ``style`` in a ``side`` px frame moved by ``shift``."""
    cx = style.center_x * side + shift[0]
    head_r = 0.11 * side * style.scale
    return BodyGeometry(
        head=(cx, 0.24 * side + shift[1]),
        head_radii=(0.85 * head_r, head_r),
        rest_hand=(cx - 0.2 * side, 0.93 * side + shift[1]),
        rest_radius=0.07 * side * style.scale,
        torso=(cx, 1.05 * side + shift[1]),
        torso_radii=(0.27 * side * style.scale, 0.62 * side),
    )


def _base_image(style: SignerStyle, side: int, shift: tuple[float, float], grid_x, grid_y) -> np.ndarray:
    image = np.empty((side, side, 3), dtype=np.float32)
    image[:] = style.background
    for x0, x1, y0, y1, color in style.clutter:
        rows = slice(max(0, int(y0 * side)), max(0, int(y1 * side) + 1))
        image[rows, max(0, int(x0 * side)) : max(0, int(x1 * side) + 1)] = color
    body = body_geometry(style, side, shift)
    gx, gy = grid_x - body.torso[0], grid_y - shift[1]
    torso = ((gx / body.torso_radii[0]) ** 2 + ((gy - 1.05 * side) / body.torso_radii[1]) ** 2) < 1.0
    image[torso] = style.clothing
    head = np.clip(0.5 - (np.hypot(gx / 0.85, gy - 0.24 * side) - body.head_radii[1]), 0, 1)
    image += head[..., None] * (style.skin - image)
    hand = np.clip(0.5 - (np.hypot(gx + 0.2 * side, gy - 0.93 * side) - body.rest_radius), 0, 1)
    image += hand[..., None] * (style.skin - image)
    return image


@dataclass(frozen=True)
class VideoLayout:
    """Where one video's moving parts are drawn (continuous pixel coordinates, as :class:`BodyGeometry`).

    Attributes:
        shift: the video's camera shift ``(dx, dy)`` in pixels.
        x, y: ``(T,)`` centre of the dominant hand (the glyph, or the skin-coloured hand at rest).
        radius: ``(T,)`` glyph radius (a resting hand is drawn with ``0.64 * radius``).
    """

    shift: tuple[float, float]
    x: np.ndarray
    y: np.ndarray
    radius: np.ndarray


def video_layout(
    timeline: Timeline, style: SignerStyle, config: SynthConfig, rng: np.random.Generator
) -> VideoLayout:
    """Draw the camera shift and the hand's jitter (the first draws of :func:`render_video` from ``rng``)."""
    side = config.image_size
    count = len(timeline.x)
    shift = (float(rng.uniform(-0.03, 0.03) * side), float(rng.uniform(-0.03, 0.03) * side))
    x = np.clip(timeline.x + shift[0] + rng.normal(0, 0.01 * side, count).astype(np.float32), 0, side)
    y = np.clip(timeline.y + shift[1] + rng.normal(0, 0.01 * side, count).astype(np.float32), 0, side)
    return VideoLayout(shift, x, y, (0.1 * side * style.scale) * timeline.size)


def render_video(
    timeline: Timeline,
    style: SignerStyle,
    config: SynthConfig,
    rng: np.random.Generator,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """Frames ``(T, S, S, 3)`` uint8 RGB of one planned video (``noise``: :func:`noise_bank`).

    The hand is drawn where :func:`video_layout` (called first, on the same ``rng``) puts it.
    """
    side = config.image_size
    count = len(timeline.x)
    layout = video_layout(timeline, style, config, rng)
    x, y, radius = layout.x, layout.y, layout.radius
    grid_y, grid_x = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    pad = int(np.ceil(1.3 * float(radius.max()))) + 2
    canvas = np.zeros((count, side + 2 * pad, side + 2 * pad, 3), dtype=np.float32)
    canvas[:, pad : pad + side, pad : pad + side] = _base_image(style, side, layout.shift, grid_x, grid_y)
    for kinds, alpha in ((timeline.kind_a, timeline.alpha_a), (timeline.kind_b, timeline.alpha_b)):
        for kind in np.unique(kinds):
            if kind == NONE:
                continue
            select = np.flatnonzero(kinds == kind)
            if kind == REST:
                _paint(canvas, pad, select, x, y, radius * 0.64, 0, style.skin, alpha)
            else:
                signature = gloss_signature(int(kind))
                _paint(canvas, pad, select, x, y, radius, signature.shape, COLORS[signature.color], alpha)
    frames = canvas[:, pad : pad + side, pad : pad + side] * np.float32(rng.uniform(0.9, 1.1))
    if config.noise_std > 0:
        _add_noise(frames, noise_bank(config) if noise is None else noise, rng)
    return np.clip(frames, 0, 255).astype(np.uint8)


NOISE_BANK_FRAMES = 97


@functools.lru_cache(maxsize=4)
def noise_bank(config: SynthConfig) -> np.ndarray:
    """``(97, S, S, 3)`` float32 Gaussian noise in 2x2-pixel blotches (like sensor / compression
    noise; blotches keep the PNGs small). Videos add a random walk through this bank."""
    rng = np.random.default_rng([config.seed, 104729])
    side = config.image_size
    half = (side + 1) // 2
    noise = rng.standard_normal((NOISE_BANK_FRAMES, half, half, 3), dtype=np.float32) * np.float32(
        config.noise_std
    )
    bank = np.ascontiguousarray(noise.repeat(2, axis=1).repeat(2, axis=2)[:, :side, :side])
    bank.flags.writeable = False  # shared by every video (and thread) of the corpus
    return bank


def _add_noise(frames: np.ndarray, bank: np.ndarray, rng: np.random.Generator) -> None:
    step = int(rng.choice([1, 2, 3, 5, 7, 11]))
    index = (int(rng.integers(0, len(bank))) + step * np.arange(len(frames))) % len(bank)
    frames += bank[index]


def describe_signatures(glosses: tuple[str, ...]) -> dict[str, str]:
    """``{gloss: "red disk right", ...}``: what each gloss looks like."""
    return {g: gloss_signature(i).describe() for i, g in enumerate(glosses)}
