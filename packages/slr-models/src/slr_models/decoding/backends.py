"""The beam-search backends behind :class:`~slr_models.decoding.CTCBeamDecoder`.

Each backend's ``best(log_probs (T, B, V), lengths (B,) CPU int64)`` returns the best label
sequence the search found for each sequence:

* ``PrefixBackend``: :func:`~slr_models.decoding.prefix_beam.ctc_prefix_beam_search`
  (Python and numpy, CPU; CUDA inputs are copied to the CPU). Always available.
* ``FlashlightBackend``: torchaudio's ``ctc_decoder`` without lexicon or language model,
  i.e. the flashlight-text ``LexiconFreeDecoder`` (CPU). Needs ``flashlight-text``.
* ``CudaBackend``: torchaudio's ``cuda_ctc_decoder`` (CUDA prefix beam search).

torchaudio is imported lazily, and whether its decoders run is found out once per process
by decoding a tiny known input (``flashlight_unavailable_reason``,
``cuda_decoder_unavailable_reason``); a failure becomes a reason string, never a crash.
"""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np
import torch

from slr_models.decoding._arrays import cpu_numpy
from slr_models.decoding.prefix_beam import ctc_prefix_beam_search

__all__ = [
    "CUDA_MAX_BEAM",
    "BeamSearch",
    "CudaBackend",
    "FlashlightBackend",
    "PrefixBackend",
    "cuda_decoder_unavailable_reason",
    "flashlight_unavailable_reason",
]

CUDA_MAX_BEAM = 128  # torchaudio's CUDA kernel keeps the beam in a 128-entry shared array

# Smoke test for the probes: frames favour 1, blank, 2, 2 -> the only sensible answer is [1, 2].
_SMOKE_PROBS = [[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]]
_SMOKE_ANSWER = [1, 2]


