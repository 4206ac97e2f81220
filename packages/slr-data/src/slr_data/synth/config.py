"""Configuration of the synthetic PHOENIX-format corpus."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

__all__ = ["SynthConfig", "GLOSS_NAME_SOURCES"]

GLOSS_NAME_SOURCES = ("builtin", "phoenix")


def _pair(value, name: str, low_limit: int) -> tuple[int, int]:
    low, high = (int(v) for v in value)
    if low < low_limit or high < low:
        raise ValueError(f"{name} must be (min, max) with {low_limit} <= min <= max, got {value!r}")
    return low, high


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a synthetic corpus; equal configs give identical corpora.

    The default is the project's embedded training corpus: sized and shaped so that a tiny
    model learns it on 2 CPU cores in minutes, while keeping PHOENIX's structure (Zipf-like
    gloss frequencies, ``__ON__``/``__OFF__`` on about 43 % / 46 % of sentences as in the PHOENIX
    train set, 9 signers with unequal shares, co-articulated transitions, clutter and noise).

    Attributes:
        seed: master seed; every video has its own stream derived from ``(seed, split, index)``.
        num_train, num_dev, num_test: videos per split.
        vocab_size: glosses including ``__ON__`` and ``__OFF__`` (up to 384 distinct signatures;
            up to 48 differ pairwise in at least two of shape / colour / motion).
        image_size: frame width and height in pixels.
        num_signers: signers ``Signer01..``, each with own background, clothing, skin tone,
            scale, position and signing speed; dev/test use the same signers (multisigner).
        gloss_frames: frames per gloss ``(min, max)`` at speed 1 (scaled by the signer's speed).
        sentence_glosses: glosses per sentence ``(min, max)`` not counting ``__ON__``/``__OFF__``.
        on_prob, off_prob: probability that a sentence starts with ``__ON__`` / ends with ``__OFF__``.
        transition_frames: co-articulation frames between consecutive signs ``(min, max)``.
        rest_frames: frames with the hands at rest before the first / after the last sign.
        zipf_exponent: gloss ``r`` (by rank) has weight ``1 / (r + 1) ** zipf_exponent``.
        noise_std: Gaussian pixel noise (0-255 scale).
        clutter: background rectangles per signer.
        gloss_names: ``"builtin"`` (frequent PHOENIX weather glosses, embedded) or ``"phoenix"``
            (names, frequencies and sentence lengths read from ``phoenix_meta``).
        phoenix_meta: folder with the real ``gloss_dict.npy`` / ``train_info.npy`` (for ``"phoenix"``).
        write_threads: threads rendering and writing PNGs (does not change the output).
        png_compression: PNG compression level 0-9 (does not change the pixels).
    """

    seed: int = 0
    num_train: int = 1000
    num_dev: int = 100
    num_test: int = 100
    vocab_size: int = 40
    image_size: int = 64
    num_signers: int = 9
    gloss_frames: tuple[int, int] = (5, 9)
    sentence_glosses: tuple[int, int] = (3, 7)
    on_prob: float = 0.43
    off_prob: float = 0.46
    transition_frames: tuple[int, int] = (1, 2)
    rest_frames: tuple[int, int] = (1, 3)
    zipf_exponent: float = 1.0
    noise_std: float = 5.0
    clutter: int = 6
    gloss_names: str = "builtin"
    phoenix_meta: str | None = None
    write_threads: int = 4
    png_compression: int = 1

    def __post_init__(self):
        for name in ("num_train", "num_dev", "num_test"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.num_train < 1:
            raise ValueError("num_train must be >= 1 (the vocabulary is built from train)")
        if not 3 <= self.vocab_size <= 384:
            raise ValueError(f"vocab_size must lie in 3..384 (incl. __ON__/__OFF__), got {self.vocab_size}")
        if not 16 <= self.image_size <= 512:
            raise ValueError(f"image_size must lie in 16..512, got {self.image_size}")
        if not 1 <= self.num_signers <= 99:
            raise ValueError(f"num_signers must lie in 1..99, got {self.num_signers}")
        object.__setattr__(self, "gloss_frames", _pair(self.gloss_frames, "gloss_frames", 1))
        object.__setattr__(self, "sentence_glosses", _pair(self.sentence_glosses, "sentence_glosses", 1))
        object.__setattr__(self, "transition_frames", _pair(self.transition_frames, "transition_frames", 0))
        object.__setattr__(self, "rest_frames", _pair(self.rest_frames, "rest_frames", 0))
        for name in ("on_prob", "off_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1]")
        if self.gloss_names not in GLOSS_NAME_SOURCES:
            raise ValueError(f"gloss_names must be one of {GLOSS_NAME_SOURCES}, got {self.gloss_names!r}")
        if self.gloss_names == "phoenix" and not self.phoenix_meta:
            raise ValueError("gloss_names='phoenix' needs phoenix_meta (folder with the real gloss_dict.npy)")
        if self.noise_std < 0 or self.clutter < 0 or self.zipf_exponent < 0:
            raise ValueError("noise_std, clutter and zipf_exponent must be >= 0")
        if not 0 <= self.png_compression <= 9 or self.write_threads < 1:
            raise ValueError("png_compression must lie in 0..9 and write_threads >= 1")

    @classmethod
    def tiny(cls, **overrides) -> SynthConfig:
        """Seconds-fast preset for tests: 24/8/8 videos, 12 glosses, 32x32 frames."""
        base = dict(
            num_train=24,
            num_dev=8,
            num_test=8,
            vocab_size=12,
            image_size=32,
            num_signers=3,
            gloss_frames=(3, 5),
            sentence_glosses=(2, 4),
            clutter=3,
        )
        return cls(**{**base, **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SynthConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown synthetic corpus option(s): {sorted(unknown)}")
        return cls(**data)

    def content_key(self) -> str:
        """Hash of the options that change the corpus content (not threads / compression)."""
        data = self.to_dict()
        data.pop("write_threads")
        data.pop("png_compression")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
