"""Writing a synthetic corpus in the PHOENIX-2014 on-disk layout.

::

    <out>/
      phoenix-2014-multisigner/                               # the release layout
        annotations/manual/{train,dev,test}.corpus.csv        # id|folder|signer|annotation
        features/fullFrame-210x260px/<split>/<id>/1/<stem>.avi_pid0_fn000000-0.png
        evaluation/phoenix2014-groundtruth-{dev,test}.stm
      preprocess/phoenix2014/                                 # the VAC-style preprocessed files
        {train,dev,test}_info.npy, gloss_dict.npy, phoenix2014-groundtruth-{train,dev,test}.stm
      synth_config.json                                       # config, counts, gloss signatures
      phoenix-2014-keypoints_synthetic-256x256.pkl            # optional (keypoints=True): TwoStream-SLR form

(The folder keeps the release name ``fullFrame-210x260px`` although frames are
``image_size x image_size``.) The corpus is built in a temporary sibling folder and renamed into
place, so ``<out>`` is either complete or absent. The keypoint pickle (:data:`KEYPOINTS_FILE`) is
``{"fullFrame-210x260px/<split>/<id>/1/<stem>": {"keypoints": (T, 121, 3) float32}}`` in 256x256
pixels, like TwoStream-SLR's PHOENIX-2014 file (:mod:`slr_data.synth.keypoints` says which
points are where); it is derived from the config, so it can be added to a corpus later.
"""

from __future__ import annotations

import datetime
import json
import os
import pickle
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from slr_data._atomic import atomic_save_npy, atomic_write_bytes, atomic_write_text
from slr_data.corpus.phoenix2014 import CORPUS_CSV_HEADER
from slr_data.corpus.records import VideoRecord
from slr_data.corpus.stm import write_stm
from slr_data.keypoints import twostream_key
from slr_data.synth.config import SynthConfig
from slr_data.synth.keypoints import synthetic_keypoints
from slr_data.synth.language import build_language, ensure_train_coverage, sample_sentence
from slr_data.synth.render import (
    body_geometry,
    build_timeline,
    describe_signatures,
    noise_bank,
    render_video,
    signer_styles,
    video_layout,
)
from slr_data.textio import read_text_lines
from slr_data.vocabulary import Vocabulary

__all__ = [
    "SynthCorpus",
    "generate_synthetic_corpus",
    "synthetic_keypoint_data",
    "write_synthetic_keypoints",
    "FORMAT_VERSION",
    "KEYPOINTS_FILE",
    "LAYOUTS",
]

FORMAT_VERSION = 1
RELEASE_DIR = "phoenix-2014-multisigner"
FEATURES_DIR = "fullFrame-210x260px"
PREPROCESS_DIR = Path("preprocess") / "phoenix2014"
MARKER = "synth_config.json"
KEYPOINTS_FILE = "phoenix-2014-keypoints_synthetic-256x256.pkl"
_SPLIT_CODES = {"train": 0, "dev": 1, "test": 2}
#: ``layout=`` of :func:`generate_synthetic_corpus` -> the marker file's ``format``
LAYOUTS = {"phoenix2014": "slr-synthetic-phoenix", "csl-daily": "slr-synthetic-csl-daily"}


@dataclass(frozen=True)
class SynthCorpus:
    """Where a generated corpus lives.

    Attributes:
        root: the output folder (pass it to :func:`~slr_data.load_phoenix2014`).
        release_root: ``root/phoenix-2014-multisigner``.
        preprocess_dir: ``root/preprocess/phoenix2014`` (info files, gloss_dict, STMs).
        config: the config it was generated from.
        counts: videos per split.
        cached: ``True`` when an identical corpus already existed (then only a requested
            keypoint file may have been added).
        keypoints: the keypoint pickle (``root/`` :data:`KEYPOINTS_FILE`) when it exists, else ``None``.
    """

    root: Path
    release_root: Path
    preprocess_dir: Path
    config: SynthConfig
    counts: dict[str, int]
    cached: bool = False
    keypoints: Path | None = None


