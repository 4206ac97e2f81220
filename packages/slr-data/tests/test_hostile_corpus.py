"""Careless or hostile metadata: entries out of range, frame folders escaping the corpus, huge text."""

import numpy as np
import pytest
from slr_data import DataLimits, load_phoenix2014, read_text_lines, using_limits
from slr_data.corpus import read_corpus_csv, read_info_file, read_phoenix2014t_csv
from slr_data.errors import DataFormatError


def _entry(**changes):
    entry = {"fileid": "v0", "folder": "dev/v0/1/*.png", "signer": "S1", "label": "A B", "num_frames": 3}
    entry.update(changes)
    return entry


def _info(tmp_path, **changes):
    path = tmp_path / "dev_info.npy"
    np.save(
        path, {"prefix": "frames", 0: _entry(), 1: _entry(**{"fileid": "v1", **changes})}, allow_pickle=True
    )
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_frames": 10**30}, "num_frames 1000000000000000000000000000000 is more than a video may have"),
        ({"num_frames": 10**5000}, r"num_frames <int of 16610 bits> is more than"),
        ({"num_frames": -1}, "negative num_frames -1"),
        ({"num_frames": "12"}, "field 'num_frames' must be int, got '12'"),
        ({"num_frames": 2.5}, "field 'num_frames' must be int"),
        ({"num_frames": True}, "field 'num_frames' must be int"),
        ({"folder": "../../../../tmp/elsewhere/*.png"}, "leads outside the frames root"),
        ({"folder": "dev/../../x/*.png"}, "leads outside the frames root"),
        ({"folder": "dev/v\x001/*.png"}, "NUL character"),
        ({"fileid": "two words"}, "fileid 'two words' must be non-empty without spaces"),
        ({"signer": ""}, "signer '' must be non-empty"),
        ({"label": list(range(10**4))}, r"field 'label' must be str, got \[0, 1, 2, 3, 4, 5, \.\.\.\]"),
    ],
)
def test_bad_info_entries_name_the_entry(tmp_path, changes, message):
    path = _info(tmp_path, **changes)
    with pytest.raises(DataFormatError, match=message) as info:
        read_info_file(path)
    assert str(info.value).startswith(f"{path}: key 1: ")


def test_num_frames_limit_is_the_video_limit(tmp_path):
    path = _info(tmp_path, num_frames=20_000)
    with pytest.raises(DataFormatError, match=r"\(10000, SLR_DATA_MAX_VIDEO_FRAMES\)"):
        read_info_file(path)
    with using_limits(max_video_frames=20_000):
        assert read_info_file(path)[1].num_frames == 20_000


def test_frame_folders_stay_under_the_root(tmp_path):
    path = _info(tmp_path, folder="/abs/dev/v1/1/*.png")  # absolute: re-rooted under the prefix
    records = read_info_file(path)
    assert records[1].frame_dir == tmp_path / "frames" / "abs" / "dev" / "v1" / "1"
    path = _info(tmp_path, folder="dev/./x/../v1/1/*.png")  # '..' that stays inside is normalised
    assert read_info_file(path)[1].frame_dir == tmp_path / "frames" / "dev" / "v1" / "1"
    path = _info(tmp_path, folder="../outside/*.png")
    with pytest.raises(DataFormatError, match="key 1: field 'folder'"):
        read_info_file(path, frames_root=tmp_path / "explicit")


def test_corpus_loader_refuses_an_escaping_folder(slr_data_tiny_corpus, tmp_path):
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(slr_data_tiny_corpus / "preprocess", corpus / "preprocess")
    info_path = corpus / "preprocess" / "phoenix2014" / "dev_info.npy"
    info = np.load(info_path, allow_pickle=True).item()  # our own test file
    info[0]["folder"] = "../../../../tmp/elsewhere/*.png"
    np.save(info_path, info, allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"dev_info.npy: key 0: field 'folder': path '\.\./\.\./"):
        load_phoenix2014(corpus)


def _csv(tmp_path, rows, header="id|folder|signer|annotation"):
    path = tmp_path / "dev.corpus.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_rows_name_the_line(tmp_path):
    good = "v0|v0/1/*.png|S1|A B"
    path = _csv(tmp_path, [good, "v1|../../../etc/*|S1|A"])
    with pytest.raises(DataFormatError, match=r"dev.corpus.csv:3: folder: path '\.\./\.\./\.\./etc'"):
        read_corpus_csv(path, split="dev", frames_root=tmp_path, with_frame_counts=False)
    path = _csv(tmp_path, [good, "v 1|v1/1/*.png|S1|A"])
    with pytest.raises(DataFormatError, match=":3: id 'v 1' must be non-empty without spaces"):
        read_corpus_csv(path, split="dev", frames_root=tmp_path, with_frame_counts=False)
    header = "name|video|start|end|speaker|orth|translation"
    path = _csv(tmp_path, ["../x||-1|-1|S1|A|t"], header=header)
    with pytest.raises(DataFormatError, match=":2: name '../x' must not be a path"):
        read_phoenix2014t_csv(path, split="dev", frames_root=tmp_path, with_frame_counts=False)


def test_text_inputs_are_bounded(tmp_path):
    long_line = _csv(tmp_path, ["v0|v0/1/*.png|S1|" + "A " * (1 << 20)])
    with pytest.raises(DataFormatError, match=r"dev.corpus.csv:2: line longer than 1048576 bytes"):
        read_corpus_csv(long_line, split="dev", frames_root=tmp_path)
    with pytest.raises(DataFormatError, match="/dev/zero:1: line longer than"):
        read_corpus_csv("/dev/zero", split="dev", frames_root=tmp_path)
    many = _csv(tmp_path, [f"v{i}|v{i}/1/*.png|S1|A" for i in range(10)])
    with using_limits(max_lines=5), pytest.raises(DataFormatError, match=":6: more than 5 lines"):
        read_corpus_csv(many, split="dev", frames_root=tmp_path)
    assert len(read_text_lines(many, limits=DataLimits(max_lines=11))) == 11
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"id|folder|signer|annotation\nv0|v0|S1|M\xdcNCHEN\n")
    with pytest.raises(DataFormatError, match="latin.csv:2: not UTF-8 text"):
        read_corpus_csv(latin, split="dev", frames_root=tmp_path)


def test_text_reader_line_handling(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbfa\r\nb\n\nc")
    assert read_text_lines(path) == ["a", "b", "", "c"]
    exact = tmp_path / "exact.txt"
    exact.write_bytes(b"x" * 8 + b"\r\n" + b"y" * 8)
    assert read_text_lines(exact, limits=DataLimits(max_line_bytes=8)) == ["x" * 8, "y" * 8]
    with pytest.raises(DataFormatError, match=":1: line longer than 7 bytes"):
        read_text_lines(exact, limits=DataLimits(max_line_bytes=7))
    with pytest.raises(DataFormatError, match="is a directory"):
        read_text_lines(tmp_path)
