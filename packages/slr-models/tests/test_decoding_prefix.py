"""CTC prefix beam search: exactness against enumeration, the textbook reference, edge cases."""

import itertools
import math

import pytest
import torch

from slr_models.decoding import (
    ctc_greedy_decode,
    ctc_log_likelihood,
    ctc_prefix_beam_search,
    ctc_prefix_beam_search_ref,
)


def _random_log_probs(seed: int, num_frames: int, batch: int, vocab: int, scale: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(num_frames, batch, vocab, generator=generator) * scale).log_softmax(-1)


def _best_by_enumeration(log_probs: torch.Tensor, blank: int) -> tuple[list[int], float]:
    """Most likely label sequence of one ``(T, V)`` sequence: every label sequence of length
    ``<= T`` scored exactly (``ctc_log_likelihood`` is itself tested against path enumeration)."""
    num_frames, vocab = log_probs.shape
    labels = [c for c in range(vocab) if c != blank]
    every = [list(s) for n in range(num_frames + 1) for s in itertools.product(labels, repeat=n)]
    scores = ctc_log_likelihood(
        log_probs[:, None].expand(-1, len(every), -1), [num_frames] * len(every), every, blank
    )
    best = int(scores.argmax())
    return every[best], float(scores[best])


@pytest.mark.parametrize(
    ("num_frames", "vocab", "blank"), [(4, 3, 0), (5, 3, 1), (4, 4, 3), (6, 3, 0), (2, 5, 0)]
)
@pytest.mark.parametrize("seed", range(4))
def test_unpruned_prefix_search_finds_the_exact_best_labelling(num_frames, vocab, blank, seed):
    log_probs = _random_log_probs(seed, num_frames, 1, vocab, scale=1.5)
    expected_labels, expected_score = _best_by_enumeration(log_probs[:, 0], blank)
    # A beam as wide as the number of label sequences never prunes: the search is exact.
    wide = (vocab ** (num_frames + 1)) // (vocab - 1)
    [[(labels, score), *_]] = ctc_prefix_beam_search(log_probs, torch.tensor([num_frames]), wide, blank)
    assert labels == expected_labels
    assert score == pytest.approx(expected_score, abs=1e-9)
    [(ref_labels, ref_score), *_] = ctc_prefix_beam_search_ref(log_probs[:, 0], wide, blank)
    assert list(ref_labels) == expected_labels
    assert ref_score == pytest.approx(expected_score, abs=1e-9)


@pytest.mark.parametrize("beam_size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize(("vocab", "blank", "scale"), [(2, 0, 1.0), (6, 0, 3.0), (9, 4, 1.0), (40, 0, 4.0)])
def test_pruned_search_equals_textbook_reference(beam_size, vocab, blank, scale):
    """Same n-best prefixes and scores as the plain reference that expands every class,
    so the 2 * beam_size class pruning loses nothing; padded batches decode per sequence."""
    log_probs = _random_log_probs(beam_size * 100 + vocab, 15, 6, vocab, scale)
    lengths = torch.tensor([15, 14, 9, 3, 1, 0])
    got = ctc_prefix_beam_search(log_probs, lengths, beam_size, blank, nbest=beam_size)
    for b, length in enumerate(lengths.tolist()):
        if length == 0:
            assert got[b] == [([], 0.0)]
            continue
        reference = ctc_prefix_beam_search_ref(log_probs[:length, b], beam_size, blank)
        assert [labels for labels, _ in got[b]] == [list(labels) for labels, _ in reference]
        for (_, score), (_, ref_score) in zip(got[b], reference, strict=True):
            assert score == pytest.approx(ref_score, abs=1e-9)


@pytest.mark.parametrize("pattern", ["flat", "blank_every_other_frame", "two_strong_classes"])
def test_class_pruning_is_exact_on_flat_frames(pattern):
    """Near-uniform frames make many beam entries extend each other, the case where expanding
    fewer than beam_size + 1 classes per frame changes the beam."""
    for seed in range(60):
        generator = torch.Generator().manual_seed(seed)
        beam_size = 2 + seed % 4
        vocab = beam_size + 2 + seed % (2 * beam_size + 2)
        logits = torch.randn(8, 1, vocab, generator=generator) * 0.3
        if pattern == "blank_every_other_frame":
            logits[::2, :, 0] += 3.0
        elif pattern == "two_strong_classes":
            logits[:, :, :2] += 1.0
        log_probs = logits.log_softmax(-1)
        got = ctc_prefix_beam_search(log_probs, torch.tensor([8]), beam_size, nbest=beam_size)[0]
        reference = ctc_prefix_beam_search_ref(log_probs[:, 0], beam_size)
        assert [labels for labels, _ in got] == [list(labels) for labels, _ in reference], seed


def test_search_scores_are_exact_when_nothing_was_pruned_and_lower_bounds_otherwise():
    log_probs = _random_log_probs(7, 12, 4, 30, scale=3.0)
    lengths = torch.tensor([12, 12, 8, 5])
    results = ctc_prefix_beam_search(log_probs, lengths, beam_size=4, nbest=4)
    owners = [b for b, ranked in enumerate(results) for _ in ranked]
    hypotheses = [labels for ranked in results for labels, _ in ranked]
    exact = ctc_log_likelihood(log_probs[:, owners], lengths[owners], hypotheses)
    search = torch.tensor([score for ranked in results for _, score in ranked], dtype=torch.float64)
    assert bool((search <= exact + 1e-9).all())
    for ranked in results:  # best first
        assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)


