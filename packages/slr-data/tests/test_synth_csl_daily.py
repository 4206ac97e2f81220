"""``slr-data synth --layout csl-daily``: the synthetic corpus in the CSL-Daily release layout."""

from __future__ import annotations

import json
import pickle

import pytest
from slr_data import SynthConfig, generate_synthetic_corpus, get_corpus, load_csl_daily, load_phoenix2014
from slr_data.cli import main
from slr_data.synth.csl_daily import CHINESE_GLOSSES, chinese_gloss_names

SMALL = dict(num_train=6, num_dev=2, num_test=2, vocab_size=6, image_size=24, num_signers=2,
             gloss_frames=(2, 3), sentence_glosses=(1, 3), clutter=1)


def test_cli_writes_a_csl_daily_release_that_its_reader_loads(tmp_path, capsys):
    out = tmp_path / "CSL-Daily"
    args = ["synth", "--out", str(out), "--preset", "tiny", "--videos", "6", "--dev-videos", "2",
            "--test-videos", "2", "--vocab", "6", "--size", "24", "--layout", "csl-daily"]
    assert main(args) == 0
    assert "synthetic CSL-Daily corpus written" in capsys.readouterr().out
    labels = out / "sentence_label" / "csl2020ct_v2.pkl"
    data = pickle.loads(labels.read_bytes())
    assert set(data) == {"gloss_map", "char_map", "word_map", "info"}
    assert data["gloss_map"] == chinese_gloss_names(6) == list(CHINESE_GLOSSES[:6])
    entry = data["info"][0]
    assert set(entry) >= {"name", "length", "label_gloss", "label_char", "signer"}
    assert "".join(entry["label_char"]) == "".join(entry["label_gloss"])
    lines = (out / "sentence_label" / "split_1.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "name|split" and len(lines) == 11
    assert [line.split("|")[1] for line in lines[1:]] == ["train"] * 6 + ["dev"] * 2 + ["test"] * 2

    assert get_corpus("csl-daily").recognises(out)
    corpus = load_csl_daily(out)
    assert {s: len(corpus[s]) for s in corpus} == {"train": 6, "dev": 2, "test": 2}
    record = corpus["dev"][0]
    assert set(record.glosses) <= set(CHINESE_GLOSSES[:6])
    frames = record.frame_paths()
    assert frames[0].name == "000000.jpg" and len(frames) == record.num_frames == data["info"][6]["length"]
    marker = json.loads((out / "synth_config.json").read_text(encoding="utf-8"))
    assert marker["format"] == "slr-synthetic-csl-daily" and marker["counts"]["train"] == 6

    assert main(args) == 0  # same options: cached, nothing rewritten
    assert "already present (cached)" in capsys.readouterr().out
    assert main(["stats", str(out), "--corpus", "csl-daily"]) == 0
    assert "csl-daily at" in capsys.readouterr().out
    assert main(["stats", str(out), "--corpus", "csl-dialy"]) == 2
    assert "unknown corpus 'csl-dialy'; registered corpora:" in capsys.readouterr().err


def test_same_plan_as_the_phoenix_layout_with_chinese_names(tmp_path):
    config = SynthConfig(**SMALL)
    csl = load_csl_daily(generate_synthetic_corpus(tmp_path / "csl", config, layout="csl-daily").root)
    phoenix = load_phoenix2014(generate_synthetic_corpus(tmp_path / "ph", config).root)
    for split in ("train", "dev", "test"):
        assert [r.num_frames for r in csl[split]] == [r.num_frames for r in phoenix[split]]
        assert [len(r.glosses) for r in csl[split]] == [len(r.glosses) for r in phoenix[split]]
        assert all(not g.isascii() for r in csl[split] for g in r.glosses)
    # the German gloss at each position maps to one Chinese gloss, the same everywhere
    pairs = {(g, c) for s in csl for a, b in zip(phoenix[s], csl[s]) for g, c in zip(a.glosses, b.glosses)}
    assert len({g for g, _ in pairs}) == len(pairs) == len({c for _, c in pairs})


def test_refusals(tmp_path):
    config = SynthConfig(**SMALL)
    with pytest.raises(ValueError, match="layout must be one of"):
        generate_synthetic_corpus(tmp_path / "a", config, layout="csl")
    with pytest.raises(ValueError, match="keypoints are written for the phoenix2014 layout only"):
        generate_synthetic_corpus(tmp_path / "a", config, layout="csl-daily", keypoints=True)
    generate_synthetic_corpus(tmp_path / "ph", config)
    with pytest.raises(FileExistsError, match="not a synthetic corpus"):  # another layout is not replaced
        generate_synthetic_corpus(tmp_path / "ph", config, layout="csl-daily", overwrite=True)


def test_numbered_names_beyond_the_builtin_list():
    names = chinese_gloss_names(len(CHINESE_GLOSSES) + 2)
    assert names[-2:] == [f"词{len(CHINESE_GLOSSES):03d}", f"词{len(CHINESE_GLOSSES) + 1:03d}"]
    assert len(set(names)) == len(names) and len(set(CHINESE_GLOSSES)) == len(CHINESE_GLOSSES)
