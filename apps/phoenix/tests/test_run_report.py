"""``report.html`` (train and evaluate), ``predict --plot`` and ``evaluate --plot-utterances``."""

from __future__ import annotations

import base64
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from slr_metrics import score

from slr_phoenix.cli import EXIT_BAD_INPUT, main
from slr_phoenix.plots import curve_pngs
from slr_phoenix.run_report import build_report_html
from slr_phoenix.utterance_views import prediction_plot_paths

# A corpus slr_mamba_tiny trains one epoch on in a few seconds.
TINY_SYNTH = ("{num_train: 8, num_dev: 4, num_test: 4, vocab_size: 6, image_size: 32, num_signers: 2, "
              "gloss_frames: [4, 5], sentence_glosses: [2, 3]}")


class _Page(HTMLParser):
    """Images, WER cells and text of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.wer_cells: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag == "td" and "data-key" in attrs:
            self.wer_cells.append(attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse_report(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def decoded_images(page: _Page) -> list[Image.Image]:
    out = []
    for attrs in page.images:
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix), attrs["src"][:40]
        image = Image.open(io.BytesIO(base64.b64decode(attrs["src"][len(prefix):], validate=True)))
        image.load()
        assert image.format == "PNG" and min(image.size) > 0
        out.append(image)
    return out


def assert_wer_table_is(page: _Page, results: dict) -> None:
    cells = {(c["data-split"], c["data-key"]): json.loads(c["data-value"]) for c in page.wer_cells}
    expected = {(split, key): results[split][key] for split in ("dev", "test") if split in results
                for key in ("wer", "N", "C", "S", "D", "I", "utterances")}
    assert cells == expected


def test_the_page_embeds_every_image_escapes_text_and_shows_the_numbers_given(tmp_path: Path):
    refs = {"utt<1>&": ["A", "B", "C"], "utt2": ["A", "<script>alert(1)</script>"]}
    hyps = {"utt<1>&": ["A", "X"], "utt2": ["A", "<script>alert(1)</script>", "Y"]}
    report = score(refs, hyps, speakers={"utt<1>&": "Signer<01>", "utt2": "Signer02"})
    c = report.counts
    results = {"dev": {"wer": report.wer, "N": c.N, "C": c.C, "S": c.S, "D": c.D, "I": c.I, "utterances": 2},
               "model": "m<odel>"}
    history = [{"epoch": 1, "lr": 1e-3, "train_loss": 5.0, "dev_wer_raw": 90.0},
               {"epoch": 2, "lr": 5e-4, "train_loss": 3.0, "dev_wer_raw": 60.0}]
    view_png = curve_pngs(history)["loss.png"]  # any PNG stands in for a view here
    worst = [(report.utterance("utt<1>&"), view_png), (report.utterance("utt2"), None)]
    html_text = build_report_html(title="run <x>", summary={"model": "m<odel>", "missing": None},
                                  results=results, reports={"dev": report}, curves=curve_pngs(history),
                                  worst_split="dev", worst=worst, config_yaml="name: <tiny>\n")
    path = tmp_path / "report.html"
    path.write_text(html_text, encoding="utf-8")
    page = parse_report(path)
    assert "script" not in page.tags and "<script>" not in html_text  # escaped, and no script of its own
    assert "&lt;script&gt;" in html_text and "utt&lt;1&gt;&amp;" in html_text
    assert "Signer&lt;01&gt;" in html_text
    assert "run <x>" in page.text and "name: <tiny>\n" in page.text  # the text itself reads back unchanged
    assert len(decoded_images(page)) == 4  # loss, lr, wer curves and one view
    assert_wer_table_is(page, results)
    assert "http:" not in html_text and "https:" not in html_text  # nothing to fetch


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    run = tmp_path_factory.mktemp("runs") / "tiny"
    code = main(["train", "--out", str(run), "--no-progress", "--epochs", "1", "--batch-size", "4",
                 "--set", f"data.synthetic={TINY_SYNTH}", "--set", f"data.cache_dir={cache}",
                 "--set", "eval.beam_size=2", "--set", "eval.report_utterances=3"])
    assert code == 0
    return run


def test_train_writes_a_report_with_the_results_json_numbers(run_dir: Path):
    results = json.loads((run_dir / "results.json").read_text())
    page = parse_report(run_dir / "report.html")
    assert_wer_table_is(page, results)
    images = decoded_images(page)
    assert len(images) == 3 + 3  # loss / lr / WER curves, views of the 3 worst dev utterances
    assert [im.size[0] for im in images[3:]] == [1400] * 3
    for name in ("loss.png", "lr.png", "wer.png"):
        assert (run_dir / "plots" / name).is_file()
    text = "".join(page.text)
    headings = ("WER per signer", "Most frequent confusions (dev)", "Worst 3 dev utterances",
                "Resolved config")
    for heading in headings:
        assert heading in text


def _config_corpus_frames(run_dir: Path, split: str) -> list[Path]:
    import yaml

    cache = Path(yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["cache_dir"])
    return sorted(cache.glob(f"synthetic/*/phoenix-2014-multisigner/features/*/{split}/*/1"))


def test_predict_plot_writes_one_view_per_video_whose_spans_are_the_printed_glosses(run_dir: Path,
                                                                                    tmp_path: Path, capsys):
    frames = _config_corpus_frames(run_dir, "test")[:2]
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(run_dir), "--json", "--plot", str(tmp_path / "view.png"),
                 *map(str, frames)]) == 0
    items = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [item["plot"] for item in items] == [str(tmp_path / "view-1.png"), str(tmp_path / "view-2.png")]
    for item in items:
        assert [span["gloss"] for span in item["spans"]] == item["glosses"]
        assert all(0 <= s["start"] < s["end"] for s in item["spans"])
        image = Image.open(item["plot"])
        assert image.format == "PNG" and image.size[0] == 1400
    one = tmp_path / "one.png"
    assert main(["predict", "--checkpoint", str(run_dir), "--plot", str(one), str(frames[0])]) == 0
    printed = capsys.readouterr().out.strip().split(": ", 1)[1].split()
    assert printed == items[0]["glosses"] and (tmp_path / "one.png").is_file()
    nowhere = tmp_path / "no-such-folder" / "view.png"
    code = main(["predict", "--checkpoint", str(run_dir), "--plot", str(nowhere), str(frames[0])])
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--plot {nowhere}: folder {nowhere.parent} does not exist" in err


def test_the_plotting_function_shows_the_decoded_glosses(run_dir: Path, tmp_path: Path):
    from slr_phoenix.inference import load_trained, predict_videos
    from slr_phoenix.utterance_views import PredictionPlots

    frames = _config_corpus_frames(run_dir, "dev")[:3]
    loaded = load_trained(run_dir)
    for greedy in (True, False):
        plots = PredictionPlots(prediction_plot_paths(tmp_path / "p.png", len(frames)), "test")
        items = predict_videos(loaded, frames, greedy=greedy, beam_size=None if greedy else 3,
                               on_output=plots)
        for item, view, rendered in zip(items, plots.views, plots.rendered, strict=True):
            assert [s.gloss for s in view.spans] == item["glosses"]
            assert [label.text for label in rendered.hyp_labels] == item["glosses"]
            assert len(view.probs) >= max([s.end for s in view.spans], default=0)


def test_prediction_plot_names():
    assert prediction_plot_paths(Path("out/a.png"), 1) == [Path("out/a.png")]
    assert prediction_plot_paths(Path("out/a.png"), 3) == [Path("out/a-1.png"), Path("out/a-2.png"),
                                                           Path("out/a-3.png")]
    assert prediction_plot_paths(Path("a"), 2) == [Path("a-1.png"), Path("a-2.png")]


def test_evaluate_writes_its_report_and_the_views_asked_for(run_dir: Path, tmp_path: Path, capsys):
    from slr_metrics import read_stm

    dev_ids = [seg.utt_id for seg in read_stm(run_dir / "dev.stm")]
    out = tmp_path / "rescore"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run_dir), "--out", str(out), "--split", "dev",
                 "--plot-utterances", dev_ids[1], dev_ids[0]]) == 0
    rescored = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rescored["dev"] == {**json.loads((run_dir / "results.json").read_text())["dev"],
                               "seconds": rescored["dev"]["seconds"]}
    for utt_id in dev_ids[:2]:
        image = Image.open(out / "alignments" / f"dev-{utt_id}.png")
        assert image.format == "PNG"
    page = parse_report(out / "report.html")
    assert_wer_table_is(page, rescored)
    assert len(decoded_images(page)) == 3 + 3  # the run's curves (its history.json) and 3 views


def test_evaluate_names_an_unknown_utterance_before_decoding(run_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "o"
    code = main(["evaluate", "--checkpoint", str(run_dir), "--out", str(out), "--split", "test",
                 "--plot-utterances", "no-such-utterance"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1
    assert "--plot-utterances: no-such-utterance: no such utterance in the evaluated split(s) test" in err
    assert not (out / "test.ctm").exists()


def test_eval_views_draw_the_runs_keypoints(tmp_path: Path):
    """A run with keypoint heatmaps: the view's thumbnails carry the sampled frames' keypoints."""
    from slr_data import SynthConfig, generate_synthetic_corpus
    from slr_models.models.ctc import CTCOutput

    from slr_phoenix.data import build_eval_sets, prepare_corpus
    from slr_phoenix.settings import DataSettings
    from slr_phoenix.utterance_views import eval_view, score_split

    small = SynthConfig(num_train=2, num_dev=2, num_test=1, vocab_size=4, image_size=32, num_signers=1,
                        gloss_frames=(3, 4), sentence_glosses=(1, 2))
    root = generate_synthetic_corpus(tmp_path / "corpus", small, keypoints=True).root
    settings = DataSettings(corpus="phoenix2014", root=str(root), batch_size=2, preload=False,
                            keypoints=str(next(root.glob("phoenix-2014-keypoints_*.pkl"))))
    corpus = prepare_corpus(settings)
    dataset = build_eval_sets(corpus, settings, 32, ("dev",))["dev"].dataset

    class Uniform(torch.nn.Module):
        """Every frame equally likely to be any class; checks it is given the heatmaps."""

        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, frames, lengths, seq_idx=None, heatmaps=None):
            assert heatmaps is not None and heatmaps.shape[0] == frames.shape[0]
            log_probs = torch.full((int(lengths[0]), 1, len(corpus.vocab)), -float(np.log(len(corpus.vocab))))
            return CTCOutput(log_probs, lengths)

    from slr_metrics import write_ctm

    from slr_phoenix.data import reference_stm

    record = dataset.records[0]
    reference_stm(corpus, "dev", tmp_path / "dev.stm")
    write_ctm(tmp_path / "dev.ctm", {record.video_id: record.glosses[:1]})
    report, hypotheses = score_split(tmp_path, "dev", "none")
    view = eval_view(Uniform(), dataset, 0, corpus.vocab, report, hypotheses)
    assert view.keypoints is not None and view.keypoints.shape == (len(view.thumbnails), 121, 3)
    height, width = view.thumbnails.shape[1:3]
    visible = view.keypoints[..., 2] > 0
    assert visible.any()
    xs, ys = view.keypoints[..., 0][visible], view.keypoints[..., 1][visible]
    assert (xs > -1).all() and (xs < width).all() and (ys > -1).all() and (ys < height).all()
    assert [s.gloss for s in view.spans] == list(record.glosses[:1])
    assert [c.edit for c in view.columns].count("D") == len(record.glosses) - 1
