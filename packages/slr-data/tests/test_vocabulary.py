import json

import numpy as np
import pytest
from slr_data import Vocabulary
from slr_data.errors import DataFormatError, UnknownGlossError


def test_ids_blank_and_lengths():
    vocab = Vocabulary.from_sequences([["B", "A"], ["C", "A"]])
    assert vocab.glosses == ("A", "B", "C")
    assert vocab.counts == (2, 1, 1)
    assert len(vocab) == 4 and vocab.blank_id == 0 and vocab.unk_id is None
    assert vocab.encode(["C", "A"]) == [3, 1]
    assert vocab.decode([0, 3, 0, 1]) == ["C", "A"]
    assert vocab.decode([0, 2], skip_blank=False) == ["<blank>", "B"]
    with pytest.raises(IndexError):
        vocab.decode([4])


def test_unknown_policy_error_names_context():
    vocab = Vocabulary(["A", "B"])
    with pytest.raises(UnknownGlossError, match=r"video-7: unknown gloss\(es\) 'X', 'Y'"):
        vocab.encode(["A", "X", "Y", "X"], context="video-7")


def test_unknown_policy_unk_appends_id_after_real_glosses():
    vocab = Vocabulary(["A", "B"], unk_policy="unk")
    assert len(vocab) == 4 and vocab.unk_id == 3
    assert vocab.encode(["A", "Z", "B"]) == [1, 3, 2]
    assert vocab.decode([3]) == ["<unk>"]
    assert vocab.count_unknown(["A", "Z", "Q"]) == 2


def test_invalid_vocabularies_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(["A", "A"])
    with pytest.raises(ValueError, match="whitespace"):
        Vocabulary(["A B"])
    with pytest.raises(ValueError, match="reserved"):
        Vocabulary(["<unk>"])
    with pytest.raises(ValueError, match="unk_policy"):
        Vocabulary(["A"], unk_policy="drop")


def test_json_save_load_round_trip(tmp_path):
    vocab = Vocabulary(["ZWEI", "EINS", "__ON__"], counts=[3, 2, 1], unk_policy="unk")
    path = vocab.save(tmp_path / "run" / "vocab.json")
    assert Vocabulary.load(path) == vocab
    assert Vocabulary.load(path).counts == (3, 2, 1)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_load_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "vocab.json"
    bad.write_text('{\n "format": "slr-vocabulary",\n oops\n}')
    with pytest.raises(DataFormatError, match=r"vocab.json:3"):
        Vocabulary.load(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(DataFormatError, match="not an slr vocabulary"):
        Vocabulary.load(bad)


def test_gloss_dict_round_trip(tmp_path):
    vocab = Vocabulary.from_sequences([["__ON__", "REGEN", "loc-NORD"], ["REGEN"]])
    path = vocab.save_gloss_dict(tmp_path / "gloss_dict.npy")
    raw = np.load(path, allow_pickle=True).item()
    assert raw == {"REGEN": [1, 2], "__ON__": [2, 1], "loc-NORD": [3, 1]}
    assert Vocabulary.from_gloss_dict(path) == vocab


def test_gloss_dict_with_gaps_is_rejected(tmp_path):
    path = tmp_path / "gloss_dict.npy"
    np.save(path, {"A": [1, 5], "B": [3, 1]}, allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"gloss_dict.npy: gloss ids must be exactly 1..2"):
        Vocabulary.from_gloss_dict(path)


def test_real_gloss_dict_round_trips(slr_data_phoenix_meta, tmp_path):
    source = slr_data_phoenix_meta / "gloss_dict.npy"
    vocab = Vocabulary.from_gloss_dict(source)
    raw = np.load(source, allow_pickle=True).item()
    assert len(vocab) == len(raw) + 1
    assert vocab.to_gloss_dict() == raw
    again = Vocabulary.from_gloss_dict(vocab.save_gloss_dict(tmp_path / "gloss_dict.npy"))
    assert again == vocab and again.to_gloss_dict() == raw
    assert Vocabulary.load(vocab.save(tmp_path / "vocab.json")).to_gloss_dict() == raw
