"""slr-data: PHOENIX loading, video-consistent augmentation, collation and a synthetic corpus.

Public API (see ``docs/interfaces.md`` of the slr workspace and this package's README):
corpora (:func:`load_phoenix2014`, :func:`load_phoenix2014t`, :func:`load_csl_daily`, :class:`VideoRecord`)
and their registry (:func:`get_corpus`, :func:`list_corpora`, :func:`register_corpus`),
:class:`Vocabulary`, :func:`load_info` (restricted unpickler), frames (:func:`read_video`),
transforms (:func:`train_preset`, :func:`eval_preset`, :class:`VideoTransform`),
:class:`VideoDataset`, :func:`collate_packed` / :func:`collate_padded`,
:class:`LengthBucketBatchSampler`, keypoints (:func:`load_keypoint_file`) and heatmaps, the
synthetic corpus (:func:`generate_synthetic_corpus`, :class:`SynthConfig`), and the resource
limits every reader enforces (:class:`DataLimits`, :func:`set_limits`, :func:`check_image_file`).
"""

from slr_data.__about__ import __version__
from slr_data.collate import PackedBatch, PaddedBatch, VideoSample, collate_packed, collate_padded
from slr_data.corpus import (
    DEFAULT_CORPUS,
    Corpus,
    CorpusEntry,
    detect_corpus,
    get_corpus,
    list_corpora,
    load_corpus,
    load_csl_daily,
    register_corpus,
    VideoRecord,
    format_stm_line,
    load_phoenix2014,
    load_phoenix2014t,
    read_corpus_csv,
    read_info_file,
    read_phoenix2014t_csv,
    write_stm,
)
from slr_data.dataset import VideoDataset, check_frames
from slr_data.errors import (
    DataError,
    SlrDataError,
    DataFormatError,
    FrameReadError,
    OutputPathError,
    UnknownGlossError,
    UnsafePickleError,
)
from slr_data.frames import decode_frames, list_frame_files, read_video
from slr_data.heatmaps import (
    KEYPOINT_GROUPS,
    NUM_KEYPOINTS,
    HeatmapConfig,
    load_keypoints,
    render_heatmaps,
    render_keypoint_heatmaps,
)
from slr_data.image_header import ImageHeader, check_image_file, read_image_header
from slr_data.keypoints import TWOSTREAM_FRAME_SIZE, KeypointSet, load_keypoint_file, twostream_key
from slr_data.limits import LIMIT_ENV_VARS, DataLimits, get_limits, set_limits, using_limits
from slr_data.safe_pickle import load_info, load_pickle
from slr_data.samplers import LengthBucketBatchSampler
from slr_data.synth import SynthConfig, SynthCorpus, generate_synthetic_corpus
from slr_data.temporal import TemporalConfig, sample_frame_indices
from slr_data.textio import read_text_lines
from slr_data.transforms import (
    AlbumentationsConfig,
    AlbumentationsVideoTransform,
    EvalTransformConfig,
    RandAugmentConfig,
    TimmRandAugmentConfig,
    TrainTransformConfig,
    VideoTransform,
    eval_preset,
    matching_eval_config,
    train_preset,
    transform_config_from_dict,
)
from slr_data.vocabulary import Vocabulary

__all__ = [
    "__version__",
    "DEFAULT_CORPUS",
    "KEYPOINT_GROUPS",
    "LIMIT_ENV_VARS",
    "NUM_KEYPOINTS",
    "TWOSTREAM_FRAME_SIZE",
    "AlbumentationsConfig",
    "AlbumentationsVideoTransform",
    "Corpus",
    "CorpusEntry",
    "DataError",
    "DataFormatError",
    "DataLimits",
    "EvalTransformConfig",
    "FrameReadError",
    "HeatmapConfig",
    "ImageHeader",
    "KeypointSet",
    "LengthBucketBatchSampler",
    "OutputPathError",
    "PackedBatch",
    "PaddedBatch",
    "RandAugmentConfig",
    "SlrDataError",
    "SynthConfig",
    "SynthCorpus",
    "TemporalConfig",
    "TimmRandAugmentConfig",
    "TrainTransformConfig",
    "UnknownGlossError",
    "UnsafePickleError",
    "VideoDataset",
    "VideoRecord",
    "VideoSample",
    "VideoTransform",
    "Vocabulary",
    "check_frames",
    "check_image_file",
    "collate_packed",
    "collate_padded",
    "decode_frames",
    "detect_corpus",
    "eval_preset",
    "format_stm_line",
    "generate_synthetic_corpus",
    "get_corpus",
    "get_limits",
    "list_corpora",
    "list_frame_files",
    "load_info",
    "load_keypoint_file",
    "load_corpus",
    "load_csl_daily",
    "load_keypoints",
    "load_phoenix2014",
    "load_phoenix2014t",
    "load_pickle",
    "matching_eval_config",
    "read_corpus_csv",
    "register_corpus",
    "read_image_header",
    "read_info_file",
    "read_phoenix2014t_csv",
    "read_text_lines",
    "read_video",
    "render_heatmaps",
    "render_keypoint_heatmaps",
    "sample_frame_indices",
    "set_limits",
    "train_preset",
    "transform_config_from_dict",
    "twostream_key",
    "using_limits",
    "write_stm",
]
