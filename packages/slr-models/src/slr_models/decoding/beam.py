"""CTC beam search with a backend picked per device: ``CTCBeamDecoder`` (registered as
``beam``) and its fixed-backend forms ``PrefixBeamDecoder`` (``prefix_beam``) and
``TorchaudioBeamDecoder`` (``torchaudio_beam``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from slr_models.decoding._validation import check_ctc_inputs, check_option_bool, check_option_int
from slr_models.decoding.base import Decoder
from slr_models.decoding.backends import (
    CUDA_MAX_BEAM,
    BeamSearch,
    CudaBackend,
    FlashlightBackend,
    PrefixBackend,
    cuda_decoder_unavailable_reason,
    flashlight_unavailable_reason,
)
from slr_models.decoding.greedy import best_path, collapse_best_path
from slr_models.decoding.registry import register_decoder
from slr_models.decoding.scoring import score_candidates

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "BeamSearchConfig",
    "CTCBeamDecoder",
    "PrefixBeamConfig",
    "PrefixBeamDecoder",
    "TorchaudioBeamConfig",
    "TorchaudioBeamDecoder",
]

BACKENDS = ("auto", "torchaudio", "prefix")


def _check_beam_options(beam_size: object, blank: object, token_beam: object, rescore: object) -> None:
    check_option_int("beam_size", beam_size, 1)
    check_option_int("blank", blank, 0)
    check_option_int("token_beam", token_beam, 1, allow_none=True)
    check_option_bool("rescore", rescore)


@dataclass(frozen=True)
class BeamSearchConfig:
    """Options of the ``beam`` decoder (:class:`CTCBeamDecoder`, which documents them);
    ``backend`` is one of :data:`BACKENDS`."""

    beam_size: int = 5
    blank: int = 0
    backend: str = "auto"
    token_beam: int | None = None
    rescore: bool = True

    def __post_init__(self) -> None:
        _check_beam_options(self.beam_size, self.blank, self.token_beam, self.rescore)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")


@dataclass(frozen=True)
class PrefixBeamConfig:
    """Options of the ``prefix_beam`` decoder (:class:`PrefixBeamDecoder`)."""

    beam_size: int = 5
    blank: int = 0
    rescore: bool = True

    def __post_init__(self) -> None:
        _check_beam_options(self.beam_size, self.blank, None, self.rescore)


@dataclass(frozen=True)
class TorchaudioBeamConfig:
    """Options of the ``torchaudio_beam`` decoder (:class:`TorchaudioBeamDecoder`)."""

    beam_size: int = 5
    blank: int = 0
    token_beam: int | None = None
    rescore: bool = True

    def __post_init__(self) -> None:
        _check_beam_options(self.beam_size, self.blank, self.token_beam, self.rescore)


@dataclass(frozen=True)
class BackendChoice:
    """Which backend decodes ``log_probs`` of one device, and why.

    Attributes:
        backend: ``"torchaudio"`` or ``"prefix"``.
        implementation: ``"cuda_ctc_decoder"`` (torchaudio, CUDA), ``"flashlight"``
            (torchaudio ``ctc_decoder``, flashlight-text, CPU) or ``"prefix"`` (this package's
            Python/numpy prefix beam search, CPU).
        device: the device of the ``log_probs`` this choice is for, e.g. ``"cpu"``, ``"cuda:0"``.
        runs_on: where the search runs (``"cpu"`` means CUDA scores are copied to the CPU).
        reason: why this backend was chosen, including why faster ones were not.
    """

    backend: str
    implementation: str
    device: str
    runs_on: str
    reason: str


_BACKEND_OF = {"cuda_ctc_decoder": "torchaudio", "flashlight": "torchaudio", "prefix": "prefix"}


@register_decoder
class CTCBeamDecoder(Decoder):
    """``beam``: CTC beam search over padded, time-major log-probabilities.

    Args:
        beam_size: hypotheses kept per frame (``>= 1``). The prefix and CUDA backends count
            prefixes; flashlight (torchaudio, CPU) counts (prefix, ends-in-blank?) states.
        blank: index of the CTC blank.
        backend: ``"auto"`` (the fastest backend that works for the input's device),
            ``"torchaudio"`` (torchaudio's CUDA decoder for CUDA tensors, else its flashlight-text
            CPU decoder; ``RuntimeError`` with the reasons if neither runs) or ``"prefix"`` (this
            package's prefix beam search; always works). See :meth:`backend_for`; the choice of
            the latest call is in ``last_choice``.
        token_beam: flashlight only: how many of the frame's best classes each hypothesis is
            extended with (its ``beam_size_token``). Default ``2 * beam_size``. flashlight can
            sum up to three hypotheses into one, so unlike the prefix backend (for which the
            ``beam_size + 1`` best classes provably suffice) no smaller count is provably
            enough; ``V`` expands every class, at many times the cost.
        rescore: if true (default) and the search's best hypothesis differs from the greedy
            one, the one with the larger exact CTC log-likelihood is returned, so the result
            is never less likely than greedy decoding's (a pruned beam search alone does not
            guarantee that). If false, the search's best hypothesis is returned unchanged.

    Call :meth:`decode` (labels) or :meth:`decode_with_scores` (labels and exact
    log-likelihoods); inputs may live on the CPU or a CUDA device.
    """

    name = "beam"
    Config = BeamSearchConfig

    def __init__(
        self,
        beam_size: int = 5,
        blank: int = 0,
        backend: str = "auto",
        token_beam: int | None = None,
        rescore: bool = True,
    ) -> None:
        self._configure(BeamSearchConfig(beam_size, blank, backend, token_beam, rescore), backend)

    def _configure(
        self, config: BeamSearchConfig | PrefixBeamConfig | TorchaudioBeamConfig, backend: str
    ) -> None:
        self.config = config
        self.beam_size = config.beam_size
        self.blank = config.blank
        self.backend = backend
        token_beam = getattr(config, "token_beam", None)  # PrefixBeamConfig has none (prefix ignores it)
        self.token_beam = 2 * config.beam_size if token_beam is None else token_beam
        self.rescore = config.rescore
        self.last_choice: BackendChoice | None = None
        self._choices: dict[str, BackendChoice] = {}
        self._searchers: dict[tuple[str, str, int], BeamSearch] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_searchers"] = {}  # torchaudio decoders hold native handles; rebuilt on demand
        return state

    @property
    def tag(self) -> str:
        """``beam5`` for ``beam`` with ``beam_size=5`` (``prefix_beam5``, ...)."""
        return f"{self.name}{self.beam_size}"

    def backend_for(self, device: torch.device | str = "cpu") -> BackendChoice:
        """The backend that decodes ``log_probs`` on ``device``, with the reason.

        Candidates, fastest first: on CUDA, torchaudio's ``cuda_ctc_decoder`` (beam up to
        128), then the CPU candidates on a CPU copy; on the CPU, flashlight, then the prefix
        search (``benchmarks/RESULTS.md``, "CTC decoding", has the CPU timings; the CUDA
        decoder's lead is assumed, not yet measured).
        ``"auto"`` takes the first that works, ``"torchaudio"`` the first torchaudio one,
        ``"prefix"`` the prefix search. Whether a torchaudio decoder works is tested once per
        process by decoding a tiny input.

        Raises:
            RuntimeError: ``backend="torchaudio"`` and no torchaudio decoder works here.
        """
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
        key = str(device)
        if key not in self._choices:
            self._choices[key] = self._choose(device)
        return self._choices[key]

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> list[list[int]]:
        """Best label sequence of each sequence of the batch.

        Args:
            log_probs: ``(T, B, V)`` log-probabilities (log-softmax output), CPU or CUDA.
            lengths: ``(B,)`` valid frames per sequence, ``0 <= lengths[b] <= T``.

        Returns:
            ``B`` label lists (no blanks); empty for ``lengths[b] == 0``.
        """
        return self._decode(log_probs, lengths, with_scores=False)[0]

    def decode_with_scores(
        self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int]
    ) -> tuple[list[list[int]], torch.Tensor]:
        """Like :meth:`decode`, plus the ``(B,)`` float64 CPU exact CTC log-likelihoods
        ``log p(labels_b | x_b)`` of the returned label sequences (the same numbers as
        :func:`~slr_models.decoding.ctc_log_likelihood`, whichever backend ran)."""
        hypotheses, scores = self._decode(log_probs, lengths, with_scores=True)
        assert scores is not None
        return hypotheses, scores

    def _decode(
        self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int], with_scores: bool
    ) -> tuple[list[list[int]], torch.Tensor | None]:
        lengths_cpu = check_ctc_inputs(log_probs, lengths, self.blank, check_values=False)
        greedy_path = best_path(log_probs)  # also rejects NaN / +inf
        num_frames, batch, vocab = log_probs.shape
        choice = self.backend_for(log_probs.device)
        self.last_choice = choice
        if num_frames == 0 or batch == 0:
            return [[] for _ in range(batch)], torch.zeros(batch, dtype=torch.float64)
        best = self._searcher(choice, vocab).best(log_probs, lengths_cpu)
        if self.rescore:
            greedy = collapse_best_path(greedy_path, lengths_cpu, self.blank)
            differ = [b for b in range(batch) if best[b] != greedy[b]]
            if differ:  # exact likelihood of the search's and greedy's answers, where they differ
                candidates = [best[b] for b in differ] + [greedy[b] for b in differ]
                owners = differ + differ
                pair = score_candidates(log_probs, lengths_cpu, owners, candidates, self.blank).tolist()
                for index, b in enumerate(differ):
                    if pair[len(differ) + index] > pair[index]:  # ties keep the search's answer
                        best[b] = greedy[b]
        if not with_scores:
            return best, None
        return best, score_candidates(log_probs, lengths_cpu, range(batch), best, self.blank)

    def _choose(self, device: torch.device) -> BackendChoice:
        implementations = ["flashlight", "prefix"]
        if device.type == "cuda":
            implementations.insert(0, "cuda_ctc_decoder")
        if self.backend != "auto":
            implementations = [i for i in implementations if _BACKEND_OF[i] == self.backend]
        skipped = []
        for implementation in implementations:
            unavailable = self._unavailable(implementation, device)
            if unavailable is None:
                runs_on = str(device) if implementation == "cuda_ctc_decoder" else "cpu"
                reason = "requested" if self.backend != "auto" else "auto: fastest backend that works here"
                if skipped:
                    reason += " (" + "; ".join(skipped) + ")"
                backend = _BACKEND_OF[implementation]
                return BackendChoice(backend, implementation, str(device), runs_on, reason)
            skipped.append(f"{implementation} unavailable: {unavailable}")
        reasons = "; ".join(skipped)
        raise RuntimeError(f"backend={self.backend!r} cannot decode tensors on {device}: {reasons}")

    def _unavailable(self, implementation: str, device: torch.device) -> str | None:
        if implementation == "prefix":
            return None
        if implementation == "flashlight":
            return flashlight_unavailable_reason()
        if self.beam_size > CUDA_MAX_BEAM:
            return f"it supports beam_size <= {CUDA_MAX_BEAM}, got {self.beam_size}"
        return cuda_decoder_unavailable_reason(device.index)

    def _searcher(self, choice: BackendChoice, vocab: int) -> BeamSearch:
        key = (choice.implementation, choice.runs_on, vocab)
        if key not in self._searchers:
            searcher: BeamSearch
            if choice.implementation == "prefix":
                searcher = PrefixBackend(vocab, self.beam_size, self.blank)
            elif choice.implementation == "flashlight":
                searcher = FlashlightBackend(vocab, self.beam_size, self.blank, self.token_beam)
            else:
                searcher = CudaBackend(vocab, self.beam_size, self.blank, torch.device(choice.runs_on))
            self._searchers[key] = searcher
        return self._searchers[key]


@register_decoder
class PrefixBeamDecoder(CTCBeamDecoder):
    """``prefix_beam``: :class:`CTCBeamDecoder` always on this package's prefix beam search
    (Python and numpy on the CPU; CUDA scores are copied), which needs neither torchaudio nor
    flashlight-text. Same results as ``CTCBeamDecoder(backend="prefix")``."""

    name = "prefix_beam"
    Config = PrefixBeamConfig

    def __init__(self, beam_size: int = 5, blank: int = 0, rescore: bool = True) -> None:
        self._configure(PrefixBeamConfig(beam_size, blank, rescore), "prefix")


@register_decoder
class TorchaudioBeamDecoder(CTCBeamDecoder):
    """``torchaudio_beam``: :class:`CTCBeamDecoder` always on torchaudio's decoders
    (``cuda_ctc_decoder`` for CUDA tensors, flashlight-text's ``ctc_decoder`` on the CPU); like
    ``CTCBeamDecoder(backend="torchaudio")``, decoding raises ``RuntimeError`` with the reasons
    where neither runs (see :meth:`CTCBeamDecoder.backend_for`)."""

    name = "torchaudio_beam"
    Config = TorchaudioBeamConfig

    def __init__(
        self, beam_size: int = 5, blank: int = 0, token_beam: int | None = None, rescore: bool = True
    ) -> None:
        self._configure(TorchaudioBeamConfig(beam_size, blank, token_beam, rescore), "torchaudio")
