"""``report.html``: one self-contained page per run (``train``) or re-scoring (``evaluate``).

Plain HTML and CSS, no script, nothing fetched: every image is a PNG embedded as a base64
``data:`` URI and every text is escaped. Sections: the run's summary, WER by split with S/D/I
(the numbers of ``results.json`` / ``rescore.json``), WER per signer, the loss / lr / WER curves
(``history.json``), the most frequent confusions, the worst utterances of dev (or the first
scored split) with their aligned reference / hypothesis and alignment views, the resolved config.

:func:`build_report_html` is a pure function of its inputs; :func:`write_run_report` gathers them
from a finished run (scoring the split files again, running the model on the worst utterances).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from slr_metrics import Counts, ScoreReport, UtteranceResult
from slr_train.atomic import atomic_write_bytes

from slr_phoenix.alignment_view import scored_columns
from slr_phoenix.plots import curve_pngs
from slr_phoenix.utterance_views import score_split, utterance_views, worst_utterances

__all__ = ["REPORT_FILE", "build_report_html", "try_write_run_report", "write_run_report"]

_log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
SPLIT_KEYS = ("wer", "N", "C", "S", "D", "I", "utterances")

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #24292f; margin: 0 auto;
       max-width: 1440px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px;
     border-bottom: 1px solid #d0d7de; padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; }
th { background: #f6f8fa; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta td:first-child { color: #57606a; } .curves img { width: 32%; min-width: 300px; margin-right: 1%; }
img.view { width: 100%; border: 1px solid #d0d7de; } pre { background: #f6f8fa; padding: 10px; overflow: auto;
  font-size: 12px; } .flex { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
table.align td { font-family: ui-monospace, monospace; font-size: 12px; text-align: center; }
.C { color: #1a7f37; } .S { color: #d4670b; font-weight: bold; } .D { color: #6e7781; font-weight: bold; }
.D.ref { text-decoration: line-through; } .I { color: #8250df; font-weight: bold; } .muted { color: #57606a; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.{digits}f}"
    return _e(value)


def png_img(png: bytes, alt: str, css_class: str = "") -> str:
    """An ``<img>`` with ``png`` as a base64 data URI."""
    data = base64.b64encode(png).decode("ascii")
    cls = f' class="{_e(css_class)}"' if css_class else ""
    return f'<img{cls} alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str = "") -> str:
    cls = f' class="{css_class}"' if css_class else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f"<table{cls}><tr>{head}</tr>{body}</table>"


def _cell(value: Any, numeric: bool = False, digits: int = 2) -> str:
    return f'<td class="num">{_num(value, digits)}</td>' if numeric else f"<td>{_e(value)}</td>"


def _split_table(results: Mapping[str, Any], splits: Sequence[str]) -> str:
    """WER / N / C / S / D / I / utterances per split; each cell also holds its exact value as
    ``data-key`` / ``data-value`` (JSON), so the page can be checked against ``results.json``."""
    rows = []
    for split in splits:
        cells = [_cell(split)]
        for key in SPLIT_KEYS:
            value = results[split].get(key)
            exact = _e(json.dumps(value if not isinstance(value, float) or math.isfinite(value) else None))
            cells.append(f'<td class="num" data-split="{_e(split)}" data-key="{key}" data-value="{exact}">'
                         f"{_num(value)}</td>")
        rows.append(cells)
    return _table(["split", "WER %", "N", "C", "S", "D", "I", "utterances"], rows, "wer")


def _signer_table(report: ScoreReport) -> str:
    rows = []
    for speaker, c in sorted(report.speaker_counts().items()):
        rows.append([_cell(speaker), _cell(c.wer, True), *(_cell(v, True) for v in (c.N, c.S, c.D, c.I)),
                     _cell(c.utterances, True)])
    return _table(["signer", "WER %", "N", "S", "D", "I", "utterances"], rows, "signers")


def _confusion_tables(report: ScoreReport, top: int) -> str:
    parts = []
    for kind, items in report.confusions(top).items():
        rows = [[_cell(text), _cell(count, True)] for text, count in items] or [[_cell("(none)"), _cell("")]]
        table = _table(["words as compared", "count"], rows, "confusions")
        parts.append(f"<div><h3>{_e(kind)}</h3>{table}</div>")
    return f'<div class="flex">{"".join(parts)}</div>'


def _pra_word(word: str | None, edit: str) -> str:
    """As the ``.pra`` file writes it: correct words lower-case, errors upper-case, ``***`` for none."""
    if word is None:
        return "***"
    return word.lower() if edit == "C" else word.upper()


def aligned_text_table(utterance: UtteranceResult) -> str:
    """The utterance's scored alignment as a three-row table (REF, HYP, Eval), like its ``.pra`` block."""
    columns = scored_columns(utterance.edits, utterance.ref, utterance.hyp, utterance.hyp)
    if not columns:
        return '<p class="muted">(empty reference and hypothesis)</p>'
    ref = "".join(f'<td class="{c.edit} ref">{_e(_pra_word(c.ref, c.edit))}</td>' for c in columns)
    hyp = "".join(f'<td class="{c.edit}">{_e(_pra_word(c.hyp, c.edit))}</td>' for c in columns)
    evals = "".join(f'<td class="{c.edit}">{"" if c.edit == "C" else c.edit}</td>' for c in columns)
    return (f'<table class="align"><tr><th>REF</th>{ref}</tr><tr><th>HYP</th>{hyp}</tr>'
            f"<tr><th>Eval</th>{evals}</tr></table>")


