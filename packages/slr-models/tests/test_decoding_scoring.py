"""Exact CTC log-likelihood (``ctc_log_likelihood``) against brute-force path enumeration."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from slr_models.decoding import ctc_log_likelihood


def brute_force_label_log_likelihoods(log_probs: torch.Tensor, blank: int) -> dict[tuple[int, ...], float]:
    """``{labels: log p(labels)}`` for one sequence ``(T, V)``, summing every one of the ``V**T``
    frame paths into the label sequence it collapses to."""
    num_frames, vocab = log_probs.shape
    rows = log_probs.double().tolist()
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(vocab), repeat=num_frames):
        collapsed = tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c))
        score = sum(rows[t][c] for t, c in enumerate(path))
        previous = totals.get(collapsed, float("-inf"))
        high, low = max(previous, score), min(previous, score)
        totals[collapsed] = high + math.log1p(math.exp(low - high)) if low > float("-inf") else high
    return totals


@pytest.mark.parametrize(("num_frames", "vocab", "blank"), [(4, 3, 0), (5, 3, 2), (3, 4, 1), (1, 3, 0)])
def test_log_likelihood_equals_brute_force_for_every_label_sequence(num_frames, vocab, blank):
    generator = torch.Generator().manual_seed(num_frames * 10 + vocab)
    log_probs = (torch.randn(num_frames, 1, vocab, generator=generator) * 2).log_softmax(-1)
    expected = brute_force_label_log_likelihoods(log_probs[:, 0], blank)
    labels = list(expected)
    got = ctc_log_likelihood(log_probs.expand(-1, len(labels), -1), [num_frames] * len(labels), labels, blank)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, torch.tensor([expected[h] for h in labels], dtype=torch.float64))
    # Probabilities of all label sequences sum to one.
    assert torch.logsumexp(got, 0).item() == pytest.approx(0.0, abs=1e-6)


def test_log_likelihood_of_impossible_and_empty_hypotheses():
    log_probs = torch.randn(3, 4, 5).log_softmax(-1)
    lengths = torch.tensor([3, 3, 0, 2])
    hypotheses = [[1, 2, 3, 4], [2, 2], [], [1]]  # too long; needs 3 frames; empty of empty; fine
    got = ctc_log_likelihood(log_probs, lengths, hypotheses)
    assert got[0] == float("-inf")
    assert got[1] == pytest.approx(
        (log_probs[0, 1, 2] + log_probs[1, 1, 0] + log_probs[2, 1, 2]).item(), abs=1e-6
    )
    assert got[2] == 0.0
    assert math.isfinite(got[3])
    assert ctc_log_likelihood(torch.zeros(0, 2, 3), [0, 0], [[], [1]]).tolist() == [0.0, float("-inf")]


def test_log_likelihood_matches_ctc_loss_on_a_padded_batch():
    generator = torch.Generator().manual_seed(3)
    log_probs = torch.randn(30, 5, 50, generator=generator).log_softmax(-1)
    lengths = torch.tensor([30, 25, 12, 1, 30])
    hypotheses = [[3, 3, 7, 9, 49], [1, 2, 3], [5], [7], [8, 1, 8, 1, 8, 1, 8]]
    targets = torch.tensor([c for h in hypotheses for c in h])
    expected = -F.ctc_loss(
        log_probs.double(), targets, lengths, torch.tensor([len(h) for h in hypotheses]), reduction="none"
    )
    torch.testing.assert_close(ctc_log_likelihood(log_probs, lengths, hypotheses), expected)


@pytest.mark.parametrize(
    ("hypotheses", "message"),
    [
        ([[1], [0]], "differ from blank"),
        ([[1], [7]], "must be in \\[0, 5\\)"),
        ([[1]], "expected 2 hypotheses"),
    ],
)
def test_log_likelihood_rejects_bad_hypotheses(hypotheses, message):
    with pytest.raises(ValueError, match=message):
        ctc_log_likelihood(torch.zeros(3, 2, 5), [3, 3], hypotheses)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.cuda
def test_log_likelihood_on_cuda_matches_cpu():
    log_probs = torch.randn(20, 3, 30).log_softmax(-1)
    hypotheses = [[1, 2], [3, 3, 3], []]
    expected = ctc_log_likelihood(log_probs, [20, 10, 5], hypotheses)
    got = ctc_log_likelihood(log_probs.cuda(), torch.tensor([20, 10, 5]).cuda(), hypotheses)
    assert got.device.type == "cpu"
    torch.testing.assert_close(got, expected)
