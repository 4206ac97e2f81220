"""The synthetic corpus's "language": gloss names, Zipf-like frequencies, sentences."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slr_data.safe_pickle import load_info
from slr_data.synth.config import SynthConfig

__all__ = ["BUILTIN_GLOSSES", "Language", "build_language", "sample_sentence", "ensure_train_coverage"]

ON, OFF = "__ON__", "__OFF__"

#: The most frequent PHOENIX-2014 weather glosses, in frequency order (names only).
BUILTIN_GLOSSES = (
    "REGEN",
    "IX",
    "MORGEN",
    "WOLKE",
    "SONNE",
    "GRAD",
    "REGION",
    "WEHEN",
    "SCHNEE",
    "NACHT",
    "KOMMEN",
    "GEWITTER",
    "KOENNEN",
    "NORD",
    "MEHR",
    "AUCH",
    "BISSCHEN",
    "HEUTE",
    "WETTER",
    "SUED",
    "SCHAUER",
    "WIND",
    "BIS",
    "DANN",
    "ZWANZIG",
    "OST",
    "NEBEL",
    "MOEGLICH",
    "ABEND",
    "FREUNDLICH",
    "JETZT",
    "BERG",
    "STURM",
    "TEIL",
    "WEST",
    "ABER",
    "TAG",
    "WECHSELHAFT",
    "MAESSIG",
    "FLUSS",
    "WIE-AUSSEHEN",
    "TIEF",
    "MINUS",
    "SCHWACH",
    "SONNTAG",
    "MITTE",
    "BLEIBEN",
    "KUEHL",
    "FREITAG",
    "KLAR",
    "VIEL",
    "HOCH",
    "TROCKEN",
    "SAMSTAG",
    "STARK",
    "DONNERSTAG",
    "SONST",
    "BESONDERS",
    "NORDRAUM",
    "MEISTENS",
    "TEMPERATUR",
    "IN-KOMMEND",
    "KALT",
    "UND",
    "WARM",
    "MITTWOCH",
    "MONTAG",
    "SCHNEIEN",
    "FUENF",
    "LAND",
    "GUT",
    "DEUTSCH",
    "NUR",
    "DIENSTAG",
    "MITTAG",
    "SCHOEN",
    "FROST",
    "MILD",
    "ALPEN",
    "KUESTE",
    "IM-VERLAUF",
    "DREI",
    "LUFT",
    "VIER",
    "HIMMEL",
    "VERSCHWINDEN",
    "SEHEN",
    "SIEBEN",
    "DABEI",
    "HAUPTSAECHLICH",
    "NOCH",
    "SCHON",
    "FRISCH",
    "EINS",
)


@dataclass(frozen=True)
class Language:
    """Glosses and how sentences are drawn.

    Attributes:
        glosses: all glosses; ``glosses[0] == "__ON__"``, ``glosses[1] == "__OFF__"``, then content
            glosses in frequency order (the signature of gloss ``i`` is derived from ``i``).
        weights: sampling probabilities of the content glosses (``glosses[2:]``).
        lengths: content sentence lengths to draw from (uniform over this array).
    """

    glosses: tuple[str, ...]
    weights: np.ndarray
    lengths: np.ndarray


def _numbered_names(count: int) -> list[str]:
    names = list(BUILTIN_GLOSSES[:count])
    names += [f"GLOSS{i:03d}" for i in range(len(names), count)]
    return names


def build_language(config: SynthConfig) -> Language:
    """Content glosses, their Zipf-like (or real PHOENIX) weights and sentence lengths."""
    content = config.vocab_size - 2
    low, high = config.sentence_glosses
    lengths = np.arange(low, high + 1)
    if config.gloss_names == "builtin":
        names = _numbered_names(content)
        counts = None
    else:
        names, counts, lengths = _phoenix_statistics(Path(config.phoenix_meta), content, low, high)
    ranks = np.arange(1, content + 1, dtype=np.float64)
    weights = ranks**-config.zipf_exponent if counts is None else np.asarray(counts, dtype=np.float64)
    return Language((ON, OFF, *names), weights / weights.sum(), np.asarray(lengths, dtype=np.int64))


def _phoenix_statistics(meta: Path, content: int, low: int, high: int):
    """Top real glosses (no ``__X__`` / ``loc-`` style names), their counts, and real sentence
    lengths (without ``__ON__``/``__OFF__``, clipped to ``[low, high]``)."""
    gloss_dict = load_info(meta / "gloss_dict.npy")
    ranked = sorted(
        (
            (name, int(value[1]))
            for name, value in gloss_dict.items()
            if name[:1].isupper() and "+" not in name and not name.startswith("__")
        ),
        key=lambda item: (-item[1], item[0]),
    )
    if len(ranked) < content:
        raise ValueError(f"{meta / 'gloss_dict.npy'}: only {len(ranked)} usable glosses, {content} requested")
    ranked = ranked[:content]
    info = load_info(meta / "train_info.npy")
    lengths = [
        sum(1 for g in entry["label"].split() if g not in (ON, OFF))
        for key, entry in info.items()
        if key != "prefix"
    ]
    return [n for n, _ in ranked], [c for _, c in ranked], np.clip(lengths, low, high)


def sample_sentence(language: Language, config: SynthConfig, rng: np.random.Generator) -> list[str]:
    """One gloss sentence: content glosses without immediate repeats, maybe ``__ON__``/``__OFF__``."""
    length = int(language.lengths[rng.integers(0, len(language.lengths))])
    content = language.glosses[2:]
    picks: list[int] = []
    for _ in range(length):
        for _attempt in range(20):
            index = int(rng.choice(len(content), p=language.weights))
            if not picks or index != picks[-1] or len(content) == 1:
                break
        picks.append(index)
    sentence = [content[i] for i in picks]
    if rng.random() < config.on_prob:
        sentence.insert(0, ON)
    if rng.random() < config.off_prob:
        sentence.append(OFF)
    return sentence


def ensure_train_coverage(train: list[list[str]], language: Language, rng: np.random.Generator) -> None:
    """Put every gloss at least once into the train sentences (in place), so that a vocabulary
    built from train (release layout) equals the one built from all splits (``gloss_dict.npy``)."""
    present = {g for sentence in train for g in sentence}
    missing = [g for g in language.glosses if g not in present]
    for j, gloss in enumerate(missing):
        sentence = train[int(rng.integers(0, len(train)))] if j >= len(train) else train[j]
        if gloss == ON:
            if sentence[:1] != [ON]:
                sentence.insert(0, ON)
            continue
        if gloss == OFF:
            if sentence[-1:] != [OFF]:
                sentence.append(OFF)
            continue
        start = 1 if sentence[:1] == [ON] else 0
        stop = len(sentence) - (1 if sentence[-1:] == [OFF] else 0)
        slots = [
            i
            for i in range(start, stop + 1)
            if (i == start or sentence[i - 1] != gloss) and (i == stop or sentence[i] != gloss)
        ]
        position = slots[int(rng.integers(0, len(slots)))]
        sentence.insert(position, gloss)
