"""Corpus readers: PHOENIX-2014 (info files or release layout) and PHOENIX-2014-T."""

from slr_data.corpus.phoenix2014 import (
    CORPUS_CSV_HEADER,
    find_release_root,
    load_phoenix2014,
    read_corpus_csv,
    read_info_file,
)
from slr_data.corpus.phoenix2014t import PHOENIX2014T_CSV_HEADER, load_phoenix2014t, read_phoenix2014t_csv
from slr_data.corpus.records import SPLITS, Corpus, VideoRecord
from slr_data.corpus.stm import format_stm_line, write_stm

__all__ = [
    "CORPUS_CSV_HEADER",
    "PHOENIX2014T_CSV_HEADER",
    "SPLITS",
    "Corpus",
    "VideoRecord",
    "find_release_root",
    "format_stm_line",
    "load_phoenix2014",
    "load_phoenix2014t",
    "read_corpus_csv",
    "read_info_file",
    "read_phoenix2014t_csv",
    "write_stm",
]