def build_report_html(*, title: str, summary: Mapping[str, Any], results: Mapping[str, Any],
                      reports: Mapping[str, ScoreReport], curves: Mapping[str, bytes],
                      worst_split: str | None, worst: Sequence[tuple[UtteranceResult, bytes | None]],
                      config_yaml: str, top_confusions: int = 10) -> str:
    """The page. ``results``: ``results.json``'s content (its split entries give the WER table);
    ``reports``: each scored split's :class:`ScoreReport` (signers, confusions); ``curves``: PNGs
    by name; ``worst``: utterances of ``worst_split`` with their alignment view PNGs."""
    splits = [s for s in ("dev", "test") if isinstance(results.get(s), Mapping)]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{_e(title)}</h1>"]
    meta = [[_cell(k), _cell(v)] for k, v in summary.items() if v is not None]
    out.append(_table(["", ""], meta, "meta"))
    out.append("<h2>WER by split</h2>")
    out.append(_split_table(results, splits) if splits else '<p class="muted">no split was scored</p>')
    if reports:
        out.append("<h2>WER per signer</h2>")
        out.append('<div class="flex">' + "".join(f"<div><h3>{_e(split)}</h3>{_signer_table(rep)}</div>"
                                                  for split, rep in reports.items()) + "</div>")
    if curves:
        out.append("<h2>Training curves</h2>")
        images = "".join(png_img(png, name) for name, png in curves.items())
        out.append(f'<div class="curves">{images}</div>')
    for split, rep in reports.items():
        out.append(f"<h2>Most frequent confusions ({_e(split)})</h2>")
        out.append(_confusion_tables(rep, top_confusions))
    if worst_split is not None:
        out.append(f"<h2>Worst {len(worst)} {_e(worst_split)} utterances</h2>")
        out.append('<p class="muted">By utterance WER. Views: frame thumbnails, the per-frame probability '
                   "of the top non-blank gloss and of the blank, the decoded glosses where their CTC path "
                   "fires, and the reference aligned to them (green correct, orange substitution, grey "
                   "struck deletion, purple insertion).</p>")
        for utterance, png in worst:
            c: Counts = utterance.counts
            wer = f"{c.wer:.1f} %" if c.N else "–"
            out.append(f'<h3>{_e(utterance.utt_id)} <span class="muted">signer {_e(utterance.speaker)}, '
                       f"WER {_e(wer)} (S {c.S}, D {c.D}, I {c.I}, N {c.N})</span></h3>")
            out.append(aligned_text_table(utterance))
            if png is not None:
                out.append(png_img(png, f"alignment view of {utterance.utt_id}", "view"))
    out.append("<h2>Resolved config</h2>")
    out.append(f"<pre>{_e(config_yaml)}</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_run_report(out_dir: Path, *, config, results: Mapping[str, Any], model=None, evals=None, vocab=None,
                     history: Sequence[Mapping[str, Any]] | None = None, title: str | None = None,
                     extra_summary: Mapping[str, Any] | None = None) -> Path:
    """Write ``<out_dir>/report.html`` (atomically) for a run or re-scoring whose split files
    (``<split>.stm`` / ``.ctm``) are in ``out_dir``. The worst ``config.eval.report_utterances``
    utterances of dev (else the first scored split) get alignment views when ``model``, ``evals``
    and ``vocab`` are given."""
    from slr_phoenix.settings import dump_yaml

    start = time.time()
    protocol = config.eval.protocol
    splits = [s for s in ("dev", "test")
              if isinstance(results.get(s), Mapping) and (out_dir / f"{s}.ctm").is_file()]
    scored = {split: score_split(out_dir, split, protocol) for split in splits}
    reports = {split: rep for split, (rep, _) in scored.items()}
    curves = {}
    if history:
        dev_decoding = ("greedy decoding" if config.eval.dev_decoder == "greedy"
                        else f"beam-{config.eval.beam_size} decoding")
        loss_unit = "target gloss" if config.train.loss.reduction == "mean_per_target" else "video"
        curves = curve_pngs(history, dev_decoding=dev_decoding, loss_unit=loss_unit)
    worst_split = splits[0] if splits else None
    worst: list[tuple[UtteranceResult, bytes | None]] = []
    if worst_split is not None:
        report, hypotheses = scored[worst_split]
        chosen = worst_utterances(report, config.eval.report_utterances)
        views = {}
        if model is not None and evals is not None and worst_split in evals and chosen:
            views = utterance_views(model, evals[worst_split].dataset, vocab, report, hypotheses,
                                    [u.utt_id for u in chosen])
        worst = [(u, views[u.utt_id].png if u.utt_id in views else None) for u in chosen]
    summary = {"model": results.get("model"), "corpus": results.get("corpus"),
               "decoder": results.get("decoder"),
               "protocol": results.get("protocol", protocol), "epochs": results.get("epochs"),
               "best epoch": results.get("best_epoch"), "best weights": results.get("best_weights"),
               "best checkpoint": results.get("best_checkpoint"), **(extra_summary or {}),
               "written": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    page = build_report_html(title=title or f"slr-phoenix run {config.name}", summary=summary,
                             results=results, reports=reports, curves=curves, worst_split=worst_split,
                             worst=worst,
                             config_yaml=dump_yaml(config.to_dict()))
    path = out_dir / REPORT_FILE
    atomic_write_bytes(path, page.encode("utf-8"))
    _log.info("wrote %s (%.1f s)", path, time.time() - start)
    return path


def try_write_run_report(out_dir: Path, **kwargs: Any) -> Path | None:
    """:func:`write_run_report`, logging (not raising) a failure: the run's results are already
    written and stay valid without their report."""
    try:
        return write_run_report(out_dir, **kwargs)
    except Exception:  # noqa: BLE001 - reported in full, the run itself succeeded
        _log.exception("could not write %s", out_dir / REPORT_FILE)
        return None


def write_rescore_report(loaded, config, result: Mapping[str, Any], evals, out_dir: Path) -> Path | None:
    """``evaluate``'s report in ``out_dir``: the re-scored splits, the training curves of the
    checkpoint's run directory when it has a ``history.json`` (``{"history": [...], ...}``), views."""
    history = None
    if not loaded.is_bundle:
        history_path = Path(loaded.checkpoint).parent.parent / "history.json"
        if history_path.is_file():
            try:
                history = json.loads(history_path.read_text(encoding="utf-8")).get("history")
            except (OSError, ValueError, AttributeError) as exc:
                _log.warning("%s: not read (%s); the report has no training curves", history_path, exc)
    decoder = "greedy" if config.eval.decoder == "greedy" else f"beam{config.eval.beam_size}"
    summary = {"checkpoint": str(loaded.checkpoint), "model": loaded.model.config.name, "decoder": decoder,
               "protocol": config.eval.protocol, "corpus": config.data.corpus,
               **{f"checkpoint {k}": v for k, v in (result.get("checkpoint_meta") or {}).items()
                  if isinstance(v, (str, int, float))}}
    return try_write_run_report(out_dir, config=config, results=result, extra_summary=summary,
                                model=loaded.model, evals=evals, vocab=loaded.vocab,
                                history=history if isinstance(history, list) else None,
                                title=f"slr-phoenix evaluate {Path(loaded.checkpoint).name}")
