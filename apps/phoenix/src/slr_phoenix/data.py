"""Corpus preparation and datasets of a run (slr-data behind the app's settings)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from slr_data import (
    AlbumentationsConfig,
    Corpus,
    EvalTransformConfig,
    FrameReadError,
    KeypointSet,
    LengthBucketBatchSampler,
    SynthConfig,
    TemporalConfig,
    VideoDataset,
    Vocabulary,
    collate_packed,
    eval_preset,
    get_corpus,
    load_keypoint_file,
    train_preset,
    write_stm,
)
from slr_data.synth import KEYPOINTS_FILE
from slr_data.transforms import ALBUMENTATIONS_PROFILE
from slr_train import EvalSet, TrainSet
from slr_train.atomic import atomic_write_bytes

from slr_phoenix.settings import SYNTHETIC_KEYPOINTS, ConfigError, DataSettings

_log = logging.getLogger(__name__)


def synthetic_config(settings: DataSettings) -> SynthConfig:
    return settings.synthetic


def synthetic_root(settings: DataSettings) -> Path:
    """Where the run's synthetic corpus is cached."""
    return settings.synthetic_cache() / synthetic_config(settings).content_key()


def prepare_corpus(settings: DataSettings) -> Corpus:
    """Load the run's corpus through the ``slr_data`` corpus registry (``data.corpus``); a synthetic
    one is generated on first use and cached (with its keypoint file when ``data.keypoints`` is
    ``synthetic``)."""
    entry = get_corpus(settings.corpus)
    if entry.synthetic:
        config = synthetic_config(settings)
        out = synthetic_root(settings)
        with_keypoints = settings.keypoints == SYNTHETIC_KEYPOINTS
        generated = entry.synthesize(out, config, keypoints=with_keypoints)
        if not generated.cached:
            _log.info("generated the synthetic corpus in %s", out)
        return entry.load(generated.root, unk_policy=settings.unk_policy)
    root = Path(settings.root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"{root}: data root does not exist (data.root / --data-root)")
    frames_root = Path(settings.frames_root).expanduser() if settings.frames_root else None
    corpus = entry.load(root, resolution=settings.resolution, frames_root=frames_root,
                        unk_policy=settings.unk_policy)  # options the corpus' reader does not take are dropped
    check_frame_folders(corpus, settings.on_error)
    return corpus


def check_frame_folders(corpus: Corpus, on_error: str) -> None:
    """Fail before training (``on_error="raise"``) if videos of the corpus have no frame folder.

    Metadata without the frames (or a wrong ``--data-root``/``data.frames_root``) is then one
    clear error up front instead of a crash in the first batch; with ``"skip"`` it is a warning.
    """
    records = [record for split in corpus for record in corpus[split]]
    missing = [record for record in records if not Path(record.frame_dir).is_dir()]
    if not missing:
        return
    first = missing[0]
    message = (f"frame folder of {first.video_id} ({first.source}) does not exist ({len(missing)} of the corpus' "
               f"{len(records)} videos have none); point --data-root at the corpus release folder, or set "
               "data.frames_root to the fullFrame-* folder the frame paths are relative to")
    if on_error == "raise":
        raise FrameReadError(message, first.frame_dir)
    _log.warning("%s: %s; data.on_error=skip: they will be skipped", first.frame_dir, message)


def keypoints_path(settings: DataSettings) -> Path | None:
    """The keypoint file of ``data.keypoints`` (``None`` without keypoints)."""
    if not settings.keypoints:
        return None
    if settings.keypoints == SYNTHETIC_KEYPOINTS:
        return synthetic_root(settings) / KEYPOINTS_FILE
    return Path(settings.keypoints).expanduser()


def load_run_keypoints(settings: DataSettings) -> KeypointSet | None:
    """Read ``data.keypoints`` (restricted unpickler) with ``data.keypoint_frame_size``; ``None`` without."""
    path = keypoints_path(settings)
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"data.keypoints: {path}: no such keypoint file")
    _log.info("reading keypoints from %s", path)
    return load_keypoint_file(path, frame_size=settings.keypoint_frame_wh())


def temporal_config(settings: DataSettings) -> TemporalConfig:
    return settings.temporal


def eval_temporal_config(settings: DataSettings) -> TemporalConfig:
    """Evaluation keeps every ``frame_interval``-th frame from the first, nothing random."""
    return dataclasses.replace(temporal_config(settings), random_offset=False, rescale=0.0, max_frames=None)


