"""Corpus readers (PHOENIX-2014, PHOENIX-2014-T, CSL-Daily) and the corpus registry.

Importing this package registers the built-in corpora (:mod:`slr_data.corpus.builtin`).
"""

from slr_data.corpus.csl_daily import (
    find_csl_daily_root,
    load_csl_daily,
    read_csl_daily_labels,
    read_csl_daily_split,
)
from slr_data.corpus.phoenix2014 import (
    CORPUS_CSV_HEADER,
    find_release_root,
    load_phoenix2014,
    read_corpus_csv,
    read_info_file,
)
from slr_data.corpus.phoenix2014t import PHOENIX2014T_CSV_HEADER, load_phoenix2014t, read_phoenix2014t_csv
from slr_data.corpus.registry import (
    CorpusEntry,
    detect_corpus,
    get_corpus,
    list_corpora,
    load_corpus,
    register_corpus,
)
from slr_data.corpus.records import SPLITS, Corpus, VideoRecord
from slr_data.corpus.stm import format_stm_line, write_stm

from slr_data.corpus.builtin import DEFAULT_CORPUS  # importing it registers the built-in corpora

__all__ = [
    "CORPUS_CSV_HEADER",
    "DEFAULT_CORPUS",
    "PHOENIX2014T_CSV_HEADER",
    "SPLITS",
    "Corpus",
    "CorpusEntry",
    "detect_corpus",
    "find_csl_daily_root",
    "get_corpus",
    "list_corpora",
    "load_corpus",
    "load_csl_daily",
    "read_csl_daily_labels",
    "read_csl_daily_split",
    "register_corpus",
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
