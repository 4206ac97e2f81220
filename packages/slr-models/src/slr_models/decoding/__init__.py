"""CTC decoding for (T, B, V) log-probabilities: greedy, beam search, exact scoring.

* :func:`ctc_greedy_decode`: best path, collapse repeats, drop blanks.
* :class:`CTCBeamDecoder`: beam search with a backend per device (torchaudio's CUDA decoder,
  torchaudio's flashlight-text CPU decoder, or this package's prefix beam search), with the
  choice and its reason in :class:`BackendChoice`.
* :func:`ctc_log_likelihood`: exact ``log p(labels | x)`` of any label sequences, the score
  :meth:`CTCBeamDecoder.decode_with_scores` reports.
* :func:`ctc_prefix_beam_search` / :func:`ctc_prefix_beam_search_ref`: the prefix search
  itself (n-best with search scores) and its plain-Python reference.
"""

from slr_models.decoding.beam import BACKENDS, BackendChoice, CTCBeamDecoder
from slr_models.decoding.greedy import ctc_greedy_decode
from slr_models.decoding.prefix_beam import ctc_prefix_beam_search
from slr_models.decoding.prefix_beam_ref import ctc_prefix_beam_search_ref
from slr_models.decoding.scoring import ctc_log_likelihood

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "CTCBeamDecoder",
    "ctc_greedy_decode",
    "ctc_log_likelihood",
    "ctc_prefix_beam_search",
    "ctc_prefix_beam_search_ref",
]
