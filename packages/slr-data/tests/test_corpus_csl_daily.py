"""CSL-Daily reader on small hand-written release layouts: records, Chinese glosses, errors."""

from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest
from slr_data import (
    DataFormatError,
    UnsafePickleError,
    Vocabulary,
    format_stm_line,
    load_corpus,
    load_csl_daily,
    write_stm,
)
from slr_data.corpus import read_csl_daily_labels, read_csl_daily_split

INFO = [
    {"name": "S000000_P0000_T00", "length": 3, "label_gloss": ["我", "今天", "去"],
     "label_char": ["我", "今", "天", "去"], "label_word": ["我", "今天", "去"], "signer": 0},
    {"name": "S000001_P0003_T00", "length": 4, "label_gloss": ["你", "好"], "label_char": ["你", "好"],
     "label_word": ["你好"], "signer": 3},
    {"name": "S000002_P0001_T00", "length": 5, "label_gloss": ["谢谢", "你"],
     "label_char": ["谢", "谢", "你"], "label_word": ["谢谢", "你"], "signer": 1},
    {"name": "S000003_P0002_T00", "length": 2, "label_gloss": ["好"], "label_char": ["好"],
     "label_word": ["好"], "signer": 2},
]
SPLIT = ("name|split\nS000000_P0000_T00|train\nS000001_P0003_T00|train\nS000002_P0001_T00|dev\n"
         "S000003_P0002_T00|test\n")


def _release(root, info=INFO, split=SPLIT, frames=True):
    labels = root / "sentence_label"
    labels.mkdir(parents=True)
    data = {"gloss_map": sorted({g for e in INFO for g in e["label_gloss"]}), "char_map": [], "word_map": [],
            "info": info}
    (labels / "csl2020ct_v2.pkl").write_bytes(pickle.dumps(data, protocol=4))
    (labels / "split_1.txt").write_text(split, encoding="utf-8")
    if frames:
        for entry in info[:3]:  # the test video has no frame folder: its label length is used
            folder = root / "sentence" / "frames_512x512" / entry["name"]
            folder.mkdir(parents=True)
            for t in range(entry["length"] + 1):
                cv2.imwrite(str(folder / f"{t:06d}.jpg"), np.full((8, 8, 3), 10 * t, np.uint8))
    return root


def test_release_layout_gives_chinese_records_and_a_train_vocabulary(tmp_path):
    root = _release(tmp_path / "CSL-Daily")
    corpus = load_csl_daily(tmp_path)  # the folder containing CSL-Daily is found too
    assert corpus.name == "csl-daily" and corpus.root == root and corpus.stm == {}
    assert {s: [r.video_id for r in corpus[s]] for s in corpus} == {
        "train": ["S000000_P0000_T00", "S000001_P0003_T00"], "dev": ["S000002_P0001_T00"],
        "test": ["S000003_P0002_T00"]}
    first = corpus["train"][0]
    assert first.glosses == ("我", "今天", "去") and first.annotation == "我 今天 去"
    assert first.translation == "我今天去" and first.signer == "Signer00"
    assert first.num_frames == 4  # counted: 4 files (the label says 3)
    assert first.frame_pattern == "*.jpg" and len(first.frame_paths()) == 4
    assert corpus["test"][0].num_frames == 2  # no folder: the label's length
    assert corpus.vocab == Vocabulary.from_sequences([("我", "今天", "去"), ("你", "好")])
    ids = [corpus.vocab.gloss_to_id(g) for g in ("你", "好")]
    assert corpus.vocab.encode(["你", "好"]) == ids and corpus.vocab.decode(ids) == ["你", "好"]
    assert load_csl_daily(root, with_frame_counts=False)["train"][0].num_frames == 3
    assert load_corpus("csl-daily", root, resolution="256x256px")["dev"][0].glosses == ("谢谢", "你")


