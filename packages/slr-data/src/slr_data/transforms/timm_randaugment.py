"""timm-style RandAugment from config strings such as ``rand-m5-mstd0.25``, drawn once per video.

The semantics are those of timm's ``rand_augment_transform`` (the RandAugment that Mamba_SLR, VideoMAE
and many video models use):

* ops: timm's 15 RandAugment ops (:data:`TIMM_RAND_OPS`), or with ``inc1`` the variants whose
  severity increases with the magnitude (:data:`TIMM_RAND_INCREASING_OPS`); ``n`` ops are drawn
  uniformly with replacement (``w0``: timm's choice weights, without replacement);
* each drawn op is applied with probability ``p`` (timm's default 0.5);
* the magnitude ``m`` is on timm's 0..10 scale; ``mstd > 0`` jitters it once per op with a Gaussian
  of that standard deviation (``mstd > 100``: uniform in ``[0, m]``), then it is clipped to
  ``[0, mmax]`` (``mmax`` defaults to 10);
* level -> argument as timm (:func:`timm_op_argument`): rotate +-30 deg, shear +-0.3, translate
  +-0.45 of the frame size, enhance factor ``0.1 + 1.8 * m / 10`` (increasing: ``1 +- 0.9 * m / 10``),
  posterize ``int(4 * m / 10)`` bits, solarize threshold ``int(256 * m / 10)``, solarize-add
  ``int(110 * m / 10)``; signed ops get a random sign.

Every random draw (ops, skip, magnitude, sign) happens once per video, so every frame gets the same
ops with the same arguments. Differences from timm's parser: an unknown or malformed section is an
error naming it (timm skips it silently), ``inc0`` means *not* increasing (timm treats any ``inc``
section as increasing), and only weight set ``w0`` exists.

Geometric ops act on the source frame, before the crop, as timm does on the whole image: they are
composed into one forward affine matrix in pixel-centre coordinates that reproduces PIL's
conventions (rotation counter-clockwise about the frame centre, shear about the top edge / left edge,
translation by a fraction of the frame width / height), so keypoints follow them exactly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TIMM_RAND_OPS",
    "TIMM_RAND_INCREASING_OPS",
    "TIMM_GEOMETRY_OPS",
    "TIMM_MAX_LEVEL",
    "TimmRandAugmentConfig",
    "sample_timm_ops",
    "timm_op_argument",
    "timm_geometry_matrix",
    "timm_color_ops",
]

TIMM_MAX_LEVEL = 10.0
TIMM_RAND_OPS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "SolarizeAdd",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
TIMM_RAND_INCREASING_OPS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "PosterizeIncreasing",
    "SolarizeIncreasing",
    "SolarizeAdd",
    "ColorIncreasing",
    "ContrastIncreasing",
    "BrightnessIncreasing",
    "SharpnessIncreasing",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
TIMM_GEOMETRY_OPS = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
#: timm's weight set 0 (``w0``), by op (the increasing variants share their base op's weight).
_CHOICE_WEIGHTS_0 = {
    "Rotate": 0.3,
    "ShearX": 0.2,
    "ShearY": 0.2,
    "TranslateXRel": 0.1,
    "TranslateYRel": 0.1,
    "Color": 0.025,
    "Sharpness": 0.025,
    "AutoContrast": 0.025,
    "Solarize": 0.005,
    "SolarizeAdd": 0.005,
    "Contrast": 0.005,
    "Brightness": 0.005,
    "Equalize": 0.005,
    "Posterize": 0.0,
    "Invert": 0.0,
}
_ENHANCE = {"Color": "color", "Contrast": "contrast", "Brightness": "brightness", "Sharpness": "sharpness"}
_COLOR_NAMES = {"Solarize": "solarize", "SolarizeAdd": "solarize_add", "AutoContrast": "autocontrast",
                "Equalize": "equalize", "Invert": "invert"}
_SIGNED = set(TIMM_GEOMETRY_OPS) | {f"{name}Increasing" for name in _ENHANCE}
_SECTION = re.compile(r"([a-z]+)(\d.*)")
_KEYS = ("m", "n", "mstd", "mmax", "p", "inc", "w")


@dataclass(frozen=True)
class TimmRandAugmentConfig:
    """timm RandAugment parameters (see the module docstring); build from a string with :meth:`from_string`.

    Attributes:
        num_ops: ops drawn per video (``n``, default 2).
        magnitude: level on the 0..10 scale (``m``, default 10).
        magnitude_std: Gaussian jitter of the level per op (``mstd``; > 100: uniform in ``[0, m]``).
        magnitude_max: upper clip of the jittered level (``mmax``, default 10).
        prob: probability that a drawn op is applied (``p``, default 0.5).
        increasing: use the increasing-severity op variants (``inc1``).
        weighted: draw ops with timm's weight set 0, without replacement (``w0``).
        translate_pct: translation at level 10, as a fraction of the frame size (timm: 0.45).
        fill: RGB colour of pixels that geometric ops bring in from outside the frame (timm: 128).
    """

    num_ops: int = 2
    magnitude: float = 10.0
    magnitude_std: float = 0.0
    magnitude_max: float = 10.0
    prob: float = 0.5
    increasing: bool = False
    weighted: bool = False
    translate_pct: float = 0.45
    fill: tuple[int, int, int] = (128, 128, 128)

    def __post_init__(self):
        object.__setattr__(self, "fill", tuple(int(v) for v in self.fill))
        problems = []
        if int(self.num_ops) != self.num_ops or self.num_ops < 0:
            problems.append(f"num_ops must be an integer >= 0, got {self.num_ops!r}")
        if not 0 <= self.magnitude or not 0 <= self.magnitude_std or not 0 < self.magnitude_max:
            problems.append("magnitude and magnitude_std must be >= 0 and magnitude_max > 0, got "
                            f"{self.magnitude}, {self.magnitude_std}, {self.magnitude_max}")
        if not 0 <= self.prob <= 1:
            problems.append(f"prob must lie in [0, 1], got {self.prob}")
        if not 0 <= self.translate_pct <= 1:
            problems.append(f"translate_pct must lie in [0, 1], got {self.translate_pct}")
        if len(self.fill) != 3 or not all(0 <= v <= 255 for v in self.fill):
            problems.append(f"fill must be 3 values in 0..255, got {self.fill}")
        if self.weighted and self.num_ops > int(np.count_nonzero(self.choice_weights())):
            problems.append(f"num_ops {self.num_ops} exceeds the ops with non-zero weight (weighted draws "
                            "are without replacement)")
        if problems:
            raise ValueError("TimmRandAugmentConfig: " + "; ".join(problems))
        object.__setattr__(self, "num_ops", int(self.num_ops))

    @property
    def ops(self) -> tuple[str, ...]:
        return TIMM_RAND_INCREASING_OPS if self.increasing else TIMM_RAND_OPS

    def choice_weights(self) -> np.ndarray | None:
        """Probability of each op in :attr:`ops` (``None``: uniform, with replacement)."""
        if not self.weighted:
            return None
        weights = np.array([_CHOICE_WEIGHTS_0[name.replace("Increasing", "")] for name in self.ops])
        return weights / weights.sum()

    @classmethod
    def from_string(cls, config_str: str, **overrides) -> TimmRandAugmentConfig:
        """Parse ``rand-m9-n2-mstd0.5-mmax10-p0.5-inc1-w0`` (sections in any order after ``rand``).

        ``overrides`` set fields the string does not (e.g. ``prob=1.0``, ``fill=...``). A malformed
        string raises ``ValueError`` naming the string and the bad section.
        """
        if not isinstance(config_str, str):
            raise ValueError(f"RandAugment config must be a string like 'rand-m9-mstd0.5', "
                             f"got {config_str!r}")
        sections = config_str.split("-")
        if sections[0] != "rand":
            raise ValueError(f"RandAugment config {config_str!r}: must start with 'rand', "
                             f"got {sections[0]!r}")
        fields: dict = {}
        for section in sections[1:]:
            match = _SECTION.fullmatch(section)
            if match is None or match.group(1) not in _KEYS:
                raise ValueError(f"RandAugment config {config_str!r}: bad section {section!r} (expected one "
                                 f"of {', '.join(k + '<number>' for k in _KEYS)})")
            key, text = match.groups()
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"RandAugment config {config_str!r}: section {section!r}: {text!r} is not "
                                 "a number") from None
            if key in ("n", "inc", "w") and value != int(value):
                raise ValueError(f"RandAugment config {config_str!r}: section {section!r} needs an integer")
            if key == "w" and value != 0:
                raise ValueError(f"RandAugment config {config_str!r}: section {section!r}: only weight set "
                                 "w0 exists")
            name = {"m": "magnitude", "n": "num_ops", "mstd": "magnitude_std", "mmax": "magnitude_max",
                    "p": "prob", "inc": "increasing", "w": "weighted"}[key]
            fields[name] = {"n": int(value), "inc": bool(value), "w": True}.get(key, value)
        try:
            return cls(**{**fields, **overrides})
        except ValueError as exc:
            raise ValueError(f"RandAugment config {config_str!r}: {exc}") from None

    def to_string(self) -> str:
        """The timm config string of the fields it can express (``fill``/``translate_pct`` excluded)."""
        parts = ["rand", f"m{self.magnitude:g}", f"n{self.num_ops}"]
        if self.magnitude_std:
            parts.append(f"mstd{self.magnitude_std:g}")
        if self.magnitude_max != TIMM_MAX_LEVEL:
            parts.append(f"mmax{self.magnitude_max:g}")
        parts.append(f"p{self.prob:g}")
        if self.increasing:
            parts.append("inc1")
        if self.weighted:
            parts.append("w0")
        return "-".join(parts)


def timm_op_argument(name: str, level: float, negate: bool = False, translate_pct: float = 0.45) -> float:
    """timm's argument of op ``name`` at ``level`` (0..10); ``negate`` flips signed ops.

    Units: degrees (Rotate), shear factor (ShearX/Y), fraction of the frame width/height
    (TranslateX/YRel), enhancement factor (Color, Contrast, Brightness, Sharpness), bits kept
    (Posterize), threshold (Solarize), value added (SolarizeAdd); 0 for ops without argument.
    """
    fraction = level / TIMM_MAX_LEVEL
    sign = -1.0 if negate and name in _SIGNED else 1.0
    if name == "Rotate":
        return sign * 30.0 * fraction
    if name in ("ShearX", "ShearY"):
        return sign * 0.3 * fraction
    if name in ("TranslateXRel", "TranslateYRel"):
        return sign * translate_pct * fraction
    if name in _ENHANCE:
        return 1.8 * fraction + 0.1
    if name.endswith("Increasing") and name[: -len("Increasing")] in _ENHANCE:
        return 1.0 + sign * 0.9 * fraction
    if name == "Posterize":
        return float(int(4 * fraction))
    if name == "PosterizeIncreasing":
        return float(4 - int(4 * fraction))
    if name == "Solarize":
        return float(int(256 * fraction))
    if name == "SolarizeIncreasing":
        return float(256 - int(256 * fraction))
    if name == "SolarizeAdd":
        return float(int(110 * fraction))
    if name in ("AutoContrast", "Equalize", "Invert"):
        return 0.0
    raise ValueError(f"unknown timm RandAugment op {name!r}")


def sample_timm_ops(config: TimmRandAugmentConfig, rng: np.random.Generator) -> tuple[tuple[str, float], ...]:
    """One video's ops: ``((timm_name, argument), ...)`` in application order (skipped ops left out)."""
    ops = config.ops
    if config.num_ops == 0:
        return ()
    weights = config.choice_weights()
    if weights is None:
        chosen = rng.integers(0, len(ops), size=config.num_ops)
    else:
        chosen = rng.choice(len(ops), size=config.num_ops, replace=False, p=weights)
    drawn = []
    for index in chosen:
        name = ops[int(index)]
        if config.prob < 1.0 and rng.random() > config.prob:
            continue
        level = config.magnitude
        if config.magnitude_std > 100:
            level = rng.uniform(0.0, level)
        elif config.magnitude_std > 0:
            level = rng.normal(level, config.magnitude_std)
        level = min(max(float(level), 0.0), config.magnitude_max)
        negate = name in _SIGNED and rng.random() < 0.5
        drawn.append((name, timm_op_argument(name, level, negate, config.translate_pct)))
    return tuple(drawn)


