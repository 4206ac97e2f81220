"""The corpus registry: names, lookups, errors, data-root recognition and option passing."""

from __future__ import annotations

import pytest
import slr_data
from slr_data import Corpus, Vocabulary, detect_corpus, get_corpus, list_corpora, load_corpus, register_corpus
from slr_data.corpus import registry


def test_builtin_corpora_are_registered_with_their_protocols():
    assert list_corpora()[:4] == ["synthetic", "phoenix2014", "phoenix2014t", "csl-daily"]
    protocols = {name: get_corpus(name).protocol for name in list_corpora()[:4]}
    assert protocols == {"synthetic": "phoenix2014", "phoenix2014": "phoenix2014",
                         "phoenix2014t": "phoenix2014t", "csl-daily": "csl-daily"}
    assert get_corpus("synthetic").synthetic and not get_corpus("csl-daily").synthetic
    assert get_corpus("phoenix2014").reader is slr_data.load_phoenix2014
    assert get_corpus("csl-daily").reader is slr_data.load_csl_daily
    assert "Chinese" in get_corpus("csl-daily").gloss_language and "UTF-8" in get_corpus("csl-daily").encoding
    assert all(get_corpus(name).layouts for name in list_corpora()[:4])
    assert slr_data.DEFAULT_CORPUS in list_corpora()


def test_an_unknown_name_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown corpus 'phoenix2015'; registered corpora: synthetic, "
                                         r"phoenix2014, phoenix2014t, csl-daily"):
        get_corpus("phoenix2015")
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("nope", "/tmp")


@pytest.fixture()
def scratch_registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_register_a_corpus_and_load_it_with_only_its_options(scratch_registry, tmp_path):
    calls = []

    def read_toy(root, *, unk_policy="error"):
        calls.append((root, unk_policy))
        return Corpus("toy", {"train": []}, Vocabulary(["A"]), root)

    entry = register_corpus("toy", read_toy, recognise=lambda root: (root / "toy.txt").is_file(),
                            protocol="none", layouts=("toy.txt",))
    assert get_corpus("toy") is entry and entry.options == ("unk_policy",) and "toy" in list_corpora()
    corpus = load_corpus("toy", tmp_path, unk_policy="map", resolution="210x260px", frames_root=None)
    assert corpus.name == "toy" and calls == [(tmp_path, "map")]  # resolution / frames_root dropped
    assert detect_corpus(tmp_path) is None
    (tmp_path / "toy.txt").write_text("x")
    assert detect_corpus(tmp_path) == "toy"
    with pytest.raises(ValueError, match="'toy' is already registered"):
        register_corpus("toy", read_toy, recognise=lambda root: False, protocol="none")
    register_corpus("toy", read_toy, recognise=lambda root: False, protocol="x", replace=True)
    assert get_corpus("toy").protocol == "x"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "two words"}, "without spaces"),
        ({"name": ""}, "non-empty"),
        ({"protocol": ""}, "protocol must name a scoring protocol"),
        ({"reader": "not callable"}, "must be callables"),
    ],
)
def test_bad_entries_are_refused(scratch_registry, fields, message):
    args = {"name": "bad", "reader": lambda root: None, "recognise": lambda root: False, "protocol": "none",
            **fields}
    with pytest.raises((ValueError, TypeError), match=message):
        register_corpus(args.pop("name"), args.pop("reader"), **args)


def test_data_roots_are_recognised_by_layout(tmp_path, slr_data_tiny_corpus):
    release = tmp_path / "phoenix2014-release" / "phoenix-2014-multisigner" / "annotations" / "manual"
    release.mkdir(parents=True)
    (release / "train.corpus.csv").write_text("id|folder|signer|annotation\n")
    assert detect_corpus(tmp_path) == "phoenix2014"
    t = tmp_path / "t" / "PHOENIX-2014-T" / "annotations" / "manual"
    t.mkdir(parents=True)
    (t / "PHOENIX-2014-T.train.corpus.csv").write_text("")
    assert detect_corpus(tmp_path / "t") == "phoenix2014t"
    csl = tmp_path / "c" / "CSL-Daily" / "sentence_label"
    csl.mkdir(parents=True)
    (csl / "csl2020ct_v2.pkl").write_bytes(b"")
    assert detect_corpus(tmp_path / "c") == "csl-daily"
    assert detect_corpus(tmp_path / "missing") is None and detect_corpus(tmp_path / "c" / "x") is None
    # a generated synthetic corpus is PHOENIX-2014 on disk; the synthetic entry recognises it too
    assert detect_corpus(slr_data_tiny_corpus) == "phoenix2014"
    assert get_corpus("synthetic").recognises(slr_data_tiny_corpus)
    assert not get_corpus("synthetic").recognises(tmp_path)
