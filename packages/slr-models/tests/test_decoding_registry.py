"""The Decoder interface and the decoder registry: create / list / unknown names / bad options,
and every built-in decoder, built by name, giving the results the decoders gave before."""

import dataclasses
import re

import pytest
import torch

from slr_models import create_decoder as top_level_create_decoder
from slr_models.decoding import (
    BACKENDS,
    CTCBeamDecoder,
    Decoder,
    DecoderOptionError,
    GreedyDecoder,
    PrefixBeamDecoder,
    TorchaudioBeamDecoder,
    UnknownDecoderError,
    create_decoder,
    ctc_greedy_decode,
    ctc_log_likelihood,
    ctc_prefix_beam_search,
    decoder_options,
    list_decoders,
    register_decoder,
)
from slr_models.decoding import registry as registry_module
from slr_models.decoding.backends import flashlight_unavailable_reason

FLASHLIGHT_MISSING = flashlight_unavailable_reason()
needs_flashlight = pytest.mark.skipif(FLASHLIGHT_MISSING is not None, reason=f"{FLASHLIGHT_MISSING}")
BUILT_IN = {"greedy": GreedyDecoder, "beam": CTCBeamDecoder, "prefix_beam": PrefixBeamDecoder,
            "torchaudio_beam": TorchaudioBeamDecoder}


@pytest.fixture
def isolated_registry(monkeypatch):
    """Registrations made by a test disappear after it."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


def _peaked_emissions(seed: int, num_frames: int, batch: int, vocab: int, blank: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    alignment = torch.randint(0, vocab, (num_frames, batch), generator=generator)
    alignment[torch.rand(num_frames, batch, generator=generator) < 0.5] = blank
    logits = torch.randn(num_frames, batch, vocab, generator=generator)
    logits.scatter_add_(2, alignment[..., None], torch.full((num_frames, batch, 1), 8.0))
    return logits.log_softmax(-1)


def _random_emissions(seed: int, num_frames: int, batch: int, vocab: int, scale: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(num_frames, batch, vocab, generator=generator) * scale).log_softmax(-1)


# --------------------------------------------------------------------------------- the registry
def test_built_in_decoders_are_listed_and_built_by_name():
    assert set(BUILT_IN) <= set(list_decoders())
    assert list_decoders() == sorted(list_decoders())
    for name, cls in BUILT_IN.items():
        decoder = create_decoder(name)
        assert type(decoder) is cls and isinstance(decoder, Decoder)
        assert decoder.name == name and isinstance(decoder.config, cls.Config)
        assert dataclasses.is_dataclass(decoder.config) and decoder.config.blank == 0
        with pytest.raises(dataclasses.FrozenInstanceError):
            decoder.config.blank = 1
    assert type(top_level_create_decoder("greedy")) is GreedyDecoder


def test_options_reach_the_config_and_the_search():
    decoder = create_decoder("beam", beam_size=3, blank=2, backend="prefix", token_beam=7, rescore=False)
    assert decoder.config == CTCBeamDecoder.Config(3, 2, "prefix", 7, False)
    assert (decoder.beam_size, decoder.blank, decoder.backend, decoder.token_beam, decoder.rescore) == (
        3, 2, "prefix", 7, False)
    prefix = create_decoder("prefix_beam", beam_size=4)
    assert prefix.backend == "prefix" and prefix.config == PrefixBeamDecoder.Config(4, 0, True)
    assert create_decoder("torchaudio_beam").backend == "torchaudio"
    assert create_decoder("greedy", blank=3).config.blank == 3
    assert decoder_options("beam") == {"beam_size": 5, "blank": 0, "backend": "auto", "token_beam": None,
                                       "rescore": True}
    assert decoder_options("greedy") == {"blank": 0}
    tags = [create_decoder(n).tag for n in ("greedy", "beam", "prefix_beam")]
    assert tags == ["greedy", "beam5", "prefix_beam5"]
    assert create_decoder("beam", beam_size=3).tag == "beam3"


def test_unknown_name_lists_the_registered_decoders():
    listed = f"unknown decoder 'viterbi'; registered decoders: {', '.join(list_decoders())}$"
    with pytest.raises(UnknownDecoderError, match=listed):
        create_decoder("viterbi")
    with pytest.raises(UnknownDecoderError, match="unknown decoder"):
        decoder_options("viterbi")
    assert issubclass(UnknownDecoderError, ValueError)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("greedy", {"beam_size": 5}, r"decoder 'greedy' has no option 'beam_size'; its options \(defaults\): "
                                     "blank=0$"),
        ("prefix_beam", {"backend": "auto"}, r"no option 'backend'; .*beam_size=5, blank=0, rescore=True$"),
        ("beam", {"beam_size": 0}, "decoder 'beam': beam_size must be an int >= 1, got 0"),
        ("beam", {"beam_size": 2.5}, "beam_size must be an int >= 1"),
        ("beam", {"backend": "ctcdecode"}, re.escape(f"backend must be one of {BACKENDS}, got 'ctcdecode'")),
        ("beam", {"token_beam": 0}, "token_beam must be an int >= 1 or None"),
        ("torchaudio_beam", {"rescore": "yes"}, "rescore must be True or False, got 'yes'"),
        ("greedy", {"blank": -1}, "decoder 'greedy': blank must be an int >= 0, got -1"),
        ("greedy", {"blank": True}, "blank must be an int >= 0"),
    ],
)
def test_bad_options_are_refused_when_built(name, options, message):
    with pytest.raises(DecoderOptionError, match=message):
        create_decoder(name, **options)


def test_direct_construction_validates_too():
    with pytest.raises(ValueError, match="beam_size must be an int >= 1"):
        PrefixBeamDecoder(beam_size=0)
    with pytest.raises(ValueError, match="blank must be an int >= 0"):
        GreedyDecoder(blank=-2)


# ------------------------------------------------------------------------- registering a decoder
@dataclasses.dataclass(frozen=True)
class _LastFrameConfig:
    blank: int = 0
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise ValueError(f"repeat must be >= 1, got {self.repeat}")


class _LastFrameDecoder(Decoder):
    """Emits the arg-max class of each sequence's last valid frame ``repeat`` times."""

    name = "test_last_frame"
    Config = _LastFrameConfig

    def decode(self, log_probs, lengths):
        out = []
        for b, length in enumerate(torch.as_tensor(lengths).tolist()):
            label = int(log_probs[length - 1, b].argmax()) if length else self.config.blank
            out.append([] if label == self.config.blank else [label] * self.config.repeat)
        return out