def timm_geometry_matrix(ops, source_size: tuple[int, int]) -> np.ndarray | None:
    """Forward 2x3 matrix (source pixel centres -> warped pixel centres) of the geometric ``ops``.

    Matches PIL as timm calls it: ``Rotate(a)`` is ``img.rotate(a)`` (counter-clockwise about the
    frame centre), ``ShearX(f)`` the affine ``(1, f, 0, 0, 1, 0)``, ``TranslateXRel(p)`` the affine
    ``(1, 0, p * W, 0, 1, 0)`` (PIL's coefficients map output to input, pixel edges at integers).
    ``None`` when ``ops`` has no geometric op.
    """
    height, width = source_size
    cx, cy = (width - 1) / 2, (height - 1) / 2
    total = np.eye(3)
    used = False
    for name, value in ops:
        if name not in TIMM_GEOMETRY_OPS:
            continue
        used = True
        if name == "Rotate":
            c, s = math.cos(math.radians(value)), math.sin(math.radians(value))
            step = np.array([[c, s, cx - c * cx - s * cy], [-s, c, cy + s * cx - c * cy], [0, 0, 1]])
        elif name == "ShearX":  # x_in = x_out + f * (y_out + 0.5)
            step = np.array([[1, -value, -0.5 * value], [0, 1, 0], [0, 0, 1]])
        elif name == "ShearY":
            step = np.array([[1, 0, 0], [-value, 1, -0.5 * value], [0, 0, 1]])
        elif name == "TranslateXRel":
            step = np.array([[1, 0, -value * width], [0, 1, 0], [0, 0, 1]])
        else:  # TranslateYRel
            step = np.array([[1, 0, 0], [0, 1, -value * height], [0, 0, 1]])
        total = step @ total
    return total[:2] if used else None


def timm_color_ops(ops) -> tuple[tuple[str, float], ...]:
    """The photometric ``ops`` as :func:`~slr_data.transforms.ops.apply_color_ops` ``(name, value)`` pairs."""
    out = []
    for name, value in ops:
        if name in TIMM_GEOMETRY_OPS:
            continue
        base = name.replace("Increasing", "")
        if base in _ENHANCE:
            out.append((_ENHANCE[base], value))
        elif base == "Posterize":
            if value < 8:
                out.append(("posterize", value))
        else:
            out.append((_COLOR_NAMES[base], value))
    return tuple(out)