def test_beam_of_one_keeps_only_the_locally_best_prefix():
    """p(blank) = 0.6, p(a) = 0.4 on two frames: "a" has probability 0.64, "" only 0.36, but
    after the first frame "" leads (0.6 > 0.4), so a beam of one never recovers "a"."""
    log_probs = torch.tensor([[[0.6, 0.4]], [[0.6, 0.4]]], dtype=torch.float64).log()
    lengths = torch.tensor([2])
    [[(labels, score)]] = ctc_prefix_beam_search(log_probs, lengths, beam_size=1)
    assert labels == [] and score == pytest.approx(math.log(0.36))
    [[(labels, score), _]] = ctc_prefix_beam_search(log_probs, lengths, beam_size=2, nbest=2)
    assert labels == [1] and score == pytest.approx(math.log(0.64))
    assert ctc_greedy_decode(log_probs, lengths) == [[]]


def test_prefix_search_alone_can_lose_to_greedy():
    """A hand-made input where the beam (2) prunes the prefix that greedy follows: the search
    returns [1] although greedy's [1, 2] is more likely. (CTCBeamDecoder guards against this
    by rescoring; see test_decoding_beam.py.)"""
    probs = [[0.5, 0.05, 0.45], [0.3, 0.6, 0.1], [0.35, 0.4, 0.25], [0.4, 0.15, 0.45]]
    log_probs = torch.tensor(probs, dtype=torch.float64).log()[:, None]
    lengths = torch.tensor([4])
    [[(labels, _)]] = ctc_prefix_beam_search(log_probs, lengths, beam_size=2)
    greedy = ctc_greedy_decode(log_probs, lengths)
    assert labels == [1] and greedy == [[1, 2]]
    scores = ctc_log_likelihood(log_probs.expand(-1, 2, -1), [4, 4], [labels, greedy[0]])
    assert scores[0] < scores[1] - 0.2


def test_single_class_all_blank_and_impossible_inputs():
    # Only the blank class: nothing can be emitted.
    assert ctc_prefix_beam_search(torch.zeros(3, 1, 1), torch.tensor([3]), 4) == [[([], 0.0)]]
    # Certain blank everywhere.
    log_probs = torch.log(torch.tensor([[[1.0, 0.0, 0.0]]] * 4))
    assert ctc_prefix_beam_search(log_probs, torch.tensor([4]), 3) == [[([], 0.0)]]
    # A frame where every class is impossible: no alignment survives.
    log_probs = torch.log(torch.tensor([[[0.5, 0.5]], [[0.0, 0.0]]]))
    assert ctc_prefix_beam_search(log_probs, torch.tensor([2]), 3) == [[([], float("-inf"))]]
    assert ctc_prefix_beam_search_ref(log_probs[:, 0], 3) == [((), float("-inf"))]
    # Empty batch and zero frames.
    assert ctc_prefix_beam_search(torch.zeros(4, 0, 3), torch.zeros(0, dtype=torch.long), 3) == []
    assert ctc_prefix_beam_search(torch.zeros(0, 2, 3), torch.tensor([0, 0]), 3) == [[([], 0.0)]] * 2


def test_result_does_not_depend_on_input_dtype_or_batch_neighbours():
    log_probs = _random_log_probs(11, 40, 5, 100, scale=4.0)
    lengths = torch.tensor([40, 31, 40, 2, 17])
    batched = ctc_prefix_beam_search(log_probs, lengths, 5, nbest=3)
    assert ctc_prefix_beam_search(log_probs.double(), lengths, 5, nbest=3) == batched
    for b in range(5):
        alone = ctc_prefix_beam_search(log_probs[:, b : b + 1].contiguous(), lengths[b : b + 1], 5, nbest=3)
        assert alone == [batched[b]]


def test_reference_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape \\(T, V\\)"):
        ctc_prefix_beam_search_ref(torch.zeros(2, 1, 3), 2)
    with pytest.raises(ValueError, match="beam_size must be >= 1"):
        ctc_prefix_beam_search_ref(torch.zeros(2, 3), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.cuda
def test_prefix_search_on_cuda_input_matches_cpu():
    log_probs = _random_log_probs(5, 60, 4, 300, scale=5.0)
    lengths = torch.tensor([60, 50, 1, 0])
    expected = ctc_prefix_beam_search(log_probs, lengths, 5, nbest=5)
    assert ctc_prefix_beam_search(log_probs.cuda(), lengths, 5, nbest=5) == expected