def _session_names(total: int) -> list[str]:
    """PHOENIX-like ids: ``01April_2010_Thursday_synth_default-3`` (8 videos per session)."""
    start = datetime.date(2009, 1, 1)
    names = []
    for index in range(total):
        day = start + datetime.timedelta(days=index // 8)
        names.append(
            f"{day.day:02d}{day.strftime('%B')}_{day.year}_{day.strftime('%A')}_synth_default-{index % 8}"
        )
    return names


def _plan(config: SynthConfig):
    """Sentences, signers and ids of every video (deterministic from the seed)."""
    language = build_language(config)
    styles, shares = signer_styles(config)
    sizes = {"train": config.num_train, "dev": config.num_dev, "test": config.num_test}
    ids = iter(_session_names(sum(sizes.values())))
    plan = {}
    for split, size in sizes.items():
        rng = np.random.default_rng([config.seed, _SPLIT_CODES[split], 1])
        sentences = [sample_sentence(language, config, rng) for _ in range(size)]
        if split == "train":
            ensure_train_coverage(sentences, language, rng)
        signers = rng.choice(len(styles), size=size, p=shares)
        plan[split] = [(next(ids), int(s), sentence) for s, sentence in zip(signers, sentences, strict=True)]
    return language, styles, plan


def _video_timeline(config: SynthConfig, split: str, index: int, sentence, style, language):
    """The video's random stream and its timeline (the first draws from that stream)."""
    gloss_index = {g: i for i, g in enumerate(language.glosses)}
    rng = np.random.default_rng([config.seed, _SPLIT_CODES[split], 2, index])
    return rng, build_timeline([gloss_index[g] for g in sentence], style, config, rng)


def _write_video(job) -> int:
    split, index, video_id, signer, sentence, folder, language, styles, config, noise = job
    rng, timeline = _video_timeline(config, split, index, sentence, styles[signer], language)
    frames = render_video(timeline, styles[signer], config, rng, noise)
    folder.mkdir(parents=True, exist_ok=True)
    stem = video_id.rsplit("_default-", 1)[0]
    for t, frame in enumerate(frames):
        path = folder / f"{stem}.avi_pid0_fn{t:06d}-0.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), _png_params(config)):
            raise OSError(f"{path}: cv2.imwrite failed")
    return len(frames)


def _png_params(config: SynthConfig) -> list[int]:
    params = [cv2.IMWRITE_PNG_COMPRESSION, config.png_compression]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # no row filter: fastest and smallest for these frames
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    return params


def _build(tmp: Path, config: SynthConfig) -> dict[str, int]:
    language, styles, plan = _plan(config)
    features = tmp / RELEASE_DIR / "features" / FEATURES_DIR
    noise = noise_bank(config) if config.noise_std > 0 else None
    jobs, keys = [], []
    for split, videos in plan.items():
        for index, (video_id, signer, sentence) in enumerate(videos):
            folder = features / split / video_id / "1"
            jobs.append((split, index, video_id, signer, sentence, folder, language, styles, config, noise))
            keys.append((split, index))
    pool = ThreadPoolExecutor(max_workers=config.write_threads, thread_name_prefix="slr-synth")
    try:
        frame_counts = dict(zip(keys, pool.map(_write_video, jobs), strict=True))
    except BaseException:  # Ctrl-C or a failed write: drop the queued videos, do not render them all
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)

    records = {split: [] for split in plan}
    for split, videos in plan.items():
        for index, (video_id, signer, sentence) in enumerate(videos):
            records[split].append(
                VideoRecord(
                    video_id=video_id,
                    split=split,
                    signer=f"Signer{signer + 1:02d}",
                    glosses=tuple(sentence),
                    num_frames=frame_counts[(split, index)],
                    frame_dir=features / split / video_id / "1",
                    annotation=" ".join(sentence),
                )
            )
    _write_metadata(tmp, records, config, language)
    return {split: len(rs) for split, rs in records.items()}