@dataclass(frozen=True)
class RunData:
    """Everything the Trainer and the final evaluation need from the corpus."""

    corpus: Corpus
    vocab: Vocabulary
    train: TrainSet
    evals: dict[str, EvalSet]


def eval_transform_config(settings: DataSettings, img_size: int) -> EvalTransformConfig:
    """The eval transform of the run's train profile (``data.augment``): it sees what training sees on
    average (``"mamba_slr"``: the original's resize 256 / centre crop 224)."""
    if settings.augment == ALBUMENTATIONS_PROFILE:  # a user's pipeline: the reference recipe's eval
        return eval_preset(img_size, profile="phoenix")
    return eval_preset(img_size, profile=settings.augment)


def train_transform_config(settings: DataSettings, img_size: int):
    """The train transform of ``data.augment``: a profile's :func:`slr_data.train_preset`, or the
    user's albumentations pipeline (its factory is imported and called here)."""
    if settings.augment == ALBUMENTATIONS_PROFILE:
        return AlbumentationsConfig(settings.albumentations_factory, size=img_size)
    return train_preset(img_size, profile=settings.augment)


def _heatmaps(settings: DataSettings, keypoints: KeypointSet | None):
    return settings.heatmap_config() if keypoints is not None else None


def eval_dataset(records, vocab: Vocabulary, settings: DataSettings, img_size: int,
                 keypoints: KeypointSet | None = None) -> VideoDataset:
    return VideoDataset(records, vocab, eval_transform_config(settings, img_size),
                        temporal=eval_temporal_config(settings),
                        on_error=settings.on_error, preload=settings.preload,
                        decode_threads=settings.num_decode_threads, keypoints=keypoints,
                        heatmaps=_heatmaps(settings, keypoints))


def build_run_data(corpus: Corpus, settings: DataSettings, img_size: int, seed: int,
                   splits: tuple[str, ...] = ("dev", "test")) -> RunData:
    """Datasets of a training run: augmented train set, plain eval sets of ``splits`` (all with
    keypoint heatmaps when ``data.keypoints`` is set; the file is read once)."""
    vocab = corpus.vocab
    train_records = corpus["train"]
    keypoints = load_run_keypoints(settings)
    train_ds = VideoDataset(train_records, vocab, train_transform_config(settings, img_size),
                            temporal=temporal_config(settings), on_error=settings.on_error,
                            preload=settings.preload, decode_threads=settings.num_decode_threads,
                            keypoints=keypoints, heatmaps=_heatmaps(settings, keypoints))
    batch_size, max_frames = settings.batch_size, settings.max_frames

    def sampler(lengths: list[int], num_replicas: int, rank: int) -> LengthBucketBatchSampler:
        return LengthBucketBatchSampler(lengths, batch_size=batch_size, max_frames=max_frames, seed=seed,
                                        num_replicas=num_replicas, rank=rank)

    train = TrainSet(train_ds, [r.video_id for r in train_records], train_ds.lengths(),
                     [label.tolist() for label in train_ds.labels], collate_packed, sampler,
                     batch_size=batch_size)  # None with a max_frames budget alone (no lr_scaling then)
    return RunData(corpus, vocab, train, build_eval_sets(corpus, settings, img_size, splits, keypoints))


def build_eval_sets(corpus: Corpus, settings: DataSettings, img_size: int, splits: tuple[str, ...],
                    keypoints: KeypointSet | None = None) -> dict[str, EvalSet]:
    """Un-augmented evaluation sets of ``splits`` (a split the corpus lacks raises ``KeyError``), with
    ``keypoints`` (default: read from ``data.keypoints`` when set)."""
    if keypoints is None:
        keypoints = load_run_keypoints(settings)
    return {split: EvalSet(split, dataset, collate_packed, dataset.lengths())
            for split in splits
            for dataset in [eval_dataset(corpus[split], corpus.vocab, settings, img_size, keypoints)]}


def reference_stm(corpus: Corpus, split: str, out: Path) -> Path:
    """Write the split's ground truth to ``out``: the corpus' own STM when it ships one."""
    source = corpus.stm.get(split)
    if source is not None and Path(source).is_file():
        text = Path(source).read_text(encoding="utf-8")
        atomic_write_bytes(out, text.encode("utf-8"))
    else:
        write_stm(out, corpus[split])
    return out

