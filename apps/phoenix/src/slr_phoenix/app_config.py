"""A whole run's config, :class:`AppConfig`, with its ``model`` and ``eval`` sections.

:class:`AppConfig` puts together ``data`` (:class:`slr_phoenix.data_settings.DataSettings`),
``model`` (:class:`ModelSettings`), ``train`` (:class:`slr_train.TrainConfig`) and ``eval``
(:class:`EvalSettings`), and checks what crosses sections: the lr scaling needs a batch size,
the corpus' default scoring protocol, the model's heatmap channels following the data.
``AppConfig.to_dict()`` is the resolved ``config.yaml``; ``AppConfig.from_dict`` builds one from
plain data (:func:`slr_phoenix.schema.build`), errors naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slr_data import get_corpus
from slr_metrics import list_protocols
from slr_models import get_config, list_models
from slr_models.decoding import list_decoders
from slr_train import TrainConfig

from slr_phoenix.data_settings import DataSettings
from slr_phoenix.schema import ConfigError, build, check, check_fields, one_of, qualify


def _check_decoder(name: str, key: str = "eval.decoder") -> None:
    """``key`` (``eval.decoder`` / ``eval.dev_decoder``) names a decoder (the one place they are checked)."""
    names = tuple(list_decoders())
    check(name in names, key, one_of(name, names))


def _check_protocol(name: str) -> None:
    """``eval.protocol`` names an ``slr_metrics`` scoring protocol."""
    check(name in list_protocols(), "eval.protocol", one_of(name, list_protocols()))


def resolve_model_config(name: str, overrides: Mapping[str, Any]) -> Any:
    """The ``slr_models`` config of registered model ``name`` with ``overrides`` (no weights are built).

    Unknown names and override fields, values of the wrong type and invalid values (``depth: 0``)
    raise :class:`ConfigError` naming ``model.name`` / ``model.overrides.<field>``.
    """
    models = list_models()
    check(name in models, "model.name", one_of(name, models))
    family = type(get_config(name))
    check_fields(family, overrides, "model.overrides")
    try:
        return get_config(name, **overrides)
    except (TypeError, ValueError) as exc:
        raise ConfigError(qualify("model.overrides", family, str(exc), overrides)) from None


@dataclass(frozen=True)
class ModelSettings:
    """``slr_models.create_model(name, num_classes, **overrides)``; ``name`` and ``overrides`` are
    checked when built (:func:`resolve_model_config`: the model's config, not its weights)."""

    name: str = "slr_mamba_tiny"
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", dict(self.overrides))
        self.model_config()

    def model_config(self) -> Any:
        """The registered config of ``name`` with ``overrides`` (``num_classes`` as given there)."""
        return resolve_model_config(self.name, self.overrides)


@dataclass(frozen=True)
class EvalSettings:
    """Final evaluation of the best checkpoint: decoder and the scoring protocol.

    ``decoder`` and ``dev_decoder`` name registered ``slr_models`` decoders
    (``slr_models.list_decoders()``: ``greedy``, ``beam``, ``prefix_beam``, ``torchaudio_beam``);
    ``beam_size`` is their ``beam_size`` where they have one. ``protocol`` names an ``slr_metrics``
    protocol (``phoenix2014`` is the official PHOENIX-2014 evaluation); ``None`` (the default) takes
    the corpus' default protocol (its ``slr_data`` registry entry), filled in by :class:`AppConfig`.
    During training dev is
    scored under the same protocol with ``dev_decoder``, which also picks the best checkpoint.
    ``report_utterances``: the worst dev utterances ``report.html`` shows with alignment views.
    """

    decoder: str = "beam"
    beam_size: int = 5
    protocol: str | None = None
    splits: tuple[str, ...] = ("dev", "test")
    dev_decoder: str = "greedy"
    report_utterances: int = 4

    def __post_init__(self) -> None:
        check(self.report_utterances >= 0, "eval.report_utterances",
               f"must be >= 0, got {self.report_utterances}")
        _check_decoder(self.decoder, "eval.decoder")
        _check_decoder(self.dev_decoder, "eval.dev_decoder")
        check(self.beam_size >= 1, "eval.beam_size", f"must be >= 1, got {self.beam_size}")
        if self.protocol is not None:
            _check_protocol(self.protocol)
        object.__setattr__(self, "splits", tuple(self.splits))
        bad = [s for s in self.splits if s not in ("dev", "test")]
        check(not bad, "eval.splits", f"must be 'dev' and/or 'test', got {list(self.splits)}")


@dataclass(frozen=True)
class AppConfig:
    """A whole run: ``name`` (the config it came from), data, model, train, eval."""

    name: str = "tiny"
    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def __post_init__(self) -> None:
        check(self.train.optim.lr_scaling == "none" or self.data.batch_size is not None, "data.batch_size",
               f"train.optim.lr_scaling={self.train.optim.lr_scaling!r} scales the lr by the total batch size, "
               "which needs a per-process batch size (a max_frames budget alone has none)")
        if self.eval.protocol is None:  # the corpus' default scoring protocol
            protocol = get_corpus(self.data.corpus).protocol
            _check_protocol(protocol)
            object.__setattr__(self, "eval", dataclasses.replace(self.eval, protocol=protocol))
        self._check_heatmap_channels()

    def _check_heatmap_channels(self) -> None:
        """The model's ``heatmap_channels`` follow the data: set from ``data.heatmaps`` when
        ``data.keypoints`` is given (and not overridden), and an override that disagrees is an error."""
        expected = self.data.heatmap_channels()
        given = self.model.overrides.get("heatmap_channels")
        if given is None:
            if expected:
                overrides = {**self.model.overrides, "heatmap_channels": expected}
                object.__setattr__(self, "model", dataclasses.replace(self.model, overrides=overrides))
            return
        if given == expected:
            return
        if not self.data.keypoints:
            raise ConfigError(f"model.overrides.heatmap_channels: {given!r} needs keypoint heatmaps, but "
                              "data.keypoints is not set; set data.keypoints or remove the override")
        heatmaps = self.data.heatmap_config()
        raise ConfigError(f"model.overrides.heatmap_channels: {given!r}, but data.keypoints gives {expected} "
                          f"heatmap channel(s) per frame (data.heatmaps: groups {list(heatmaps.groups)}, "
                          f"merge {heatmaps.merge!r}); remove the override (it follows the data) or make "
                          "the two agree")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers, strings): the resolved ``config.yaml``."""
        out = {
            "name": self.name,
            "data": dataclasses.asdict(self.data),
            "model": dataclasses.asdict(self.model),
            "train": self.train.to_dict(),
            "eval": dataclasses.asdict(self.eval),
        }
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<config>") -> AppConfig:
        """Build and validate; errors name ``source`` and the offending dotted key."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        try:
            return build(cls, {"name": "custom", **data})
        except ValueError as exc:  # ConfigError included: prefix the file once
            raise ConfigError(f"{source}: {exc}") from None
