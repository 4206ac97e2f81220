"""Synthetic PHOENIX-2014-format corpus: learnable gloss signatures, same layout as the release."""

from slr_data.synth.config import SynthConfig
from slr_data.synth.language import BUILTIN_GLOSSES
from slr_data.synth.render import COLORS, MOTIONS, SHAPES, Signature, gloss_signature
from slr_data.synth.writer import SynthCorpus, generate_synthetic_corpus

__all__ = [
    "BUILTIN_GLOSSES",
    "COLORS",
    "MOTIONS",
    "SHAPES",
    "Signature",
    "SynthConfig",
    "SynthCorpus",
    "gloss_signature",
    "generate_synthetic_corpus",
]
