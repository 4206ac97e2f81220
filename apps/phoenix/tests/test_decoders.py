"""The app builds its decoders through the slr_models registry by name, and ``--greedy`` /
``--beam-size`` change the eval settings with ``dataclasses.replace`` (every other field kept)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from slr_data import EvalTransformConfig, TemporalConfig, Vocabulary
from slr_data.transforms import VideoTransform
from slr_models.decoding import (CTCBeamDecoder, Decoder, GreedyDecoder, PrefixBeamDecoder, list_decoders,
                                 register_decoder)
from slr_models.decoding import registry as decoder_registry

from slr_phoenix.inference import LoadedModel, _with_decoding, predict_videos, with_decoding
from slr_phoenix.pipeline import decoder_from_settings, make_decoder
from slr_phoenix.settings import AppConfig, ConfigError, EvalSettings, load_config


@dataclasses.dataclass(frozen=True)
class _ConstantConfig:
    blank: int = 0
    label: int = 1


class _ConstantDecoder(Decoder):
    """Decodes every sequence as ``[label]``, counting its calls."""

    name = "test_constant"
    Config = _ConstantConfig
    calls = 0

    def decode(self, log_probs, lengths):
        type(self).calls += 1
        return [[self.config.label] for _ in range(log_probs.shape[1])]


@pytest.fixture
def constant_decoder(monkeypatch):
    monkeypatch.setattr(decoder_registry, "_REGISTRY", dict(decoder_registry._REGISTRY))
    monkeypatch.setattr(_ConstantDecoder, "calls", 0)
    register_decoder(_ConstantDecoder)
    return _ConstantDecoder


@dataclasses.dataclass(frozen=True)
class _EvalSettingsWithMore(EvalSettings):
    """EvalSettings as a later version might grow it: one more field."""

    length_penalty: float = 0.0


NON_DEFAULT = dict(decoder="prefix_beam", beam_size=7, protocol="none", splits=("dev",), dev_decoder="beam")


def test_greedy_and_beam_size_flags_keep_every_other_field():
    settings = EvalSettings(**NON_DEFAULT)
    assert with_decoding(settings, None, False) is settings
    greedy = with_decoding(settings, None, True)
    assert greedy == dataclasses.replace(settings, decoder="greedy")
    kept = (greedy.beam_size, greedy.protocol, greedy.splits, greedy.dev_decoder)
    assert kept == (7, "none", ("dev",), "beam")
    beam = with_decoding(settings, 3, False)  # prefix_beam takes a beam size: it stays the decoder
    assert beam == dataclasses.replace(settings, beam_size=3)
    from_greedy = with_decoding(dataclasses.replace(settings, decoder="greedy"), 4, False)
    assert (from_greedy.decoder, from_greedy.beam_size, from_greedy.protocol) == ("beam", 4, "none")


def test_a_field_added_to_eval_settings_survives_the_rebuild():
    """The bug: rebuilding the settings field by field (or through to_dict/from_dict of the
    known fields) silently put a new field back to its default."""
    settings = _EvalSettingsWithMore(length_penalty=0.5, **NON_DEFAULT)
    for beam_size, greedy in ((3, False), (None, True)):
        rebuilt = with_decoding(settings, beam_size, greedy)
        assert type(rebuilt) is _EvalSettingsWithMore and rebuilt.length_penalty == 0.5
        assert (rebuilt.protocol, rebuilt.splits, rebuilt.dev_decoder) == ("none", ("dev",), "beam")
    tiny = load_config("tiny", ["train.optim.lr=3e-4", "data.batch_size=3"])
    config = dataclasses.replace(tiny, eval=settings)
    rebuilt = _with_decoding(config, 2, False)
    assert rebuilt.eval == dataclasses.replace(settings, beam_size=2) and rebuilt.eval.length_penalty == 0.5
    assert rebuilt.data is config.data and rebuilt.train is config.train and rebuilt.name == config.name


def test_settings_name_registered_decoders_and_are_built_through_the_registry(constant_decoder):
    assert isinstance(decoder_from_settings(EvalSettings(decoder="greedy")), GreedyDecoder)
    beam = decoder_from_settings(EvalSettings(decoder="beam", beam_size=7))
    assert type(beam) is CTCBeamDecoder and beam.config.beam_size == 7 and beam.tag == "beam7"
    prefix = decoder_from_settings(EvalSettings(decoder="greedy", beam_size=3, dev_decoder="prefix_beam"),
                                   "prefix_beam")
    assert type(prefix) is PrefixBeamDecoder and prefix.config.beam_size == 3
    # a decoder registered anywhere is a valid eval.decoder; it has no beam_size, so none is passed
    settings = EvalSettings(decoder="test_constant", beam_size=9)
    assert type(decoder_from_settings(settings)) is _ConstantDecoder
    config = AppConfig.from_dict({"eval": {"decoder": "greedy", "dev_decoder": "test_constant"}})
    assert type(make_decoder(config, config.eval.dev_decoder)) is _ConstantDecoder
    assert type(make_decoder(config)) is GreedyDecoder


@pytest.mark.parametrize("key", ["decoder", "dev_decoder"])
def test_unregistered_decoder_names_are_config_errors(key):
    names = tuple(list_decoders())
    assert {"beam", "greedy", "prefix_beam", "torchaudio_beam"} <= set(names)
    message = f"eval.{key}: must be one of {names}, got 'viterbi'"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("tiny", [f"eval.{key}=viterbi"])


class _FrameCounter(torch.nn.Module):
    """``(T, 3, S, S)`` frames -> ``(T, 1, 3)`` log-probabilities; records the frame count."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(3))

    def forward(self, frames, lengths):
        log_probs = self.weight.expand(frames.shape[0], 1, 3).log_softmax(-1)
        return SimpleNamespace(log_probs=log_probs, lengths=lengths)


def _loaded(settings: EvalSettings, tmp_path: Path) -> tuple[LoadedModel, Path]:
    video = tmp_path / "video"
    video.mkdir()
    for t in range(4):
        cv2.imwrite(str(video / f"f{t:04d}.png"), np.full((12, 12, 3), 40 * t, dtype=np.uint8))
    loaded = LoadedModel(_FrameCounter(), Vocabulary(["A", "B"]), VideoTransform(EvalTransformConfig(size=8,
                         resize=None)), TemporalConfig(frame_interval=1, random_offset=False, rescale=0.0),
                         None, tmp_path / "model.pt", {}, settings)
    return loaded, video


def test_predict_uses_the_decoder_it_is_given_or_the_one_its_settings_name(constant_decoder, tmp_path):
    loaded, video = _loaded(EvalSettings(decoder="test_constant"), tmp_path)
    [by_name] = predict_videos(loaded, [video])  # loaded.eval names the registered decoder
    assert constant_decoder.calls == 1 and by_name["glosses"] == ["A"]
    [given] = predict_videos(loaded, [video], decoder=constant_decoder(label=2))
    assert constant_decoder.calls == 2 and given["glosses"] == ["B"] and given["frames"] == 4
    [greedy] = predict_videos(loaded, [video], greedy=True)  # uniform scores: blank wins every frame
    assert constant_decoder.calls == 2 and greedy["glosses"] == []