class BeamSearch(Protocol):
    def best(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """Best label sequence found for each of the ``B`` sequences of ``log_probs (T, B, V)``."""
        ...


def _smoke_input(device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    log_probs = torch.tensor(_SMOKE_PROBS, device=device).log().unsqueeze(1)  # (4, 1, 3)
    return log_probs, torch.tensor([len(_SMOKE_PROBS)])


class PrefixBackend:
    """Exact-expansion CTC prefix beam search (``beam_size`` prefixes per frame)."""

    def __init__(self, vocab: int, beam_size: int, blank: int) -> None:
        self.beam_size = beam_size
        self.blank = blank

    def best(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        results = ctc_prefix_beam_search(log_probs, lengths, self.beam_size, self.blank)
        return [ranked[0][0] for ranked in results]


class FlashlightBackend:
    """torchaudio ``ctc_decoder`` (flashlight-text ``LexiconFreeDecoder``), CPU.

    Configuration, chosen so that the search is a plain CTC beam search over classes:
    tokens are the class ids as strings; the blank is also the silence token (the
    lexicon-free decoder needs one; using the blank means the start state and end-of-input
    step are "after a blank", which is what CTC requires, and with ``sil_score = 0`` it adds
    nothing); no language model (``ZeroLM``, whose states are exactly the emitted prefixes);
    ``log_add=True`` so merged hypotheses add their probabilities; no score-threshold pruning.
    flashlight's beam holds ``beam_size`` (prefix, ends-in-blank?) states, and each state is
    extended with the ``token_beam`` best classes of the frame.
    """

    def __init__(self, vocab: int, beam_size: int, blank: int, token_beam: int) -> None:
        from torchaudio.models.decoder import ctc_decoder

        self.blank = blank
        self.beam_size = beam_size
        self._decoder = ctc_decoder(
            lexicon=None,
            tokens=[str(index) for index in range(vocab)],
            lm=None,
            nbest=1,
            beam_size=beam_size,
            beam_size_token=min(token_beam, vocab),
            beam_threshold=1e30,
            lm_weight=0.0,
            sil_score=0.0,
            log_add=True,
            blank_token=str(blank),
            sil_token=str(blank),
        )

    def best(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        batch = log_probs.shape[1]
        results: list[list[int]] = [[] for _ in range(batch)]
        nonempty = [b for b in range(batch) if int(lengths[b]) > 0]
        if not nonempty:
            return results
        array = cpu_numpy(log_probs.detach().cpu())
        assert array is not None
        # (B', T, V) contiguous float32, as flashlight reads raw memory
        selected = np.ascontiguousarray(array[:, nonempty].transpose(1, 0, 2), dtype=np.float32)
        hypotheses = self._decoder(torch.from_numpy(selected), lengths[nonempty].to(torch.int64))
        for b, ranked in zip(nonempty, hypotheses, strict=True):
            results[b] = ranked[0].tokens.tolist() if ranked else []
        return results


class CudaBackend:
    """torchaudio ``cuda_ctc_decoder`` (a CUDA prefix beam search), for CUDA tensors.

    The kernel requires the blank at index 0, ``(B, T, V)`` contiguous float32 scores and
    int32 lengths on the same device; any other blank is handled by moving its column to the
    front and mapping the returned labels back. ``blank_skip_threshold=1.0`` disables the
    kernel's frame skipping (which would otherwise drop frames with ``p(blank) > 0.95``).
    """

    def __init__(self, vocab: int, beam_size: int, blank: int, device: torch.device) -> None:
        from torchaudio.models.decoder import cuda_ctc_decoder

        self.blank = blank
        self.device = device
        self._order = torch.tensor([blank] + [c for c in range(vocab) if c != blank], device=device)
        self._original_label = self._order.tolist()
        with torch.cuda.device(device):
            self._decoder = cuda_ctc_decoder(
                [str(index) for index in range(vocab)],
                nbest=1,
                beam_size=beam_size,
                blank_skip_threshold=1.0,
            )

    def best(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        batch = log_probs.shape[1]
        results: list[list[int]] = [[] for _ in range(batch)]
        nonempty = [b for b in range(batch) if int(lengths[b]) > 0]
        if not nonempty:
            return results
        scores = log_probs.detach().to(self.device, torch.float32)
        if self.blank != 0:
            scores = scores.index_select(2, self._order)
        index = torch.tensor(nonempty, device=self.device)
        selected = scores.index_select(1, index).transpose(0, 1).contiguous()  # (B', T, V)
        selected_lengths = lengths[nonempty].to(self.device, torch.int32).contiguous()
        with torch.cuda.device(self.device):
            hypotheses = self._decoder(selected, selected_lengths)
        for b, ranked in zip(nonempty, hypotheses, strict=True):
            results[b] = [self._original_label[int(c)] for c in ranked[0].tokens] if ranked else []
        return results


@functools.cache
def flashlight_unavailable_reason() -> str | None:
    """``None`` if torchaudio's CPU (flashlight-text) decoder works here, else why not."""
    try:
        from torchaudio.models.decoder import ctc_decoder  # noqa: F401 - imports flashlight-text
    except Exception as error:  # ImportError, RuntimeError("requires flashlight-text"), OSError
        return f"torchaudio's CPU CTC decoder cannot be imported: {type(error).__name__}: {error}"
    try:
        log_probs, lengths = _smoke_input()
        got = FlashlightBackend(vocab=3, beam_size=2, blank=0, token_beam=3).best(log_probs, lengths)
    except Exception as error:
        return f"torchaudio's CPU CTC decoder failed on a tiny input: {type(error).__name__}: {error}"
    if got[0] != _SMOKE_ANSWER:
        return f"torchaudio's CPU CTC decoder returned {got[0]} for a tiny input whose answer is [1, 2]"
    return None


@functools.cache
def cuda_decoder_unavailable_reason(device_index: int) -> str | None:
    """``None`` if torchaudio's CUDA CTC decoder works on ``cuda:device_index``, else why not."""
    if not torch.cuda.is_available():
        return "CUDA is not available"
    try:
        from torchaudio.models.decoder import cuda_ctc_decoder  # noqa: F401 - loads the CUDA kernels
    except Exception as error:  # ImportError, RuntimeError/AttributeError (built without CUCTC)
        return f"torchaudio's CUDA CTC decoder cannot be imported: {type(error).__name__}: {error}"
    device = torch.device("cuda", device_index)
    try:
        log_probs, lengths = _smoke_input(device)
        got = CudaBackend(vocab=3, beam_size=2, blank=0, device=device).best(log_probs, lengths)
    except Exception as error:
        return f"torchaudio's CUDA CTC decoder failed on a tiny input: {type(error).__name__}: {error}"
    if got[0] != _SMOKE_ANSWER:
        return f"torchaudio's CUDA CTC decoder returned {got[0]} for a tiny input whose answer is [1, 2]"
    return None
