"""Deterministic test cases shared by the slr-metrics tests and ``make_expected.py``.

Everything is drawn from ``random.Random(seed)`` (stable across Python versions), so the
committed expected outputs under ``data/`` stay valid as long as these generators do not
change. Change a generator -> rerun ``make_expected.py`` (see its docstring).
"""

from __future__ import annotations

import random

# Seeds and sizes of the committed expected outputs (make_expected.py writes, tests read).
SCLITE_SEED, SCLITE_N = 20240611, 3000
PRA_SEED, PRA_N = 7, 300
PHOENIX_SEED, PHOENIX_N = 2014, 600
PHOENIX_MODES = ("sorted", "shuffled", "interleaved")
SLRT_SEED, SLRT_N = 99, 700

# Small vocabularies provoke ties in the alignment; mixed case exercises sclite's folding;
# the last tokens exercise sclite's token reading (trailing '*', ';' tags, '\' escapes).
SCLITE_WORDS = ("a", "A", "b", "B", "c", "d", "D", "e")
SCLITE_ODD_TOKENS = ("b*", "c;tag", "d\\;e", "E*", "x\\y", "*", "**")
SPEAKERS = ("signer01", "Signer02", "SIGNER03")

# PHOENIX-like glosses: references use clean glosses, hypotheses add what the clean-up rules touch.
PHOENIX_REF_WORDS = (
    "REGEN",
    "SONNE",
    "NORD",
    "SUED",
    "WIND",
    "MORGEN",
    "__ON__",
    "__OFF__",
    "IX",
    "WOLKE",
    "A",
    "B",
    "SCH",
    "NN",
    "WIE",
    "AUSSEHEN",
    "ZEIGEN-BILDSCHIRM",
    "HABEN",
    "KOMMEN",
    "RAUM",
)
PHOENIX_TRICKY = (
    "__EPENTHESIS__",
    "__EMOTION__",
    "__LEFTHAND__",
    "__PU__",
    "__ON__",
    "__OFF__",
    "__A_B__",
    "____",
    "loc-NORD",
    "cl-KOMMEN",
    "loc-cl-SUED",
    "cl-loc-SUED",
    "qu-WAS",
    "poss-EUCH",
    "lh-HOCH",
    "NICHT-cl-KOMMEN",
    "ZEIGEN",
    "ANZEIGEN",
    "ZEIGENRAUM",
    "NORDRAUM",
    "X-NORDRAUM",
    "ABRAUMRAUM",
    "nordRAUM",
    "RAUM",
    "REGEN-PLUSPLUS",
    "loc-REGEN-PLUSPLUS",
    "S0NNE",
    "HABEN2",
    "lh-S0NNE",
    "loc-",
    "cl-",
    "-PLUSPLUS",
    "__EMOloc-TION__",
    "__LEFTHANDRAUM__",
    "X__EPENTHESIS__Y",
    "WIE",
    "AUSSEHEN",
    "A",
    "B",
    "SCH",
    "NN",
)


def sclite_cases(seed: int, n: int) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """``(refs, hyps, speakers)`` for ``n`` utterances; ~5% of ids are missing from ``hyps``,
    ~5% of hypotheses and ~3% of references are empty."""
    rng = random.Random(seed)
    refs: dict[str, list[str]] = {}
    hyps: dict[str, list[str]] = {}
    speakers: dict[str, str] = {}
    for k in range(n):
        uid = f"Utt{k:05d}"
        vocab = SCLITE_WORDS[: rng.choice((2, 3, 4, 8))]

        def word(vocab: tuple[str, ...] = vocab) -> str:
            return rng.choice(SCLITE_ODD_TOKENS) if rng.random() < 0.03 else rng.choice(vocab)

        refs[uid] = [] if rng.random() < 0.03 else [word() for _ in range(rng.randint(1, 14))]
        speakers[uid] = rng.choice(SPEAKERS)
        r = rng.random()
        if r < 0.05:
            continue
        hyps[uid] = [] if r < 0.10 else [word() for _ in range(rng.randint(0, 14))]
    return refs, hyps, speakers


def phoenix_cases(seed: int, n: int) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """``(refs, hyps, speakers)`` with PHOENIX-like glosses; hypotheses are edited references
    with the tokens the clean-up rules act on, some all-erased, some missing, a rare one with
    more than 1000 words (the official text sort of start times reorders those)."""
    rng = random.Random(seed)
    refs: dict[str, list[str]] = {}
    hyps: dict[str, list[str]] = {}
    speakers: dict[str, str] = {}
    for k in range(n):
        uid = f"{k % 7:02d}May_2011_Sunday_tagesschau_default-{k}"
        ref = [rng.choice(PHOENIX_REF_WORDS) for _ in range(rng.randint(1, 16))]
        refs[uid] = ref
        speakers[uid] = rng.choice(SPEAKERS)
        r = rng.random()
        if r < 0.04:
            continue
        if r < 0.08:
            hyps[uid] = [
                rng.choice(("__EPENTHESIS__", "__EMOTION__", "loc-", "__PU__", "__ON__"))
                for _ in range(rng.randint(0, 3))
            ]
            continue
        hyp: list[str] = []
        for gloss in ref:
            x = rng.random()
            if x < 0.1:
                continue
            if x < 0.2:
                hyp.append(rng.choice(PHOENIX_REF_WORDS))
            elif x < 0.35:
                hyp.append(rng.choice(PHOENIX_TRICKY))
            else:
                hyp.append(gloss)
            if rng.random() < 0.08:
                hyp.append(hyp[-1])
            if rng.random() < 0.04:
                hyp.append(rng.choice(PHOENIX_TRICKY))
        if rng.random() < 0.005:
            hyp += [rng.choice(PHOENIX_REF_WORDS) for _ in range(1100)]
        hyps[uid] = hyp
    return refs, hyps, speakers


def vac_ctm_lines(hyps: dict[str, list[str]], seed: int, mode: str) -> list[str]:
    """CTM lines as VAC-style code writes them (``start = i/100``, *end* ``(i+1)/100`` in the
    duration field), in one of three orders: ``"sorted"`` (by id), ``"shuffled"`` (utterance
    blocks in random order) or ``"interleaved"`` (every line in random order, so utterances are
    split into several blocks, which the official script's ``awk`` step handles line by line)."""
    rng = random.Random(seed)
    blocks = [
        [f"{uid} 1 {i / 100:.2f} {(i + 1) / 100:.2f} {w}" for i, w in enumerate(words)]
        for uid, words in sorted(hyps.items())
    ]
    if mode == "shuffled":
        rng.shuffle(blocks)
    lines = [line for block in blocks for line in block]
    if mode == "interleaved":
        rng.shuffle(lines)
    elif mode != "sorted" and mode != "shuffled":
        raise ValueError(mode)
    return lines


def slrt_inputs(refs: dict, hyps: dict) -> list[tuple[str, list[str], list[str]]]:
    """The SLRT cases: words holding ``EPENTHESIS`` removed (SLRT's 2014 clean-up asserts on
    them) and utterances longer than 60 words left out (SLRT's 8-bit cost matrix overflows,
    which numpy 2 turns into an error)."""
    out = []
    for uid, ref in refs.items():
        hyp = [w for w in hyps.get(uid, []) if "EPENTHESIS" not in w]
        ref = [w for w in ref if "EPENTHESIS" not in w]
        if len(ref) <= 60 and len(hyp) <= 60:
            out.append((uid, ref, hyp))
    return out
