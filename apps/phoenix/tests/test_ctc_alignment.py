"""Gloss spans of a CTC output: the forced (Viterbi) alignment, the greedy path, the spans."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from slr_models import CTCBeamDecoder, ctc_greedy_decode

from slr_phoenix.ctc_alignment import collapse_path, ctc_path, forced_alignment, path_spans


def _log_probs(frames: int, classes: int, seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(frames, classes)) * 2.0
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _path_score(log_probs: np.ndarray, path) -> float:
    return float(sum(log_probs[t, c] for t, c in enumerate(path)))


@pytest.mark.parametrize(("frames", "labels"), [(5, [1, 2]), (6, [1, 1]), (5, [2, 1, 2]), (4, [3]), (5, [])])
def test_the_forced_alignment_is_the_best_path_that_spells_the_labels(frames, labels):
    log_probs = _log_probs(frames, 4, seed=frames + len(labels))
    path = forced_alignment(log_probs, labels)
    assert collapse_path(path) == labels
    # brute force over every path of the same length
    best = max((p for p in itertools.product(range(4), repeat=frames) if collapse_path(p) == labels),
               key=lambda p: _path_score(log_probs, p))
    assert _path_score(log_probs, path) == pytest.approx(_path_score(log_probs, best))


def test_labels_that_do_not_fit_the_frames_are_refused():
    log_probs = _log_probs(3, 4, seed=0)
    with pytest.raises(ValueError, match="need at least 4 frames"):
        forced_alignment(log_probs, [1, 1, 2])  # a blank must separate the two 1s
    assert collapse_path(forced_alignment(_log_probs(4, 4, 0), [1, 1, 2])) == [1, 1, 2]
    with pytest.raises(ValueError, match="non-blank classes below 4"):
        forced_alignment(log_probs, [0])
    with pytest.raises(ValueError, match="non-blank classes below 4"):
        forced_alignment(log_probs, [4])


def test_the_greedy_hypothesis_keeps_the_greedy_path_and_a_beam_one_gets_its_viterbi_path():
    log_probs = _log_probs(40, 6, seed=3)
    greedy_path = log_probs.argmax(axis=1)
    greedy = ctc_greedy_decode(torch.from_numpy(log_probs).unsqueeze(1), [40])[0]
    assert np.array_equal(ctc_path(log_probs, greedy), greedy_path)
    assert np.array_equal(forced_alignment(log_probs, greedy), greedy_path)  # the same path: it is optimal
    decoder = CTCBeamDecoder(beam_size=4, backend="prefix")
    beam = decoder.decode(torch.from_numpy(log_probs).unsqueeze(1), [40])[0]
    path = ctc_path(log_probs, beam)
    assert collapse_path(path) == beam
    other = [1, 2, 3]
    assert collapse_path(ctc_path(log_probs, other)) == other  # any feasible hypothesis aligns


def test_spans_are_the_frames_where_each_gloss_fires():
    path = [0, 1, 1, 0, 2, 2, 2, 1, 0, 0, 1]
    spans = path_spans(path, ["A", "B", "C", "D"])
    assert [(s.index, s.label, s.gloss, s.start, s.end) for s in spans] == [
        (0, 1, "A", 1, 3), (1, 2, "B", 4, 7), (2, 1, "C", 7, 8), (3, 1, "D", 10, 11)]
    assert spans[1].centre == 5.5
    assert path_spans([0, 0], []) == []
    with pytest.raises(ValueError, match="emits 4 labels, but 5 glosses"):
        path_spans(path, ["A", "B", "C", "D", "E"])
    with pytest.raises(ValueError, match="emits more labels than the 3 glosses"):
        path_spans(path, ["A", "B", "C"])
