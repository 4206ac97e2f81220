"""CTCBeamDecoder: likelihood versus greedy, agreement between backends, edge cases."""

import itertools

import pytest
import torch

from slr_models.decoding import (
    CTCBeamDecoder,
    ctc_greedy_decode,
    ctc_log_likelihood,
    ctc_prefix_beam_search,
)
from slr_models.decoding.backends import flashlight_unavailable_reason

FLASHLIGHT_MISSING = flashlight_unavailable_reason()
needs_flashlight = pytest.mark.skipif(FLASHLIGHT_MISSING is not None, reason=f"{FLASHLIGHT_MISSING}")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CPU_BACKENDS = ["prefix", pytest.param("torchaudio", marks=needs_flashlight)]


def _random_emissions(seed: int, num_frames: int, batch: int, vocab: int, scale: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(num_frames, batch, vocab, generator=generator) * scale).log_softmax(-1)


def _peaked_emissions(seed: int, num_frames: int, batch: int, vocab: int, blank: int = 0) -> torch.Tensor:
    """Model-like emissions: a random alignment (half blank) whose class gets a large logit."""
    generator = torch.Generator().manual_seed(seed)
    alignment = torch.randint(0, vocab, (num_frames, batch), generator=generator)
    alignment[torch.rand(num_frames, batch, generator=generator) < 0.5] = blank
    logits = torch.randn(num_frames, batch, vocab, generator=generator)
    logits.scatter_add_(2, alignment[..., None], torch.full((num_frames, batch, 1), 8.0))
    return logits.log_softmax(-1)


