"""CTC decoding for (T, B, V) log-probabilities: one :class:`Decoder` interface, a registry of
decoders, exact scoring.

* :class:`Decoder`: ``decode(log_probs (T, B, V), lengths (B,)) -> B label lists``, plus
  ``name``, a frozen validated ``config`` and ``decode_with_scores``.
* :func:`create_decoder` ``(name, **options)`` / :func:`list_decoders` /
  :func:`register_decoder` / :func:`decoder_options`: the registry (``greedy``, ``beam``,
  ``prefix_beam``, ``torchaudio_beam``).
* :func:`ctc_greedy_decode` / :class:`GreedyDecoder`: best path, collapse repeats, drop blanks.
* :class:`CTCBeamDecoder`: beam search with a backend per device (torchaudio's CUDA decoder,
  torchaudio's flashlight-text CPU decoder, or this package's prefix beam search), with the
  choice and its reason in :class:`BackendChoice`; :class:`PrefixBeamDecoder` and
  :class:`TorchaudioBeamDecoder` fix the backend.
* :func:`ctc_log_likelihood`: exact ``log p(labels | x)`` of any label sequences, the score
  :meth:`Decoder.decode_with_scores` reports.
* :func:`ctc_prefix_beam_search` / :func:`ctc_prefix_beam_search_ref`: the prefix search
  itself (n-best with search scores) and its plain-Python reference.
"""

from slr_models.decoding.base import Decoder
from slr_models.decoding.registry import (
    DecoderOptionError,
    UnknownDecoderError,
    create_decoder,
    decoder_options,
    list_decoders,
    register_decoder,
)
from slr_models.decoding.greedy import GreedyConfig, GreedyDecoder, ctc_greedy_decode  # isort: skip
from slr_models.decoding.beam import (  # isort: skip  (registers the beam decoders after greedy)
    BACKENDS,
    BackendChoice,
    BeamSearchConfig,
    CTCBeamDecoder,
    PrefixBeamConfig,
    PrefixBeamDecoder,
    TorchaudioBeamConfig,
    TorchaudioBeamDecoder,
)
from slr_models.decoding.prefix_beam import ctc_prefix_beam_search
from slr_models.decoding.prefix_beam_ref import ctc_prefix_beam_search_ref
from slr_models.decoding.scoring import ctc_log_likelihood

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "BeamSearchConfig",
    "CTCBeamDecoder",
    "Decoder",
    "DecoderOptionError",
    "GreedyConfig",
    "GreedyDecoder",
    "PrefixBeamConfig",
    "PrefixBeamDecoder",
    "TorchaudioBeamConfig",
    "TorchaudioBeamDecoder",
    "UnknownDecoderError",
    "create_decoder",
    "ctc_greedy_decode",
    "ctc_log_likelihood",
    "ctc_prefix_beam_search",
    "ctc_prefix_beam_search_ref",
    "decoder_options",
    "list_decoders",
    "register_decoder",
]
