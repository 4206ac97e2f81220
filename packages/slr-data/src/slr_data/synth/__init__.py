"""Synthetic PHOENIX-2014-format corpus: learnable gloss signatures, same layout as the release."""

from slr_data.synth.config import SynthConfig
from slr_data.synth.language import BUILTIN_GLOSSES
from slr_data.synth.render import COLORS, MOTIONS, SHAPES, Signature, gloss_signature
from slr_data.synth.writer import (
    KEYPOINTS_FILE,
    SynthCorpus,
    generate_synthetic_corpus,
    write_synthetic_keypoints,
)

__all__ = [
    "BUILTIN_GLOSSES",
    "KEYPOINTS_FILE",
    "COLORS",
    "MOTIONS",
    "SHAPES",
    "Signature",
    "SynthConfig",
    "SynthCorpus",
    "gloss_signature",
    "generate_synthetic_corpus",
    "write_synthetic_keypoints",
]
