"""The app's configuration: YAML files mapped onto the packages' frozen dataclasses.

A run is described by one :class:`AppConfig` with four parts:

* ``data`` (:class:`DataSettings`): which corpus (the embedded synthetic default, or real
  PHOENIX-2014 / 2014-T under ``root``), augmentation profile, temporal sampling, batching;
* ``model`` (:class:`ModelSettings`): a registered ``slr_models`` name plus field overrides;
* ``train``: :class:`slr_train.TrainConfig` (optimiser, precision, EMA, checkpoints, engine, ...);
* ``eval`` (:class:`EvalSettings`): decoder, beam size and scoring protocol.

YAML files hold any subset of these keys; missing keys take the defaults below. Every section is a
frozen dataclass, nested all the way down (``data.synthetic``: :class:`slr_data.SynthConfig`,
``data.temporal``: :class:`slr_data.TemporalConfig`, ``data.heatmaps``: :class:`HeatmapSettings`),
built by :func:`slr_phoenix.schema.build`: unknown keys, wrong types and invalid values are a
one-line :class:`ConfigError` naming the file, the dotted key, the value and what is allowed, and
the model, protocol, decoder and corpus names are looked up when the config is loaded. ``load_config`` starts from a built-in file
(``tiny``/``base``/``mamba_slr``) or a path, applies ``key.path=value`` overrides, and validates everything
by building the dataclasses. ``AppConfig.to_dict()`` is the fully resolved config saved as
``config.yaml`` in every run directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml
from slr_data import HeatmapConfig, SynthConfig, TemporalConfig, get_corpus, list_corpora
from slr_data.corpus.phoenix2014 import RESOLUTIONS
from slr_data.transforms import ALBUMENTATIONS_PROFILE, PROFILES
from slr_data.transforms.albumentations_adapter import AlbumentationsFactoryError, parse_factory_path
from slr_data.vocabulary import UNK_POLICIES
from slr_metrics import list_protocols
from slr_models import get_config, list_models
from slr_models.decoding import list_decoders
from slr_train import TrainConfig

from slr_phoenix.schema import ConfigError, build, check_fields, one_of, qualify

BUILTIN_CONFIGS = ("tiny", "base", "mamba_slr")
DATA_ROOT_ENV = "SLR_PHOENIX_ROOT"
CACHE_ENV = "SLR_CACHE_DIR"
#: ``data.keypoints`` value naming the synthetic corpus' own keypoint file (generated with it)
SYNTHETIC_KEYPOINTS = "synthetic"
#: what ``data.heatmaps`` keys not given are: Mamba_SLR's single heatmap channel of face, mouth and hands
DEFAULT_HEATMAPS = {"groups": ["face", "mouth", "hands"], "merge": "all"}
#: ``data.keypoint_frame_size`` when not given: TwoStream-SLR's keypoints are pixels of 256x256 frames
DEFAULT_KEYPOINT_FRAME_SIZE = "256x256"


# ------------------------------------------------------------------------------ names checked at load
def _check_corpus(name: str) -> None:
    """``data.corpus`` names a corpus of the ``slr_data`` registry (the one place corpus names are checked)."""
    _check(name in list_corpora(), "data.corpus", one_of(name, tuple(list_corpora())))


def _check_decoder(name: str, key: str = "eval.decoder") -> None:
    """``key`` (``eval.decoder`` / ``eval.dev_decoder``) names a decoder (the one place they are checked)."""
    names = tuple(list_decoders())
    _check(name in names, key, one_of(name, names))


def _check_protocol(name: str) -> None:
    """``eval.protocol`` names an ``slr_metrics`` scoring protocol."""
    _check(name in list_protocols(), "eval.protocol", one_of(name, list_protocols()))


def resolve_model_config(name: str, overrides: Mapping[str, Any]) -> Any:
    """The ``slr_models`` config of registered model ``name`` with ``overrides`` (no weights are built).

    Unknown names and override fields, values of the wrong type and invalid values (``depth: 0``)
    raise :class:`ConfigError` naming ``model.name`` / ``model.overrides.<field>``.
    """
    models = list_models()
    _check(name in models, "model.name", one_of(name, models))
    family = type(get_config(name))
    check_fields(family, overrides, "model.overrides")
    try:
        return get_config(name, **overrides)
    except (TypeError, ValueError) as exc:
        raise ConfigError(qualify("model.overrides", family, str(exc), overrides)) from None


def _positive(value: int | None, key: str) -> None:
    _check(value is None or value >= 1, key, f"must be >= 1 (or null), got {value!r}")


@dataclass(frozen=True)
class HeatmapSettings:
    """:class:`slr_data.HeatmapConfig` of ``data.heatmaps``, with the app's defaults (one map of
    face, mouth and hands: :data:`DEFAULT_HEATMAPS`); keypoints are pixels (``normalized_coords`` off).

    ``size``: ``(h, w)`` of each map (one number: square); ``sigma``: Gaussian std in heatmap pixels;
    ``score_threshold``; ``groups``: keypoint groups rendered (``face``, ``mouth``, ``hands``, ...);
    ``merge``: ``none`` (a map per keypoint), ``group`` (a map per group) or ``all`` (one map).
    """

    size: int | tuple[int, int] = (32, 32)
    sigma: float = 1.5
    score_threshold: float = 0.0
    groups: str | tuple[str, ...] = tuple(DEFAULT_HEATMAPS["groups"])
    merge: str = DEFAULT_HEATMAPS["merge"]

    def __post_init__(self) -> None:
        config = self.config()  # validates; store the normalised size and groups
        object.__setattr__(self, "size", config.size)
        object.__setattr__(self, "groups", config.groups)

    def config(self) -> HeatmapConfig:
        """The :class:`slr_data.HeatmapConfig` to render with."""
        return HeatmapConfig(size=self.size, sigma=self.sigma, score_threshold=self.score_threshold,
                             groups=self.groups, merge=self.merge)


#: nested dataclasses of :class:`DataSettings` (a plain mapping given to the constructor is built into them)
_DATA_PARTS = {"synthetic": SynthConfig, "temporal": TemporalConfig, "heatmaps": HeatmapSettings}


@dataclass(frozen=True)
class DataSettings:
    """Where the videos come from and how they are batched.

    Attributes:
        corpus: a name of the ``slr_data`` corpus registry (``slr_data.list_corpora()``): ``synthetic``
            (generated once, cached), ``phoenix2014``, ``phoenix2014t``, ``csl-daily``, ...
        root: the real corpus folder (``.../phoenix-2014-multisigner``, ``.../PHOENIX-2014-T``
            or a folder with the preprocessed ``*_info.npy``); unused for ``synthetic``.
        frames_root: the ``fullFrame-*`` folder the frame paths are relative to, when it is not
            where ``root`` implies (e.g. preprocessed ``*_info.npy`` kept apart from the frames).
        synthetic: the :class:`slr_data.SynthConfig` of the synthetic corpus.
        cache_dir: where synthetic corpora are cached (default ``$SLR_CACHE_DIR`` or
            ``~/.cache/slr``), one folder per distinct synthetic config.
        resolution: ``210x260px`` or ``256x256px`` (PHOENIX-2014 frame trees).
        augment: train augmentation profile of :func:`slr_data.train_preset`, one of
            ``slr_data.transforms.PROFILES`` (``phoenix``: the reference recipe; ``synthetic``:
            mild, colour-preserving; ``mamba_slr``: Mamba_SLR's); evaluation uses the profile's
            :func:`slr_data.eval_preset`. ``albumentations``: the user's own albumentations pipeline
            ``albumentations_factory`` (:class:`slr_data.AlbumentationsConfig`), evaluated with the
            ``phoenix`` profile's eval transform.
        albumentations_factory: ``"package.module:function"`` returning an ``albumentations.Compose``
            (``augment: albumentations`` only); code the config names explicitly, imported when the
            train set is built.
        temporal: the :class:`slr_data.TemporalConfig` of training (eval keeps every
            ``frame_interval``-th frame, no rescaling).
        batch_size: videos per training batch (per process).
        max_frames: optional frame budget per training batch (per process).
        preload: decode every video once into memory (small corpora only).
        num_decode_threads: threads decoding one video's PNG frames.
        on_error: ``raise`` on a missing/corrupt frame, or ``skip`` the video with a warning.
        unk_policy: labels with glosses outside the vocabulary: ``error`` or map to ``unk``.
        keypoints: a keypoint pickle (TwoStream-SLR's HRNet file, e.g.
            ``phoenix-2014-keypoints_hrnet-filtered_SMOOTH_v2-256x256_INTERPOLATED.pkl``), or
            ``synthetic`` for the synthetic corpus' own; rendered as heatmaps, extra model input
            channels in training and evaluation (``model.overrides.heatmap_channels`` is set from
            ``heatmaps``). ``None``: frames only.
        keypoint_frame_size: ``WxH`` of the frames the keypoint coordinates are pixels of
            (``None``: ``256x256``, TwoStream-SLR's, whichever frame tree is loaded), or ``native``
            (pixels of the loaded frames).
        heatmaps: :class:`HeatmapSettings` (``size``, ``sigma``, ``score_threshold``, ``groups``,
            ``merge``); keys not given take :data:`DEFAULT_HEATMAPS` (one map of face, mouth and
            hands), 32x32, sigma 1.5.

    ``synthetic``, ``temporal`` and ``heatmaps`` may be given as plain mappings; they are built
    into their dataclasses (errors name ``data.<part>.<field>``).
    """

    corpus: str = "synthetic"
    root: str | None = None
    frames_root: str | None = None
    synthetic: SynthConfig = field(default_factory=SynthConfig)
    cache_dir: str | None = None
    resolution: str = "210x260px"
    augment: str = "synthetic"
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    batch_size: int | None = 8
    max_frames: int | None = None
    preload: bool = True
    num_decode_threads: int | None = None
    on_error: str = "raise"
    unk_policy: str = "error"
    keypoints: str | None = None
    keypoint_frame_size: str | None = None
    heatmaps: HeatmapSettings = field(default_factory=HeatmapSettings)
    albumentations_factory: str | None = None

    def __post_init__(self) -> None:
        _check_corpus(self.corpus)
        _check(get_corpus(self.corpus).synthetic or self.root, "data.root",
               f"corpus {self.corpus!r} needs the corpus folder (--data-root or ${DATA_ROOT_ENV})")
        for name, cls in _DATA_PARTS.items():
            value = getattr(self, name)
            if not isinstance(value, cls):
                object.__setattr__(self, name, build(cls, {} if value is None else value, f"data.{name}"))
        _check(self.batch_size is not None or self.max_frames is not None, "data.batch_size",
               "give batch_size, max_frames or both")
        for name in ("batch_size", "max_frames", "num_decode_threads"):
            _positive(getattr(self, name), f"data.{name}")
        _check(self.corpus != "phoenix2014" or self.resolution in RESOLUTIONS, "data.resolution",
               one_of(self.resolution, RESOLUTIONS))
        augments = (*PROFILES, ALBUMENTATIONS_PROFILE)
        _check(self.augment in augments, "data.augment", one_of(self.augment, augments))
        self._check_albumentations()
        _check(self.on_error in ("raise", "skip"), "data.on_error", one_of(self.on_error, ("raise", "skip")))
        _check(self.unk_policy in UNK_POLICIES, "data.unk_policy", one_of(self.unk_policy, UNK_POLICIES))
        _check(self.keypoints != SYNTHETIC_KEYPOINTS or get_corpus(self.corpus).synthetic, "data.keypoints",
               f"'{SYNTHETIC_KEYPOINTS}' names the synthetic corpus' keypoints; corpus {self.corpus!r} needs "
               "the path of its keypoint file")
        _check(self.keypoints is None or (isinstance(self.keypoints, str) and self.keypoints),
               "data.keypoints", f"must be a file path or '{SYNTHETIC_KEYPOINTS}', got {self.keypoints!r}")
        self.keypoint_frame_wh()

    def _check_albumentations(self) -> None:
        if self.augment != ALBUMENTATIONS_PROFILE:
            _check(self.albumentations_factory is None, "data.albumentations_factory",
                   f"is only used with data.augment: {ALBUMENTATIONS_PROFILE} (augment is {self.augment!r})")
            return
        _check(self.albumentations_factory, "data.albumentations_factory",
               f"needed with data.augment: {ALBUMENTATIONS_PROFILE}: the import path "
               "'package.module:function' of a function returning an albumentations.Compose")
        try:
            parse_factory_path(self.albumentations_factory)
        except AlbumentationsFactoryError as exc:
            raise ConfigError(f"data.albumentations_factory: {exc}") from None

    def keypoint_frame_wh(self) -> tuple[int, int] | None:
        """``data.keypoint_frame_size`` as ``(width, height)``, ``None`` for ``native``."""
        text = str(self.keypoint_frame_size or DEFAULT_KEYPOINT_FRAME_SIZE).strip().lower()
        if text == "native":
            return None
        match = re.fullmatch(r"(\d+)x(\d+)", text)
        _check(match and min(int(v) for v in match.groups()) > 0, "data.keypoint_frame_size",
               f"must be WxH (e.g. 256x256) or 'native', got {self.keypoint_frame_size!r}")
        return int(match.group(1)), int(match.group(2))

    def heatmap_config(self) -> HeatmapConfig:
        """The :class:`slr_data.HeatmapConfig` of ``data.heatmaps``."""
        return self.heatmaps.config()

    def heatmap_channels(self) -> int:
        """Heatmap channels per frame the data gives the model (0 without keypoints)."""
        return self.heatmap_config().channels if self.keypoints else 0

    def synthetic_cache(self) -> Path:
        base = self.cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "slr"
        return Path(base).expanduser() / "synthetic"


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
        _check(self.report_utterances >= 0, "eval.report_utterances",
               f"must be >= 0, got {self.report_utterances}")
        _check_decoder(self.decoder, "eval.decoder")
        _check_decoder(self.dev_decoder, "eval.dev_decoder")
        _check(self.beam_size >= 1, "eval.beam_size", f"must be >= 1, got {self.beam_size}")
        if self.protocol is not None:
            _check_protocol(self.protocol)
        object.__setattr__(self, "splits", tuple(self.splits))
        bad = [s for s in self.splits if s not in ("dev", "test")]
        _check(not bad, "eval.splits", f"must be 'dev' and/or 'test', got {list(self.splits)}")


@dataclass(frozen=True)
class AppConfig:
    """A whole run: ``name`` (the config it came from), data, model, train, eval."""

    name: str = "tiny"
    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def __post_init__(self) -> None:
        _check(self.train.optim.lr_scaling == "none" or self.data.batch_size is not None, "data.batch_size",
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


def _check(condition: Any, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{key}: {message}")


# ------------------------------------------------------------------------------ YAML + overrides
#: the limits every config file and ``--set`` value is read within (module constants)
MAX_CONFIG_BYTES = 1 << 20  # the built-in configs are ~3 KB
MAX_YAML_NODES = 100_000  # values in a document, each alias counted as the values it stands for
MAX_YAML_DEPTH = 64  # nesting of sequences / mappings


class YAMLRefusedError(yaml.MarkedYAMLError):
    """Well-formed YAML the loader refuses: over a limit, a recursive alias, a tag (``!!python/...``)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader reading YAML 1.2 floats too (``3e-4`` is a number, not the string "3e-4"), within
    bounds: at most :data:`MAX_YAML_NODES` values with aliases expanded (a "billion laughs" alias
    bomb is refused while it is composed, before anything is expanded), no alias inside its own
    anchor (a recursive structure), nesting up to :data:`MAX_YAML_DEPTH`, no tags but YAML's own."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._values, self._depth, self._sizes = 0, 0, {}

    def _count(self, n: int, mark: Any) -> None:
        self._values += n
        if self._values > MAX_YAML_NODES:
            raise YAMLRefusedError(None, None, f"more than {MAX_YAML_NODES} values with aliases expanded "
                                               "(MAX_YAML_NODES; an alias bomb?)", mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.anchors and event.anchor not in self._sizes:
                raise YAMLRefusedError(None, None, f"alias *{event.anchor} is inside its own anchor "
                                                   f"&{event.anchor} (a recursive structure)",
                                       event.start_mark)
            self._count(self._sizes.get(event.anchor, 0), event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise YAMLRefusedError(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels (MAX_YAML_DEPTH)",
                                   event.start_mark)
        before = self._values
        self._count(1, event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if event.anchor is not None:
            self._sizes[event.anchor] = self._values - before
        return node

    def construct_undefined(self, node: Any) -> Any:
        raise YAMLRefusedError(None, None, f"the tag {node.tag!r} is refused: config files are plain data "
                                           "(no YAML tag builds Python objects)", node.start_mark)


_Loader.add_constructor(None, _Loader.construct_undefined)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML mapping from ``path`` (UTF-8, at most :data:`MAX_CONFIG_BYTES`, :class:`_Loader`'s
    bounds); every error names the file and, where there is one, the line."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes (MAX_CONFIG_BYTES)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start}); config files are UTF-8") from None
    try:
        data = _yaml_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        label = "" if isinstance(exc, YAMLRefusedError) else "invalid YAML: "
        raise ConfigError(f"{path}{line}: {label}{getattr(exc, 'problem', None) or exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def builtin_config_path(name: str) -> Path:
    """The packaged YAML of a built-in config (``tiny``, ``base``, ``mamba_slr``)."""
    return Path(str(resources.files("slr_phoenix") / "configs" / f"{name}.yaml"))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.optim.lr=3e-4"`` -> ``(["train", "optim", "lr"], 0.0003)`` (value parsed as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. train.optim.lr=3e-4")
    try:
        value = _yaml_load(raw) if raw.strip() else None
    except YAMLRefusedError as exc:
        raise ConfigError(f"override {key.strip()}: {exc.problem}") from None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_override(data: dict[str, Any], keys: list[str], value: Any) -> None:
    node = data
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {'.'.join(keys)}: {key!r} is not a mapping")
        node = child
    node[keys[-1]] = value


def load_config(config: str = "tiny", overrides: list[str] | tuple[str, ...] = ()) -> AppConfig:
    """Resolve a built-in name or YAML path plus ``KEY=VALUE`` overrides into an :class:`AppConfig`."""
    if config in BUILTIN_CONFIGS:
        path, name = builtin_config_path(config), config
    else:
        path, name = Path(config), Path(config).stem
    data = read_yaml(path)
    data.setdefault("name", name)
    for text in overrides:
        apply_override(data, *parse_override(text))
    return AppConfig.from_dict(data, source=str(path))


def dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False)
