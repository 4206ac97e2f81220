"""Registration of the built-in corpora: ``synthetic``, ``phoenix2014``, ``phoenix2014t``, ``csl-daily``.

Adding a corpus is one reader module (like :mod:`slr_data.corpus.csl_daily`) plus one
:func:`~slr_data.corpus.registry.register_corpus` call here.
"""

from __future__ import annotations

import json
from pathlib import Path

from slr_data.corpus.csl_daily import find_csl_daily_root, load_csl_daily
from slr_data.corpus.phoenix2014 import _find_info_dir, find_release_root, load_phoenix2014
from slr_data.corpus.phoenix2014t import _find_root as find_phoenix2014t_root
from slr_data.corpus.phoenix2014t import load_phoenix2014t
from slr_data.corpus.registry import register_corpus

__all__ = ["DEFAULT_CORPUS", "SYNTH_MARKER"]

SYNTH_MARKER = "synth_config.json"
#: the corpus a data root that no registered corpus recognises is taken for (its reader then says
#: what it looked for); e.g. ``slr-phoenix train --data-root PATH`` of a folder still being filled
DEFAULT_CORPUS = "phoenix2014"


def _synth_format(root: Path) -> str | None:
    marker = root / SYNTH_MARKER
    if not marker.is_file() or marker.stat().st_size > 1 << 20:
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("format") if isinstance(data, dict) else None


def _synthesize(layout: str):
    def synthesize(out, config=None, *, overwrite: bool = False, keypoints: bool = False):
        from slr_data.synth.writer import generate_synthetic_corpus

        return generate_synthetic_corpus(out, config, overwrite=overwrite, keypoints=keypoints, layout=layout)

    synthesize.__doc__ = f"Write a synthetic corpus in the {layout} layout (see generate_synthetic_corpus)."
    return synthesize


def _recognise_phoenix2014(root: Path) -> bool:
    return find_release_root(root) is not None or _find_info_dir(root) is not None


register_corpus(
    "synthetic",
    load_phoenix2014,
    recognise=lambda root: _synth_format(root) == "slr-synthetic-phoenix",
    protocol="phoenix2014",
    layouts=("slr-data synth output: phoenix-2014-multisigner/ + preprocess/phoenix2014/ "
             "+ synth_config.json",),
    gloss_language="synthetic signs with German (PHOENIX weather) gloss names",
    encoding="UTF-8 (ASCII names), glosses separated by spaces",
    synthetic=True,
    synthesize=_synthesize("phoenix2014"),
)
register_corpus(
    "phoenix2014",
    load_phoenix2014,
    recognise=_recognise_phoenix2014,
    protocol="phoenix2014",
    layouts=(
        "release: phoenix-2014-multisigner/annotations/manual/{split}.corpus.csv + features/fullFrame-*/",
        "preprocessed: {split}_info.npy + gloss_dict.npy (or preprocess/phoenix2014/)",
    ),
    gloss_language="German Sign Language (DGS), weather forecasts",
    encoding="UTF-8 (upper-case German glosses, PHOENIX markers such as __ON__ / loc-), space-separated",
)
register_corpus(
    "phoenix2014t",
    load_phoenix2014t,
    recognise=lambda root: find_phoenix2014t_root(root) is not None,
    protocol="phoenix2014t",
    layouts=("release: PHOENIX-2014-T/annotations/manual/PHOENIX-2014-T.{split}.corpus.csv "
             "+ features/fullFrame-*/",),
    gloss_language="German Sign Language (DGS), weather forecasts (with German translations)",
    encoding="UTF-8 (upper-case German glosses), space-separated",
)
register_corpus(
    "csl-daily",
    load_csl_daily,
    recognise=lambda root: find_csl_daily_root(root) is not None,
    protocol="csl-daily",
    layouts=(
        "release: sentence_label/csl2020ct_v2.pkl + sentence_label/split_1.txt "
        "+ sentence/frames_512x512/<name>/*.jpg",
    ),
    gloss_language="Chinese Sign Language (CSL), daily-life sentences (with Chinese translations)",
    encoding="UTF-8 Chinese glosses (one list item per gloss in label_gloss; space-joined in STM/CTM)",
    synthesize=_synthesize("csl-daily"),
)
