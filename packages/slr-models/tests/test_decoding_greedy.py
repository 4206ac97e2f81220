"""Greedy CTC decoding and the input checks shared by all decoders."""

import math

import pytest
import torch

from slr_models.decoding import ctc_greedy_decode


def _from_best_path(path: list[list[int]], vocab: int) -> torch.Tensor:
    """``(T, B, V)`` log-probabilities whose arg-max path is ``path[b][t]`` (all same length)."""
    num_frames, batch = len(path[0]), len(path)
    probs = torch.full((num_frames, batch, vocab), 0.1 / (vocab - 1))
    for b, row in enumerate(path):
        for t, label in enumerate(row):
            probs[t, b, label] = 0.9
    return probs.log()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([1, 1, 2, 2, 2, 3], [1, 2, 3]),  # repeats collapse
        ([0, 1, 0, 0, 2, 0], [1, 2]),  # blanks dropped
        ([1, 0, 1, 1, 0, 1], [1, 1, 1]),  # a blank separates repeated labels
        ([0, 0, 0, 0, 0, 0], []),  # nothing but blank
        ([3, 3, 3, 3, 3, 3], [3]),
        ([2, 3, 2, 3, 2, 3], [2, 3, 2, 3, 2, 3]),
    ],
)
def test_greedy_handmade_paths(path, expected):
    log_probs = _from_best_path([path], vocab=4)
    assert ctc_greedy_decode(log_probs, torch.tensor([len(path)])) == [expected]


def test_greedy_ignores_padding_and_handles_empty_sequences():
    paths = [[1, 2, 2, 0, 3, 3], [1, 1, 2, 0, 3, 3], [3, 0, 3, 1, 2, 1]]
    log_probs = _from_best_path(paths, vocab=4)
    lengths = torch.tensor([6, 3, 0])
    assert ctc_greedy_decode(log_probs, lengths) == [[1, 2, 3], [1, 2], []]
    # Frames past the length do not leak in, whatever they hold.
    log_probs[3:, 1] = torch.tensor([0.0, -50.0, -50.0, -50.0])
    assert ctc_greedy_decode(log_probs, lengths)[1] == [1, 2]


def test_greedy_with_nonzero_blank():
    paths = [[4, 1, 1, 4, 1, 2, 4]]
    log_probs = _from_best_path(paths, vocab=5)
    assert ctc_greedy_decode(log_probs, [7], blank=4) == [[1, 1, 2]]
    assert ctc_greedy_decode(log_probs, [7], blank=0) == [[4, 1, 4, 1, 2, 4]]


def test_greedy_empty_batch_and_zero_frames():
    assert ctc_greedy_decode(torch.zeros(5, 0, 3), torch.zeros(0, dtype=torch.long)) == []
    assert ctc_greedy_decode(torch.zeros(0, 2, 3), torch.tensor([0, 0])) == [[], []]


def test_greedy_ties_go_to_lowest_index():
    log_probs = torch.full((2, 1, 3), math.log(1 / 3))
    assert ctc_greedy_decode(log_probs, [2]) == [[]]  # blank (0) wins the tie
    log_probs[:, 0, 0] = -10.0
    assert ctc_greedy_decode(log_probs, [2]) == [[1]]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_greedy_accepts_other_float_dtypes(dtype):
    log_probs = _from_best_path([[1, 0, 2, 2]], vocab=3)
    assert ctc_greedy_decode(log_probs.to(dtype), [4]) == [[1, 2]]


def test_greedy_lengths_as_list_or_tensor_on_any_integer_dtype():
    log_probs = _from_best_path([[1, 0, 2, 2], [2, 2, 0, 1]], vocab=3)
    expected = [[1], [2, 1]]
    assert ctc_greedy_decode(log_probs, [2, 4]) == expected
    assert ctc_greedy_decode(log_probs, torch.tensor([2, 4], dtype=torch.int32)) == expected


@pytest.mark.parametrize(
    ("log_probs", "lengths", "blank", "error", "message"),
    [
        (torch.zeros(4, 3), [4], 0, ValueError, "shape \\(T, B, V\\)"),
        (torch.zeros(4, 2, 3, dtype=torch.long), [4, 4], 0, TypeError, "floating"),
        (torch.zeros(4, 2, 3), [4], 0, ValueError, "lengths must have shape"),
        (torch.zeros(4, 2, 3), [4, 5], 0, ValueError, "<= T = 4"),
        (torch.zeros(4, 2, 3), [4, -1], 0, ValueError, ">= 0"),
        (torch.zeros(4, 2, 3), torch.tensor([4.0, 1.0]), 0, TypeError, "integer"),
        (torch.zeros(4, 2, 3), [4, 1.5], 0, TypeError, "integers"),
        (torch.zeros(4, 2, 3), [4, 4], 3, ValueError, "out of range"),
        (torch.zeros(4, 2, 3), [4, 4], -1, ValueError, "out of range"),
        (torch.full((4, 2, 3), float("nan")), [4, 4], 0, ValueError, "NaN"),
        ("not a tensor", [4], 0, TypeError, "torch.Tensor"),
    ],
)
def test_greedy_rejects_bad_input_with_clear_errors(log_probs, lengths, blank, error, message):
    with pytest.raises(error, match=message):
        ctc_greedy_decode(log_probs, lengths, blank=blank)


def test_greedy_accepts_minus_inf_scores():
    log_probs = torch.tensor([[[0.0, float("-inf")]], [[float("-inf"), 0.0]]])
    assert ctc_greedy_decode(log_probs, [2]) == [[1]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.cuda
def test_greedy_on_cuda_matches_cpu():
    generator = torch.Generator().manual_seed(0)
    log_probs = torch.randn(50, 6, 40, generator=generator).log_softmax(-1)
    lengths = torch.tensor([50, 49, 10, 1, 0, 33])
    expected = ctc_greedy_decode(log_probs, lengths)
    assert ctc_greedy_decode(log_probs.cuda(), lengths.cuda()) == expected
    assert ctc_greedy_decode(log_probs.cuda(), lengths) == expected
