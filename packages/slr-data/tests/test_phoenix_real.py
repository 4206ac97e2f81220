"""The real PHOENIX-2014 metadata (skipped when ../shared/data/phoenix2014 is absent)."""

from slr_data import Vocabulary, load_phoenix2014, read_info_file
from slr_data.corpus import format_stm_line


def _read_stm(path):
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        utt, _channel, speaker, _start, _end, text = line.split(" ", 5)
        rows[utt] = (speaker, text.split(), line)
    return rows


def test_all_entries_load(slr_data_phoenix_meta):
    corpus = load_phoenix2014(slr_data_phoenix_meta)
    assert {split: len(records) for split, records in corpus.splits.items()} == {
        "train": 5671,
        "dev": 540,
        "test": 629,
    }
    assert len(corpus.vocab) == 1296 and corpus.vocab.blank_id == 0
    assert set(corpus.stm) == {"train", "dev", "test"}
    for records in corpus.splits.values():
        for record in records:
            assert record.num_frames > 0 and record.glosses and record.signer.startswith("Signer")
            assert record.frame_dir.name == "1" and record.frame_pattern == "*.png"
            assert record.frame_dir.parent.name == record.video_id


def test_gloss_ids_match_stm_text(slr_data_phoenix_meta):
    corpus = load_phoenix2014(slr_data_phoenix_meta)
    for split in ("train", "dev", "test"):
        stm = _read_stm(corpus.stm[split])
        assert len(stm) == len(corpus[split])
        for record in corpus[split]:
            speaker, words, line = stm[record.video_id]
            ids = corpus.vocab.encode(record.glosses, context=record.source)
            assert all(0 < i < len(corpus.vocab) for i in ids)
            assert corpus.vocab.decode(ids) == words
            assert speaker == record.signer
            assert format_stm_line(record) == line


def test_gloss_dict_ids_are_sorted_train_dev_test_vocabulary(slr_data_phoenix_meta):
    corpus = load_phoenix2014(slr_data_phoenix_meta)
    rebuilt = Vocabulary.from_sequences(r.glosses for split in corpus for r in corpus[split])
    assert rebuilt.glosses == corpus.vocab.glosses
    assert rebuilt.counts == corpus.vocab.counts


def test_read_info_file_with_explicit_frames_root(slr_data_phoenix_meta, tmp_path):
    records = read_info_file(slr_data_phoenix_meta / "dev_info.npy", frames_root=tmp_path)
    assert records[0].split == "dev"
    assert records[0].frame_dir == tmp_path / "dev" / records[0].video_id / "1"