def _write_metadata(tmp: Path, records: dict[str, list[VideoRecord]], config: SynthConfig, language) -> None:
    release = tmp / RELEASE_DIR
    preprocess = tmp / PREPROCESS_DIR
    prefix = os.path.relpath(release / "features" / FEATURES_DIR, preprocess).replace(os.sep, "/")
    for split, rows in records.items():
        lines = ["|".join(CORPUS_CSV_HEADER)]
        info: dict = {"prefix": prefix}
        for i, r in enumerate(rows):
            folder = f"{r.video_id}/1/*.png"
            line = f"{r.video_id}|{folder}|{r.signer}|{r.annotation}"
            lines.append(line)
            info[i] = {
                "fileid": r.video_id,
                "folder": f"{split}/{folder}",
                "signer": r.signer,
                "label": r.annotation,
                "num_frames": r.num_frames,
                "original_info": line,
            }
        atomic_write_text(release / "annotations" / "manual" / f"{split}.corpus.csv", "\n".join(lines) + "\n")
        atomic_save_npy(preprocess / f"{split}_info.npy", info)
        write_stm(preprocess / f"phoenix2014-groundtruth-{split}.stm", rows)
        if split != "train":
            write_stm(release / "evaluation" / f"phoenix2014-groundtruth-{split}.stm", rows)
    vocab = Vocabulary.from_sequences(r.glosses for rows in records.values() for r in rows)
    vocab.save_gloss_dict(preprocess / "gloss_dict.npy")
    summary = {
        "format": "slr-synthetic-phoenix",
        "version": FORMAT_VERSION,
        "content_key": config.content_key(),
        "config": config.to_dict(),
        "counts": {split: len(rows) for split, rows in records.items()},
        "frames": {split: int(sum(r.num_frames for r in rows)) for split, rows in records.items()},
        "signatures": describe_signatures(language.glosses),
    }
    atomic_write_text(tmp / MARKER, json.dumps(summary, indent=1) + "\n")


def synthetic_keypoint_data(config: SynthConfig) -> dict[str, dict[str, np.ndarray]]:
    """``{TwoStream key: {"keypoints": (T, 121, 3) float32}}`` of every video of the corpus
    ``config`` describes (replays each video's random stream up to the hand layout; no rendering)."""
    language, styles, plan = _plan(config)
    out = {}
    for split, videos in plan.items():
        for index, (video_id, signer, sentence) in enumerate(videos):
            rng, timeline = _video_timeline(config, split, index, sentence, styles[signer], language)
            layout = video_layout(timeline, styles[signer], config, rng)
            body = body_geometry(styles[signer], config.image_size, layout.shift)
            key = twostream_key(f"{split}/{video_id}/1/*.png", video_id)
            out[key] = {"keypoints": synthetic_keypoints(timeline, layout, body, config.image_size)}
    return out


def write_synthetic_keypoints(root: str | os.PathLike, config: SynthConfig) -> Path:
    """Write ``root/`` :data:`KEYPOINTS_FILE` (atomically) for the corpus of ``config``; returns its path."""
    data = synthetic_keypoint_data(config)
    return atomic_write_bytes(Path(root) / KEYPOINTS_FILE, pickle.dumps(data, protocol=4))