def test_stm_of_chinese_records_is_utf8(tmp_path):
    corpus = load_csl_daily(_release(tmp_path / "CSL-Daily"))
    out = write_stm(tmp_path / "dev.stm", corpus["dev"])
    assert out.read_bytes().decode("utf-8") == "S000002_P0001_T00 1 Signer01 0.0 1.79769e+308 谢谢 你\n"
    assert format_stm_line(corpus["train"][1]).endswith(" 你 好")


def test_unknown_glosses_follow_the_policy(tmp_path):
    info = [*INFO[:3], {**INFO[3], "label_gloss": ["没有"]}]
    corpus = load_csl_daily(_release(tmp_path / "c", info=info), unk_policy="unk")
    assert corpus.vocab.count_unknown(corpus["test"][0].glosses) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda info: info.append("x"), "expected a dict, found str"),
        (lambda info: info[1].pop("name"), "field 'name' must be str"),
        (lambda info: info[1].update(name="a b"), "must be non-empty without spaces"),
        (lambda info: info[1].update(name="../x"), "must not be a path"),
        (lambda info: info[1].update(label_gloss="你 好"), "'label_gloss' must be a list of str"),
        (lambda info: info[1].update(label_gloss=["你 好"]), "gloss '你 好' must be non-empty without"),
        (lambda info: info[1].update(signer="3"), "'signer' must be a non-negative int"),
        (lambda info: info[1].update(length=-1), "'length' must be a non-negative int"),
        (lambda info: info.append(dict(info[0])), "duplicate name 'S000000_P0000_T00'"),
    ],
)
def test_label_file_errors_name_file_and_entry(tmp_path, change, message):
    info = [dict(entry) for entry in INFO]
    change(info)
    root = _release(tmp_path / "c", info=info, frames=False)
    with pytest.raises(DataFormatError, match=message) as caught:
        load_csl_daily(root)
    assert caught.value.path == os.fspath(root / "sentence_label" / "csl2020ct_v2.pkl")
    assert caught.value.entry is not None


@pytest.mark.parametrize(
    ("split", "message", "line"),
    [
        ("id|split\n", "header 'id|split' is not 'name|split'", 1),
        ("name|split\nS000000_P0000_T00\n", "expected 2 '|'-separated fields, found 1", 2),
        ("name|split\nS000000_P0000_T00|val\n", "split 'val' is not one of", 2),
        ("name|split\nS000000_P0000_T00|train\nS000000_P0000_T00|dev\n", "duplicate name", 3),
        ("name|split\nS000000_P0000_T00|train\nS999999_P0000_T00|dev\n", "'S999999_P0000_T00' is not in", 3),
        ("name|split\nS000002_P0001_T00|dev\n", "no train videos", None),
    ],
)
def test_split_file_errors_name_file_and_line(tmp_path, split, message, line):
    root = _release(tmp_path / "c", split=split, frames=False)
    with pytest.raises(DataFormatError, match=message) as caught:
        load_csl_daily(root)
    assert caught.value.path == os.fspath(root / "sentence_label" / "split_1.txt")
    assert caught.value.line == line


def test_a_label_file_that_is_no_dict_or_runs_code_is_refused(tmp_path):
    root = _release(tmp_path / "c", frames=False)
    labels = root / "sentence_label" / "csl2020ct_v2.pkl"
    labels.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(DataFormatError, match="expected a dict with an 'info' list"):
        read_csl_daily_labels(labels)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    labels.write_bytes(pickle.dumps({"info": [Evil()]}))
    with pytest.raises(UnsafePickleError):
        load_csl_daily(root)
    assert not (tmp_path / "pwned").exists()


def test_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSL-Daily corpus found"):
        load_csl_daily(tmp_path)
    root = _release(tmp_path / "c", frames=False)
    (root / "sentence_label" / "split_1.txt").unlink()
    with pytest.raises(FileNotFoundError, match="split file is missing"):
        load_csl_daily(root)
    split_file = _release(tmp_path / "d", frames=False) / "sentence_label" / "split_1.txt"
    assert read_csl_daily_split(split_file) == {
        "S000000_P0000_T00": "train", "S000001_P0003_T00": "train", "S000002_P0001_T00": "dev",
        "S000003_P0002_T00": "test"}
