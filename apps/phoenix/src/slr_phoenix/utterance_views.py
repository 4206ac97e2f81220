"""Alignment views of real videos: run the model on one video, find its gloss spans, render.

* :func:`prediction_view`: a video ``predict`` read (its sampled frames and the model output).
* :func:`utterance_views`: utterances of an evaluated split, scored (from the split's STM and
  CTM, so the view shows the hypothesis that was scored), with the keypoints of a run that uses
  them drawn on the thumbnails.
* :func:`write_utterance_plots`: ``evaluate --plot-utterances ID...``, one PNG per utterance in
  ``<out>/alignments/<split>-<id>.png``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from slr_data import collate_packed, decode_frames, sample_frame_indices
from slr_metrics import ScoreReport, UtteranceResult, read_ctm, score_files
from slr_train.atomic import atomic_write_bytes

from slr_phoenix.alignment_view import AlignmentView, RenderedView, render_alignment_view, scored_columns
from slr_phoenix.alignment_view import thumbnail_positions
from slr_phoenix.ctc_alignment import ctc_path, path_spans
from slr_phoenix.settings import ConfigError

__all__ = ["MAX_THUMBNAILS", "THUMBNAIL_HEIGHT", "PredictionPlots", "build_view", "check_plot_ids",
           "eval_view", "forward_log_probs", "plot_file_name", "prediction_plot_paths", "prediction_view",
           "score_split", "utterance_views", "worst_utterances", "write_utterance_plots"]

MAX_THUMBNAILS = 24
THUMBNAIL_HEIGHT = 96


def forward_log_probs(model: torch.nn.Module, sample: Any) -> np.ndarray:
    """``(T', V)`` float32 log-probabilities of one :class:`slr_data.VideoSample` (eval mode, no grad)."""
    from slr_train.engines.base import model_inputs

    device = next(model.parameters()).device
    batch = collate_packed([sample]).to(device)
    args, kwargs = model_inputs(batch)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(*args, **kwargs)
    finally:
        model.train(was_training)
    return output.log_probs[: int(output.lengths[0]), 0].float().cpu().numpy()


def _shrink(frames: np.ndarray, keypoints: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Thumbnails at most :data:`THUMBNAIL_HEIGHT` px high; keypoints scaled with them."""
    import cv2

    height, width = frames.shape[1:3]
    if height <= THUMBNAIL_HEIGHT:
        return frames, keypoints
    scale = THUMBNAIL_HEIGHT / height
    size = (max(1, round(width * scale)), THUMBNAIL_HEIGHT)
    small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    if keypoints is not None:
        keypoints = keypoints.copy()
        keypoints[..., 0] = (keypoints[..., 0] + 0.5) * size[0] / width - 0.5
        keypoints[..., 1] = (keypoints[..., 1] + 0.5) * size[1] / height - 0.5
    return small, keypoints


def build_view(title: str, log_probs: np.ndarray, label_ids: Sequence[int], glosses: Sequence[str],
               thumbnails: np.ndarray, *, keypoints: np.ndarray | None = None,
               scored: UtteranceResult | None = None, subtitle: str = "") -> AlignmentView:
    """The view of one video: ``log_probs (T', V)`` with the decoded ``label_ids`` (their ``glosses``),
    spans from :func:`~slr_phoenix.ctc_alignment.ctc_path`, and the scored alignment if given."""
    path = ctc_path(log_probs, label_ids)
    spans = path_spans(path, list(glosses))
    columns = scored_columns(scored.edits, scored.ref, scored.hyp, glosses) if scored is not None else None
    thumbs, points = _shrink(np.asarray(thumbnails), keypoints)
    return AlignmentView(title, np.exp(log_probs), spans, thumbs, points, columns, 0, subtitle)


def prediction_view(video: str, frames: np.ndarray, log_probs: np.ndarray, label_ids: Sequence[int],
                    glosses: Sequence[str], decoder: str = "") -> AlignmentView:
    """A ``predict`` video: ``frames (T, H, W, 3)`` uint8 as the model saw them in time (sampled)."""
    chosen = thumbnail_positions(len(frames), MAX_THUMBNAILS)
    return build_view(str(video), log_probs, label_ids, glosses, frames[chosen],
                      subtitle=f"{len(frames)} frames, {decoder}".strip(", "))


def _eval_thumbnails(dataset, index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Thumbnails of an eval item (the frames its temporal sampling picks) and their keypoints
    (``(K, 121, 3)`` in frame pixels) when the dataset has keypoints."""
    record = dataset.records[index]
    paths = record.frame_paths(dataset.limits)
    indices = sample_frame_indices(len(paths), dataset.temporal, train=False)
    chosen = indices[thumbnail_positions(len(indices), MAX_THUMBNAILS)]
    frames = decode_frames([paths[i] for i in chosen], limits=dataset.limits)
    keypoints = None
    if getattr(dataset, "keypoints", None) is not None:
        keypoints = dataset.keypoints.frames(record, chosen, len(paths), frames.shape[1:3])
        if dataset.heatmap_config.normalized_coords:
            keypoints = keypoints * np.array([frames.shape[2], frames.shape[1], 1], dtype=np.float32)
    return frames, keypoints


def score_split(out_dir: Path, split: str, protocol: str) -> tuple[ScoreReport, dict[str, list[str]]]:
    """The split's score (from ``<split>.stm`` / ``.ctm``, as its reports) and its decoded glosses."""
    report = score_files(out_dir / f"{split}.stm", out_dir / f"{split}.ctm", protocol=protocol)
    return report, {k: list(v) for k, v in read_ctm(out_dir / f"{split}.ctm").items()}


def worst_utterances(report: ScoreReport, count: int) -> list[UtteranceResult]:
    """The ``count`` utterances with the highest utterance WER (then most errors, then id)."""
    def key(u: UtteranceResult):
        errors = u.counts.errors
        return (-(errors / u.counts.N if u.counts.N else float(errors)), -errors, u.utt_id)

    return sorted(report.utterances, key=key)[:max(count, 0)]


def eval_view(model: torch.nn.Module, dataset, index: int, vocab, report: ScoreReport,
              hypotheses: dict[str, list[str]]) -> AlignmentView:
    """The view of item ``index`` of an evaluated split's ``dataset``, scored as in ``report``,
    with the decoded glosses ``hypotheses[utt_id]`` (the CTM's) and the item's keypoints if any."""
    utt_id = dataset.records[index].video_id
    scored = report.utterance(utt_id)
    glosses = hypotheses.get(utt_id, [])
    log_probs = forward_log_probs(model, dataset[index])
    thumbnails, keypoints = _eval_thumbnails(dataset, index)
    c = scored.counts
    subtitle = (f"signer {scored.speaker}; WER {c.wer:.1f} % (S {c.S}, D {c.D}, I {c.I} of {c.N})"
                if c.N else f"signer {scored.speaker}")
    return build_view(utt_id, log_probs, vocab.encode(glosses, context=utt_id), glosses, thumbnails,
                      keypoints=keypoints, scored=scored, subtitle=subtitle)


def utterance_views(model: torch.nn.Module, dataset, vocab, report: ScoreReport,
                    hypotheses: dict[str, list[str]], utt_ids: Sequence[str]) -> dict[str, RenderedView]:
    """Rendered views (:func:`eval_view`) of ``utt_ids`` of an evaluated split."""
    position = {record.video_id: k for k, record in enumerate(dataset.records)}
    views = {u: eval_view(model, dataset, position[u], vocab, report, hypotheses) for u in utt_ids}
    return {u: render_alignment_view(view, max_thumbnails=MAX_THUMBNAILS) for u, view in views.items()}


def plot_file_name(split: str, utt_id: str) -> str:
    """``<split>-<id>.png`` with every character outside ``A-Za-z0-9._-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{split}-{utt_id}") + ".png"


def check_plot_ids(utt_ids: Sequence[str], evals: dict[str, Any]) -> dict[str, str]:
    """``--plot-utterances``: the split of each id; an id in none of the evaluated splits is a
    :class:`ConfigError` naming it."""
    found: dict[str, str] = {}
    for split, eval_set in evals.items():
        for record in eval_set.dataset.records:
            found.setdefault(record.video_id, split)
    missing = [u for u in utt_ids if u not in found]
    if missing:
        example = next(iter(found), "none")
        raise ConfigError(f"--plot-utterances: {', '.join(missing[:5])}: no such utterance in the evaluated "
                          f"split(s) {', '.join(evals)} (ids as in the STM, e.g. {example})")
    return {u: found[u] for u in utt_ids}


def write_utterance_plots(model: torch.nn.Module, evals: dict[str, Any], vocab, out_dir: Path, protocol: str,
                          utt_ids: Sequence[str]) -> list[Path]:
    """``<out_dir>/alignments/<split>-<id>.png`` for each of ``utt_ids`` (after the splits were scored)."""
    splits = check_plot_ids(utt_ids, evals)
    paths = []
    for split in dict.fromkeys(splits.values()):
        report, hypotheses = score_split(out_dir, split, protocol)
        ids = [u for u in utt_ids if splits[u] == split]
        views = utterance_views(model, evals[split].dataset, vocab, report, hypotheses, ids)
        for utt_id, rendered in views.items():
            path = out_dir / "alignments" / plot_file_name(split, utt_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, rendered.png)
            paths.append(path)
    return paths


def prediction_plot_paths(target: str | Path, count: int) -> list[Path]:
    """``--plot``: ``target`` itself for one video, ``<stem>-1<suffix>``, ``<stem>-2<suffix>``, ...
    for several (1-based, in the order the videos were given)."""
    target = Path(target)
    if count == 1:
        return [target]
    suffix = target.suffix or ".png"
    return [target.with_name(f"{target.stem}-{k}{suffix}") for k in range(1, count + 1)]


class PredictionPlots:
    """``predict_videos(..., on_output=PredictionPlots(paths))``: writes video ``k``'s alignment view
    to ``paths[k]`` and adds ``plot`` (the path) and ``spans`` (``[{"gloss", "start", "end"}]`` in
    output frames, the glosses the view shows) to its item."""

    def __init__(self, paths: Sequence[Path], decoder: str = "", videos: Sequence[str] | None = None) -> None:
        self.paths = list(paths)
        #: the videos in the order given, so a video that could not be read keeps its number
        self.videos = None if videos is None else [str(v) for v in videos]
        self._used: set[int] = set()
        self.decoder = decoder
        self.rendered: list[RenderedView] = []
        self.views: list[AlignmentView] = []

    @classmethod
    def for_cli(cls, target: str, videos: Sequence[str], loaded, beam_size: int | None,
                greedy: bool) -> PredictionPlots:
        parent = Path(target).expanduser().parent
        if not parent.is_dir():
            raise ConfigError(f"--plot {target}: folder {parent} does not exist")
        from slr_phoenix.inference import with_decoding
        from slr_phoenix.pipeline import decoder_from_settings

        decoder = f"{decoder_from_settings(with_decoding(loaded.eval, beam_size, greedy)).tag} decoding"
        return cls(prediction_plot_paths(Path(target).expanduser(), len(videos)), decoder, videos)

    def _index(self, video: str) -> int:
        if self.videos is None:
            index = len(self.rendered)
        else:
            index = next(i for i, v in enumerate(self.videos) if v == str(video) and i not in self._used)
        self._used.add(index)
        return index

    def __call__(self, item: dict[str, Any], frames: np.ndarray, log_probs: torch.Tensor,
                 ids: Sequence[int]) -> None:
        path = self.paths[self._index(item["video"])]
        view = prediction_view(item["video"], frames, log_probs.float().cpu().numpy(), [int(i) for i in ids],
                               item["glosses"], self.decoder)
        rendered = render_alignment_view(view, max_thumbnails=MAX_THUMBNAILS)
        atomic_write_bytes(path, rendered.png)
        self.views.append(view)
        self.rendered.append(rendered)
        item["plot"] = str(path)
        item["spans"] = [{"gloss": s.gloss, "start": s.start, "end": s.end} for s in view.spans]