def _build_csl_daily(tmp: Path, config: SynthConfig) -> dict[str, int]:
    from slr_data.synth.csl_daily import build_csl_daily  # it reuses this module's plan

    counts, extra = build_csl_daily(tmp, config)
    summary = {"format": LAYOUTS["csl-daily"], "version": FORMAT_VERSION, "content_key": config.content_key(),
               "config": config.to_dict(), "counts": counts, **extra}
    atomic_write_text(tmp / MARKER, json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return counts


def _existing_key(out: Path, layout: str = "phoenix2014") -> str | None:
    marker = out / MARKER
    try:
        if not marker.is_file():
            return None
        data = json.loads("\n".join(read_text_lines(marker)))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("format") != LAYOUTS[layout] or data.get("version") != FORMAT_VERSION:
        return None
    return data.get("content_key")


def _result(out: Path, config: SynthConfig, counts: dict[str, int], cached: bool,
            layout: str = "phoenix2014") -> SynthCorpus:
    if layout != "phoenix2014":
        return SynthCorpus(out, out, out, config, counts, cached, None)
    keypoints = out / KEYPOINTS_FILE
    found = keypoints if keypoints.is_file() else None
    return SynthCorpus(out, out / RELEASE_DIR, out / PREPROCESS_DIR, config, counts, cached, found)


def _refuse_replacing_inputs(out: Path, config: SynthConfig) -> None:
    """The corpus being replaced must not hold this run's own inputs (``phoenix_meta``)."""
    if config.phoenix_meta is None:
        return
    meta = Path(os.path.realpath(config.phoenix_meta))
    if meta == Path(os.path.realpath(out)) or Path(os.path.realpath(out)) in meta.parents:
        raise FileExistsError(
            f"{out}: the corpus to replace holds this run's phoenix_meta ({config.phoenix_meta}); "
            "refusing to overwrite an input: copy the metadata elsewhere first"
        )


def generate_synthetic_corpus(
    out_dir: str | os.PathLike,
    config: SynthConfig | None = None,
    *,
    overwrite: bool = False,
    keypoints: bool = False,
    layout: str = "phoenix2014",
) -> SynthCorpus:
    """Write a synthetic PHOENIX-2014-format corpus to ``out_dir`` (see the module docstring).

    Idempotent: if ``out_dir`` already holds a corpus generated from an equal config (same
    :meth:`SynthConfig.content_key`), nothing is written and ``cached`` is ``True``. A folder
    holding a different synthetic corpus is replaced only with ``overwrite=True``; any other
    non-empty folder is never touched. ``keypoints=True`` also writes the keypoint pickle
    (:data:`KEYPOINTS_FILE`), into a cached corpus too if it lacks one.

    ``layout="csl-daily"`` writes the same videos in the CSL-Daily release layout with Chinese
    glosses instead (:mod:`slr_data.synth.csl_daily`; ``root``, ``release_root`` and
    ``preprocess_dir`` are then all ``out_dir``; no keypoints).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    if keypoints and layout != "phoenix2014":
        raise ValueError(f"keypoints are written for the phoenix2014 layout only, not {layout!r}")
    config = SynthConfig() if config is None else config
    out = Path(out_dir)
    if out.is_symlink():  # written through the link: the corpus goes where it points
        out = Path(os.path.realpath(out))
    counts = {"train": config.num_train, "dev": config.num_dev, "test": config.num_test}
    replace_existing = False
    if out.exists():
        key = _existing_key(out, layout)
        if key == config.content_key():
            if keypoints and not (out / KEYPOINTS_FILE).is_file():
                write_synthetic_keypoints(out, config)
            return _result(out, config, counts, cached=True, layout=layout)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        elif key is None:
            raise FileExistsError(
                f"{out}: exists and is not a synthetic corpus (of the {layout} layout); "
                "choose an empty or new folder"
            )
        elif not overwrite:
            raise FileExistsError(
                f"{out}: holds a synthetic corpus from a different config; "
                "pass overwrite=True (CLI: --overwrite) to replace it"
            )
        else:
            replace_existing = True
            _refuse_replacing_inputs(out, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        counts = _build(tmp, config) if layout == "phoenix2014" else _build_csl_daily(tmp, config)
        if keypoints:
            write_synthetic_keypoints(tmp, config)
        if replace_existing:
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, out)
            except OSError:
                if _existing_key(out, layout) != config.content_key():  # not another process's corpus
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
                if keypoints and not (out / KEYPOINTS_FILE).is_file():
                    write_synthetic_keypoints(out, config)
                return _result(out, config, counts, cached=True, layout=layout)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _result(out, config, counts, cached=False, layout=layout)