def _lengths(num_frames: int, batch: int) -> torch.Tensor:
    return torch.tensor([num_frames - (b * 7) % (num_frames // 2) for b in range(batch)])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("beam_size", [1, 2, 5])
@pytest.mark.parametrize(("vocab", "scale"), [(4, 1.0), (30, 2.0), (1296, 1.0), (1296, 6.0)])
def test_beam_result_is_at_least_as_likely_as_greedy(backend, beam_size, vocab, scale):
    log_probs = _random_emissions(vocab + beam_size, 40, 6, vocab, scale)
    lengths = _lengths(40, 6)
    hypotheses, scores = CTCBeamDecoder(beam_size, backend=backend).decode_with_scores(log_probs, lengths)
    greedy_scores = ctc_log_likelihood(log_probs, lengths, ctc_greedy_decode(log_probs, lengths))
    assert bool((scores >= greedy_scores - 1e-9).all()), (scores - greedy_scores).min()
    torch.testing.assert_close(scores, ctc_log_likelihood(log_probs, lengths, hypotheses))


def test_rescoring_returns_greedy_when_the_search_loses_to_it():
    """The hand-made input of test_decoding_prefix.py where a beam of 2 prunes greedy's path."""
    probs = [[0.5, 0.05, 0.45], [0.3, 0.6, 0.1], [0.35, 0.4, 0.25], [0.4, 0.15, 0.45]]
    log_probs = torch.tensor(probs, dtype=torch.float64).log()[:, None]
    assert CTCBeamDecoder(2, backend="prefix").decode(log_probs, [4]) == [[1, 2]]
    assert CTCBeamDecoder(2, backend="prefix", rescore=False).decode(log_probs, [4]) == [[1]]


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize(("num_frames", "vocab", "blank"), [(4, 3, 0), (5, 3, 2), (3, 4, 1)])
def test_wide_beam_finds_the_exact_best_labelling(backend, num_frames, vocab, blank):
    log_probs = _random_emissions(num_frames * vocab + blank, num_frames, 1, vocab, scale=1.5)
    labels = [c for c in range(vocab) if c != blank]
    every = [list(s) for n in range(num_frames + 1) for s in itertools.product(labels, repeat=n)]
    every_scores = ctc_log_likelihood(
        log_probs.expand(-1, len(every), -1), [num_frames] * len(every), every, blank
    )
    decoder = CTCBeamDecoder(2 * len(every), blank=blank, backend=backend, token_beam=vocab, rescore=False)
    hypotheses, scores = decoder.decode_with_scores(log_probs, [num_frames])
    assert hypotheses == [every[int(every_scores.argmax())]]
    assert scores.item() == pytest.approx(every_scores.max().item(), abs=1e-9)


@needs_flashlight
@pytest.mark.parametrize(("vocab", "blank"), [(1296, 0), (60, 0), (60, 7)])
def test_prefix_and_torchaudio_backends_agree_on_peaked_emissions(vocab, blank):
    log_probs = _peaked_emissions(vocab + blank, 120, 8, vocab, blank)
    lengths = _lengths(120, 8)
    for rescore in (True, False):
        prefix = CTCBeamDecoder(blank=blank, backend="prefix", rescore=rescore).decode(log_probs, lengths)
        torchaudio = CTCBeamDecoder(blank=blank, backend="torchaudio", rescore=rescore).decode(
            log_probs, lengths
        )
        assert prefix == torchaudio


@needs_flashlight
def test_prefix_search_matches_torchaudio_ctc_decoder_called_directly():
    """torchaudio's own API, configured as its docs describe (lexicon-free, no LM), with the
    blank doubling as the silence token."""
    from torchaudio.models.decoder import ctc_decoder

    vocab = 1296
    log_probs = _peaked_emissions(1, 150, 6, vocab)
    lengths = _lengths(150, 6)
    decoder = ctc_decoder(
        lexicon=None,
        tokens=[f"g{i}" for i in range(vocab)],
        beam_size=5,
        log_add=True,
        blank_token="g0",
        sil_token="g0",
    )
    torchaudio_result = decoder(log_probs.transpose(0, 1).contiguous(), lengths)
    ours = ctc_prefix_beam_search(log_probs, lengths, beam_size=5)
    assert [ranked[0][0] for ranked in ours] == [hyps[0].tokens.tolist() for hyps in torchaudio_result]


@needs_flashlight
def test_default_token_beam_gives_the_same_result_as_expanding_every_class():
    vocab = 60
    for seed, scale in [(0, 1.0), (1, 3.0), (2, 6.0)]:
        log_probs = _random_emissions(seed, 50, 6, vocab, scale)
        lengths = _lengths(50, 6)
        default = CTCBeamDecoder(backend="torchaudio", rescore=False).decode(log_probs, lengths)
        every_class = CTCBeamDecoder(backend="torchaudio", token_beam=vocab, rescore=False).decode(
            log_probs, lengths
        )
        assert default == every_class


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_beam_of_one_and_degenerate_inputs(backend):
    decoder = CTCBeamDecoder(beam_size=1, backend=backend)
    log_probs = _peaked_emissions(3, 30, 4, 20)
    lengths = torch.tensor([30, 29, 1, 0])
    hypotheses = decoder.decode(log_probs, lengths)
    assert hypotheses == ctc_greedy_decode(log_probs, lengths)  # peaked: the best path dominates
    assert hypotheses[3] == []
    # Certain blank everywhere, zero frames, empty batch.
    all_blank = torch.log(torch.tensor([1.0, 0.0, 0.0])).expand(5, 2, 3)
    assert decoder.decode(all_blank, [5, 3]) == [[], []]
    empty, scores = decoder.decode_with_scores(torch.zeros(0, 2, 3), [0, 0])
    assert empty == [[], []] and scores.tolist() == [0.0, 0.0]
    assert decoder.decode(torch.zeros(5, 0, 3), torch.zeros(0, dtype=torch.long)) == []


def test_backend_choice_is_inspectable(monkeypatch):
    decoder = CTCBeamDecoder()
    assert decoder.last_choice is None
    decoder.decode(_peaked_emissions(0, 10, 2, 8), [10, 5])
    choice = decoder.last_choice
    assert choice == decoder.backend_for("cpu")
    assert (choice.device, choice.runs_on) == ("cpu", "cpu")
    if FLASHLIGHT_MISSING is None:
        assert (choice.backend, choice.implementation) == ("torchaudio", "flashlight")
    else:
        assert (choice.backend, choice.implementation) == ("prefix", "prefix")
        assert FLASHLIGHT_MISSING in choice.reason

    # A torchaudio decoder that cannot run: auto falls back with the reason, explicit raises.
    monkeypatch.setattr("slr_models.decoding.beam.flashlight_unavailable_reason", lambda: "flashlight broke")
    fallback = CTCBeamDecoder().backend_for("cpu")
    assert (fallback.backend, fallback.implementation) == ("prefix", "prefix")
    assert "flashlight unavailable: flashlight broke" in fallback.reason
    with pytest.raises(RuntimeError, match="flashlight broke"):
        CTCBeamDecoder(backend="torchaudio").backend_for("cpu")
    assert CTCBeamDecoder(backend="prefix").backend_for("cpu").reason == "requested"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the choice on a machine without CUDA")
def test_cuda_choice_without_cuda_explains_itself():
    choice = CTCBeamDecoder().backend_for("cuda")
    assert choice.device == "cuda:0" and choice.runs_on == "cpu"
    assert "cuda_ctc_decoder unavailable: CUDA is not available" in choice.reason


def test_probe_turns_a_broken_torchaudio_into_a_reason(monkeypatch):
    import slr_models.decoding.backends as backends

    class Broken:
        def __getattr__(self, name):
            raise RuntimeError("CTC Decoder suit requires flashlight-text package")

    monkeypatch.setitem(__import__("sys").modules, "torchaudio.models.decoder", Broken())
    reason = backends.flashlight_unavailable_reason.__wrapped__()
    assert reason.startswith("torchaudio's CPU CTC decoder cannot be imported: RuntimeError")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_size": 0}, "beam_size must be an int >= 1"),
        ({"beam_size": 2.5}, "beam_size must be an int >= 1"),
        ({"blank": -1}, "blank must be an int >= 0"),
        ({"backend": "ctcdecode"}, "backend must be one of"),
        ({"token_beam": 0}, "token_beam must be an int >= 1"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CTCBeamDecoder(**kwargs)


def test_decode_rejects_bad_input():
    with pytest.raises(ValueError, match="out of range for V = 3"):
        CTCBeamDecoder(blank=3).decode(torch.zeros(4, 1, 3), [4])
    with pytest.raises(ValueError, match="<= T = 4"):
        CTCBeamDecoder().decode(torch.zeros(4, 1, 3), [5])


@needs_cuda
@pytest.mark.cuda
@pytest.mark.parametrize("blank", [0, 5])
def test_cuda_decoding_matches_cpu(blank):
    log_probs = _peaked_emissions(blank, 100, 8, 1296, blank)
    lengths = _lengths(100, 8)
    lengths[-1] = 0
    expected = CTCBeamDecoder(blank=blank, backend="prefix").decode(log_probs, lengths)
    decoder = CTCBeamDecoder(blank=blank)
    assert decoder.decode(log_probs.cuda(), lengths.cuda()) == expected
    assert decoder.last_choice.device.startswith("cuda")
    for rescore in (True, False):
        explicit = CTCBeamDecoder(blank=blank, backend="torchaudio", rescore=rescore)
        assert explicit.decode(log_probs.cuda(), lengths) == expected


def test_decoder_pickles_after_use():
    import pickle

    decoder = CTCBeamDecoder(beam_size=3)
    log_probs = _peaked_emissions(4, 20, 3, 12)
    expected = decoder.decode(log_probs, [20, 10, 0])
    restored = pickle.loads(pickle.dumps(decoder))
    assert restored.decode(log_probs, [20, 10, 0]) == expected
    assert restored.last_choice == decoder.last_choice


def test_importing_decoding_does_not_import_torchaudio():
    """torchaudio / flashlight-text are the optional ``beam`` extra: loaded on first use only."""
    import subprocess
    import sys

    code = "import sys, slr_models.decoding; print('torchaudio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
