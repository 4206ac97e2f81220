"""Input checks shared by every CTC decoder.

All decoders take ``log_probs`` of shape ``(T, B, V)`` (time-major, as the model returns
them, padded along ``T``) and ``lengths`` of shape ``(B,)`` (valid frames per sequence).
The checks here turn bad input into a ``ValueError``/``TypeError`` that says what is wrong,
instead of a crash deep inside a backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from slr_models.decoding._arrays import cpu_numpy

__all__ = [
    "check_blank",
    "check_ctc_inputs",
    "check_frame_maxima",
    "check_hypotheses",
    "check_option_bool",
    "check_option_int",
]


def check_ctc_inputs(
    log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int], blank: int, check_values: bool = True
) -> torch.Tensor:
    """Validate decoder inputs and return ``lengths`` as a CPU int64 tensor of shape ``(B,)``.

    Args:
        log_probs: ``(T, B, V)`` floating tensor of per-frame (log-)scores, any device.
        lengths: ``(B,)`` integer tensor or sequence; ``0 <= lengths[b] <= T``.
        blank: index of the CTC blank, ``0 <= blank < V``.
        check_values: also reject NaN / +inf scores (one pass over ``log_probs``); callers
            that take the per-frame maximum anyway pass ``False`` and use
            :func:`check_frame_maxima` on it.

    Raises:
        TypeError: ``log_probs`` is not a floating tensor, or ``lengths`` is not integral.
        ValueError: wrong shapes, out-of-range lengths or blank, NaN or +inf scores.
    """
    if not isinstance(log_probs, torch.Tensor):
        kind = type(log_probs).__name__
        raise TypeError(f"log_probs must be a torch.Tensor of shape (T, B, V), got {kind}")
    if log_probs.dim() != 3:
        raise ValueError(
            f"log_probs must have shape (T, B, V) (time-major, as the model returns it), "
            f"got {log_probs.dim()} dimensions with shape {tuple(log_probs.shape)}"
        )
    if not log_probs.is_floating_point():
        raise TypeError(f"log_probs must be a floating tensor, got dtype {log_probs.dtype}")
    num_frames, batch, vocab = log_probs.shape
    check_blank(blank, vocab)
    lengths_cpu = _as_length_tensor(lengths)
    if lengths_cpu.shape != (batch,):
        raise ValueError(
            f"lengths must have shape (B,) = ({batch},) to match log_probs {tuple(log_probs.shape)}, "
            f"got shape {tuple(lengths_cpu.shape)}"
        )
    if batch and int(lengths_cpu.min()) < 0:
        raise ValueError(f"lengths must be >= 0, got {lengths_cpu.tolist()}")
    if batch and int(lengths_cpu.max()) > num_frames:
        raise ValueError(
            f"lengths must be <= T = {num_frames} (the padded time dimension of log_probs), "
            f"got max {int(lengths_cpu.max())}"
        )
    if check_values and log_probs.numel():
        array = cpu_numpy(log_probs)
        maxima = log_probs.detach().amax(dim=-1) if array is None else torch.from_numpy(array.max(axis=-1))
        check_frame_maxima(maxima)
    return lengths_cpu


def check_frame_maxima(maxima: torch.Tensor) -> None:
    """Raise ``ValueError`` if the per-frame maxima ``(T, B)`` of ``log_probs`` reveal a NaN
    (max propagates NaN) or a +inf score."""
    if maxima.numel():
        largest = float(maxima.max())
        if math.isnan(largest) or largest == math.inf:
            raise ValueError(
                "log_probs contains NaN or +inf; decoders need finite log-probabilities (or -inf)"
            )


def check_blank(blank: int, vocab: int) -> None:
    """Raise ``ValueError`` unless ``blank`` is an integer index into a vocabulary of ``vocab``."""
    if isinstance(blank, bool) or not isinstance(blank, int):
        raise TypeError(f"blank must be an int, got {type(blank).__name__}")
    if not 0 <= blank < vocab:
        raise ValueError(f"blank = {blank} is out of range for V = {vocab} classes")


def check_hypotheses(hypotheses: Sequence[Sequence[int]], batch: int, vocab: int, blank: int) -> None:
    """Check that ``hypotheses`` holds ``batch`` label sequences of non-blank ids in ``[0, vocab)``."""
    if len(hypotheses) != batch:
        raise ValueError(f"expected {batch} hypotheses (one per sequence), got {len(hypotheses)}")
    for index, hypothesis in enumerate(hypotheses):
        for label in hypothesis:
            if not 0 <= int(label) < vocab or int(label) == blank:
                raise ValueError(
                    f"hypothesis {index} contains label {int(label)}; labels must be in [0, {vocab}) "
                    f"and differ from blank = {blank}"
                )


def _as_length_tensor(lengths: torch.Tensor | Sequence[int]) -> torch.Tensor:
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must be an integer tensor, got dtype {lengths.dtype}")
        return lengths.detach().to("cpu", torch.int64)
    try:
        values = [int(value) for value in lengths]
    except TypeError as error:
        raise TypeError(f"lengths must be a (B,) integer tensor or sequence of ints: {error}") from None
    if any(value != original for value, original in zip(values, lengths, strict=True)):
        raise TypeError(f"lengths must hold integers, got {list(lengths)}")
    return torch.tensor(values, dtype=torch.int64)


def check_option_int(name: str, value: object, minimum: int, allow_none: bool = False) -> None:
    """Raise ``ValueError`` unless the decoder option ``name`` is an int ``>= minimum`` (or
    ``None`` when ``allow_none``)."""
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        also = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= {minimum}{also}, got {value!r}")


def check_option_bool(name: str, value: object) -> None:
    """Raise ``ValueError`` unless the decoder option ``name`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