def test_a_registered_decoder_is_built_validated_and_scored(isolated_registry):
    assert register_decoder(_LastFrameDecoder) is _LastFrameDecoder
    assert "test_last_frame" in list_decoders()
    decoder = create_decoder("test_last_frame", repeat=2)
    assert decoder.config == _LastFrameConfig(0, 2)
    assert repr(decoder) == "_LastFrameDecoder(blank=0, repeat=2)"
    probs = torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.8, 0.1, 0.1]]).log()  # (T=3, V=3)
    log_probs = probs[:, None].expand(3, 2, 3)
    assert decoder.decode(log_probs, [2, 1]) == [[2, 2], [1, 1]] == decoder(log_probs, [2, 1])
    hypotheses, scores = decoder.decode_with_scores(log_probs, [2, 1])  # the base class's exact scores
    torch.testing.assert_close(scores, ctc_log_likelihood(log_probs, [2, 1], hypotheses))
    with pytest.raises(DecoderOptionError, match="decoder 'test_last_frame': repeat must be >= 1, got 0"):
        create_decoder("test_last_frame", repeat=0)
    with pytest.raises(DecoderOptionError, match="its options .defaults.: blank=0, repeat=1"):
        create_decoder("test_last_frame", beam_size=2)
    with pytest.raises(ValueError, match="'test_last_frame' is already registered"):
        register_decoder(_LastFrameDecoder)
    assert "test_last_frame" in list_decoders()


def test_register_decoder_rejects_malformed_classes(isolated_registry):
    @dataclasses.dataclass
    class Mutable:
        blank: int = 0

    @dataclasses.dataclass(frozen=True)
    class NoBlank:
        width: int = 1

    @dataclasses.dataclass(frozen=True)
    class NoDefault:
        blank: int

    def subclass(name, config):
        return type("D", (_LastFrameDecoder,), {"name": name, "Config": config})

    with pytest.raises(TypeError, match="takes a Decoder subclass"):
        register_decoder(type("NotADecoder", (), {"name": "x"}))
    with pytest.raises(ValueError, match="needs a class attribute name"):
        register_decoder(type("Nameless", (_LastFrameDecoder,), {"name": ""}))
    with pytest.raises(ValueError, match="needs a class attribute name"):
        register_decoder(type("Inherited", (_LastFrameDecoder,), {}))  # a name must be its own
    with pytest.raises(TypeError, match="must be a frozen dataclass"):
        register_decoder(subclass("m", Mutable))
    with pytest.raises(TypeError, match="needs a 'blank' field"):
        register_decoder(subclass("n", NoBlank))
    with pytest.raises(TypeError, match="need defaults: blank"):
        register_decoder(subclass("d", NoDefault))
    with pytest.raises(ValueError, match="'greedy' is already registered"):
        register_decoder(subclass("greedy", _LastFrameConfig))
    assert not {"m", "n", "d"} & set(list_decoders())


