"""Corpus readers on small hand-written release layouts (PHOENIX-2014, its 256x256 tree, 2014-T)."""

import cv2
import numpy as np
import pytest
from slr_data import DataFormatError, load_phoenix2014, load_phoenix2014t, read_corpus_csv, read_info_file

CSV_HEADER = "id|folder|signer|annotation"


def _frames(folder, count, size=(26, 21)):
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(count):
        cv2.imwrite(str(folder / f"x.avi_pid0_fn{t:06d}-0.png"), np.full((*size, 3), t, np.uint8))


def _release(root, resolution="210x260px"):
    release = root / "phoenix-2014-multisigner"
    manual = release / "annotations" / "manual"
    manual.mkdir(parents=True)
    rows = {
        "train": [("v1", "Signer01", "__ON__ REGEN  SONNE"), ("v2", "Signer02", "SONNE")],
        "dev": [("v3", "Signer01", "REGEN WIND")],
        "test": [("v4", "Signer03", "WIND")],
    }
    for split, entries in rows.items():
        lines = [CSV_HEADER] + [f"{v}|{v}/1/*.png|{s}|{a}" for v, s, a in entries]
        (manual / f"{split}.corpus.csv").write_text("\n".join(lines) + "\n")
        for v, _, _ in entries:
            _frames(release / "features" / f"fullFrame-{resolution}" / split / v / "1", 3 + len(v))
    return release


def test_release_layout_with_vocabulary_from_train(tmp_path):
    _release(tmp_path)
    corpus = load_phoenix2014(tmp_path)
    assert corpus.vocab.glosses == ("REGEN", "SONNE", "__ON__")
    first = corpus["train"][0]
    assert first.glosses == ("__ON__", "REGEN", "SONNE") and first.annotation == "__ON__ REGEN  SONNE"
    assert (
        first.num_frames == 5
        and len(first.frame_paths()) == 5
        and first.source.endswith("train.corpus.csv:2")
    )
    with pytest.raises(Exception, match="WIND"):
        corpus.vocab.encode(corpus["dev"][0].glosses, context=corpus["dev"][0].source)
    lenient = load_phoenix2014(tmp_path, unk_policy="unk")
    assert lenient.vocab.encode(["WIND"]) == [lenient.vocab.unk_id]


def test_the_256x256_tree(tmp_path):
    _release(tmp_path, resolution="256x256px")
    corpus = load_phoenix2014(tmp_path / "phoenix-2014-multisigner", resolution="256x256px")
    assert "fullFrame-256x256px" in str(corpus["dev"][0].frame_dir)
    assert corpus["dev"][0].num_frames == 5
    missing = load_phoenix2014(tmp_path, resolution="210x260px")
    assert missing["dev"][0].num_frames is None  # the 210x260 tree is absent: no count, no crash
    with pytest.raises(ValueError, match="resolution"):
        load_phoenix2014(tmp_path, resolution="100x100px")


@pytest.mark.parametrize(
    "text,message,line",
    [
        ("id|folder|signer\nv|v/1/*.png|S", "header", 1),
        (f"{CSV_HEADER}\nv1|v1/1/*.png|Signer01|A\nv2|v2/1/*.png|Signer01", "expected 4", 3),
        (f"{CSV_HEADER}\nv1|v1/1/*.png|Signer01|A\nv1|v1/1/*.png|Signer01|B", "duplicate id 'v1'", 3),
        (f"{CSV_HEADER}\n|v1/1/*.png|Signer01|A", "empty id", 2),
    ],
)
def test_corpus_csv_errors_name_file_and_line(tmp_path, text, message, line):
    path = tmp_path / "train.corpus.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message) as info:
        read_corpus_csv(path, split="train", frames_root=tmp_path)
    assert info.value.line == line and str(path) in str(info.value)


def test_info_entry_errors_name_file_and_entry(tmp_path):
    path = tmp_path / "dev_info.npy"
    good = {"fileid": "a", "folder": "dev/a/1/*.png", "signer": "S1", "label": "X", "num_frames": 3}
    np.save(path, {"prefix": "p", 0: good, 1: {**good, "num_frames": "3"}}, allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"key 1: field 'num_frames' must be int"):
        read_info_file(path)
    np.save(path, {"prefix": "p", 0: good, 2: good}, allow_pickle=True)
    with pytest.raises(DataFormatError, match="not 0..1"):
        read_info_file(path)


def test_missing_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no PHOENIX-2014 corpus"):
        load_phoenix2014(tmp_path)
    with pytest.raises(FileNotFoundError, match="PHOENIX-2014-T"):
        load_phoenix2014t(tmp_path)


def test_phoenix2014t_csv_and_frame_folders(tmp_path):
    root = tmp_path / "PHOENIX-2014-T-release-v3" / "PHOENIX-2014-T"
    manual = root / "annotations" / "manual"
    manual.mkdir(parents=True)
    header = "name|video|start|end|speaker|orth|translation"
    for split, name in (("train", "11August_2010_Wednesday_tagesschau-2"), ("dev", "d1"), ("test", "t1")):
        line = f"{name}|{name}/1/*.png|-1|-1|Signer08|DRUCK TIEF KOMMEN|tiefer luftdruck bestimmt das wetter"
        (manual / f"PHOENIX-2014-T.{split}.corpus.csv").write_text(f"{header}\n{line}\n")
        _frames(root / "features" / "fullFrame-210x260px" / split / name, 4)  # frames sit in <name>/, no 1/
    corpus = load_phoenix2014t(tmp_path)
    record = corpus["train"][0]
    assert corpus.name == "phoenix2014t" and record.signer == "Signer08"
    assert record.glosses == ("DRUCK", "TIEF", "KOMMEN") and record.translation.startswith("tiefer")
    assert record.num_frames == 4 and record.frame_dir.name == "11August_2010_Wednesday_tagesschau-2"
    assert len(corpus.vocab) == 4
    bad = manual / "PHOENIX-2014-T.dev.corpus.csv"
    bad.write_text(f"{header}\nd1|d1/1/*.png|-1|-1|Signer08|A\n")
    with pytest.raises(DataFormatError, match=r"dev.corpus.csv:2: expected 7"):
        load_phoenix2014t(tmp_path)
