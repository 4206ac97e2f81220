"""slr-data: PHOENIX loading, video-consistent augmentation, collation and a synthetic corpus."""

from slr_data.__about__ import __version__
from slr_data.corpus import (
    Corpus,
    VideoRecord,
    load_phoenix2014,
    load_phoenix2014t,
    read_corpus_csv,
    read_info_file,
    read_phoenix2014t_csv,
    write_stm,
)
from slr_data.errors import DataError, DataFormatError, FrameReadError, UnknownGlossError, UnsafePickleError
from slr_data.frames import decode_frames, list_frame_files, read_video
from slr_data.safe_pickle import load_info, load_pickle
from slr_data.vocabulary import Vocabulary

__all__ = [
    "__version__",
    "Corpus",
    "DataError",
    "DataFormatError",
    "FrameReadError",
    "UnknownGlossError",
    "UnsafePickleError",
    "VideoRecord",
    "Vocabulary",
    "decode_frames",
    "list_frame_files",
    "load_info",
    "load_phoenix2014",
    "load_phoenix2014t",
    "load_pickle",
    "read_corpus_csv",
    "read_info_file",
    "read_phoenix2014t_csv",
    "read_video",
    "write_stm",
]