# --------------------------------------------------- built by name: the same results as before
@pytest.mark.parametrize(
    ("path", "expected"),
    [([1, 1, 2, 2, 2, 3], [1, 2, 3]), ([0, 1, 0, 0, 2, 0], [1, 2]), ([1, 0, 1, 1, 0, 1], [1, 1, 1]),
     ([0, 0, 0, 0, 0, 0], [])],
)
def test_greedy_by_name_matches_the_handmade_paths(path, expected):
    probs = torch.full((len(path), 1, 4), 0.1 / 3)
    for t, label in enumerate(path):
        probs[t, 0, label] = 0.9
    decoder = create_decoder("greedy")
    assert decoder.decode(probs.log(), torch.tensor([len(path)])) == [expected]
    assert decoder.best_path(probs.log())[:, 0].tolist() == path


def test_greedy_by_name_equals_ctc_greedy_decode():
    log_probs = _peaked_emissions(0, 40, 5, 30, blank=4)
    lengths = torch.tensor([40, 33, 10, 1, 0])
    for blank in (0, 4):
        decoder = create_decoder("greedy", blank=blank)
        assert decoder.decode(log_probs, lengths) == ctc_greedy_decode(log_probs, lengths, blank=blank)
        hypotheses, scores = decoder.decode_with_scores(log_probs, lengths)
        torch.testing.assert_close(scores, ctc_log_likelihood(log_probs, lengths, hypotheses, blank))


def test_prefix_beam_by_name_keeps_the_rescoring_behaviour():
    """test_decoding_beam.py's hand-made input where a beam of 2 prunes greedy's path."""
    probs = [[0.5, 0.05, 0.45], [0.3, 0.6, 0.1], [0.35, 0.4, 0.25], [0.4, 0.15, 0.45]]
    log_probs = torch.tensor(probs, dtype=torch.float64).log()[:, None]
    assert create_decoder("prefix_beam", beam_size=2).decode(log_probs, [4]) == [[1, 2]]
    assert create_decoder("prefix_beam", beam_size=2, rescore=False).decode(log_probs, [4]) == [[1]]
    old_way = create_decoder("beam", beam_size=2, backend="prefix", rescore=False)
    assert old_way.decode(log_probs, [4]) == [[1]]


@pytest.mark.parametrize(("vocab", "scale"), [(6, 1.0), (60, 3.0)])
def test_prefix_beam_by_name_is_the_prefix_search(vocab, scale):
    log_probs = _random_emissions(vocab, 30, 4, vocab, scale)
    lengths = torch.tensor([30, 21, 5, 0])
    search = [ranked[0][0] for ranked in ctc_prefix_beam_search(log_probs, lengths, beam_size=3)]
    assert create_decoder("prefix_beam", beam_size=3, rescore=False).decode(log_probs, lengths) == search
    old = CTCBeamDecoder(3, backend="prefix").decode_with_scores(log_probs, lengths)
    new = create_decoder("prefix_beam", beam_size=3).decode_with_scores(log_probs, lengths)
    assert new[0] == old[0]
    torch.testing.assert_close(new[1], old[1])
    assert create_decoder("beam", beam_size=3).decode(log_probs, lengths) == CTCBeamDecoder(3).decode(
        log_probs, lengths)


@needs_flashlight
def test_torchaudio_beam_by_name_equals_the_torchaudio_backend():
    log_probs = _peaked_emissions(7, 60, 6, 60, blank=7)
    lengths = torch.tensor([60, 55, 40, 20, 3, 0])
    for rescore in (True, False):
        decoder = create_decoder("torchaudio_beam", blank=7, rescore=rescore)
        got = decoder.decode(log_probs, lengths)
        assert decoder.last_choice.implementation == "flashlight"
        old_way = CTCBeamDecoder(blank=7, backend="torchaudio", rescore=rescore)
        assert got == old_way.decode(log_probs, lengths)
        assert got == create_decoder("prefix_beam", blank=7, rescore=rescore).decode(log_probs, lengths)


def test_torchaudio_beam_without_torchaudio_says_why(monkeypatch):
    monkeypatch.setattr("slr_models.decoding.beam.flashlight_unavailable_reason", lambda: "flashlight broke")
    decoder = create_decoder("torchaudio_beam")  # built fine; the device decides at decode time
    with pytest.raises(RuntimeError, match="flashlight broke"):
        decoder.decode(_peaked_emissions(0, 5, 1, 4), [5])


def test_built_in_decoders_pickle():
    import pickle

    log_probs = _peaked_emissions(4, 20, 3, 12)
    for decoder in (create_decoder("greedy", blank=4), create_decoder("beam", beam_size=3),
                    create_decoder("prefix_beam", beam_size=3)):
        expected = decoder.decode(log_probs, [20, 10, 0])
        restored = pickle.loads(pickle.dumps(decoder))
        assert type(restored) is type(decoder) and restored.config == decoder.config
        assert restored.decode(log_probs, [20, 10, 0]) == expected
