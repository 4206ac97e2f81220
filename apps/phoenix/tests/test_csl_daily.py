"""CSL-Daily through the corpus registry: ``--data-root`` detection, the corpus' default protocol, and a
1-epoch run on a synthetic CSL-Daily-layout corpus whose CTM/STM/reports hold the Chinese glosses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slr_data import SynthConfig, Vocabulary, generate_synthetic_corpus, get_corpus
from slr_data.synth.csl_daily import CHINESE_GLOSSES
from slr_metrics import read_ctm, read_stm, score_files
from slr_phoenix.cli import build_parser, main, resolve_train_config
from slr_phoenix.data import prepare_corpus
from slr_phoenix.settings import DataSettings, load_config

SMALL = SynthConfig(num_train=6, num_dev=2, num_test=2, vocab_size=5, image_size=32, num_signers=2,
                    gloss_frames=(3, 4), sentence_glosses=(1, 2))


@pytest.fixture(scope="module")
def csl_root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("csl") / "CSL-Daily"
    return generate_synthetic_corpus(out, SMALL, layout="csl-daily").root


def test_data_root_of_a_csl_daily_release_selects_it_and_its_protocol(csl_root):
    args = build_parser().parse_args(["train", "--data-root", str(csl_root)])
    config = resolve_train_config(args)
    assert config.data.corpus == "csl-daily" and config.data.root == str(csl_root)
    assert config.eval.protocol == get_corpus("csl-daily").protocol == "csl-daily"
    explicit = load_config("tiny", [f"data.root={csl_root}", "data.corpus=csl-daily", "eval.protocol=none"])
    assert explicit.eval.protocol == "none"  # a protocol given wins over the corpus' default
    assert load_config("tiny").eval.protocol == "phoenix2014"  # the synthetic corpus' default


def test_prepare_corpus_reads_it_through_the_registry(csl_root):
    corpus = prepare_corpus(DataSettings(corpus="csl-daily", root=str(csl_root), resolution="210x260px"))
    assert corpus.name == "csl-daily" and {len(corpus[s]) for s in ("dev", "test")} == {2}
    assert set(corpus.vocab.glosses) <= set(CHINESE_GLOSSES)
    assert all(r.frame_pattern == "*.jpg" and r.num_frames for s in corpus for r in corpus[s])


@pytest.mark.slow  # about 10-20 s on 2 cores
def test_a_one_epoch_run_on_synthetic_csl_daily_scores_chinese_glosses(csl_root, tmp_path, capsys):
    run = tmp_path / "run"
    # batch 1 and lr 1e-2: after one epoch the model already emits glosses (not only blanks)
    code = main(["train", "--out", str(run), "--no-progress", "--epochs", "1", "--batch-size", "1",
                 "--lr", "1e-2", "--data-root", str(csl_root), "--set", "data.corpus=csl-daily",
                 "--set", "eval.beam_size=2"])
    assert code == 0, capsys.readouterr().err
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert results["protocol"] == "csl-daily" and results["corpus"] == "csl-daily"
    hypothesised = 0
    for split in ("dev", "test"):
        assert results[split]["N"] > 0 and results[split]["wer"] >= 0
        refs = {seg.utt_id: list(seg.words) for seg in read_stm(run / f"{split}.stm")}
        assert len(refs) == 2 and all(set(words) <= set(CHINESE_GLOSSES) for words in refs.values())
        assert sum(map(len, refs.values())) == results[split]["N"]
        hyps = read_ctm(run / f"{split}.ctm")
        assert set(hyps) <= set(refs)
        assert all(set(words) <= set(CHINESE_GLOSSES) for words in hyps.values())
        hypothesised += sum(map(len, hyps.values()))
        rescored = score_files(run / f"{split}.stm", run / f"{split}.ctm", protocol="csl-daily").counts
        assert [rescored.N, rescored.C, rescored.S, rescored.D, rescored.I] == [
            results[split][k] for k in ("N", "C", "S", "D", "I")]
    assert hypothesised > 0, "the CTMs hold no glosses"
    ctm_text = "".join((run / f"{split}.ctm").read_bytes().decode("utf-8") for split in ("dev", "test"))
    assert any(gloss in ctm_text for gloss in CHINESE_GLOSSES)
    stm_text = (run / "dev.stm").read_bytes().decode("utf-8")
    assert any(gloss in stm_text for gloss in CHINESE_GLOSSES)
    report = json.loads((run / "dev.json").read_text(encoding="utf-8"))
    assert report["wer"] == pytest.approx(results["dev"]["wer"]) and report["protocol"] == "csl-daily"
    for name in ("dev.pra", "dev.confusions.txt", "report.html"):  # the reports show the glosses, in UTF-8
        assert any(gloss in (run / name).read_bytes().decode("utf-8") for gloss in CHINESE_GLOSSES), name
    assert set(Vocabulary.load(run / "vocab.json").glosses) <= set(CHINESE_GLOSSES)
