"""The app's configuration: YAML files mapped onto the packages' frozen dataclasses.

A run is described by one :class:`AppConfig` with four parts:

* ``data`` (:class:`DataSettings`): which corpus (the embedded synthetic default, or real
  PHOENIX-2014 / 2014-T under ``root``), augmentation profile, temporal sampling, batching;
* ``model`` (:class:`ModelSettings`): a registered ``slr_models`` name plus field overrides;
* ``train``: :class:`slr_train.TrainConfig` (optimiser, precision, EMA, checkpoints, engine, ...);
* ``eval`` (:class:`EvalSettings`): decoder, beam size and scoring protocol.

YAML files hold any subset of these keys; missing keys take the defaults below, unknown keys
are an error naming the file and the key. ``load_config`` starts from a built-in file
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
from slr_data import HeatmapConfig
from slr_data.transforms import PROFILES
from slr_train import TrainConfig
from slr_train.config import dataclass_from_dict

CORPORA = ("synthetic", "phoenix2014", "phoenix2014t")
DECODERS = ("beam", "greedy")
BUILTIN_CONFIGS = ("tiny", "base", "mamba_slr")
DATA_ROOT_ENV = "SLR_PHOENIX_ROOT"
CACHE_ENV = "SLR_CACHE_DIR"
#: ``data.keypoints`` value naming the synthetic corpus' own keypoint file (generated with it)
SYNTHETIC_KEYPOINTS = "synthetic"
#: what ``data.heatmaps`` keys not given are: Mamba_SLR's single heatmap channel of face, mouth and hands
DEFAULT_HEATMAPS = {"groups": ["face", "mouth", "hands"], "merge": "all"}
#: ``data.keypoint_frame_size`` when not given: TwoStream-SLR's keypoints are pixels of 256x256 frames
DEFAULT_KEYPOINT_FRAME_SIZE = "256x256"


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the file/key."""


@dataclass(frozen=True)
class DataSettings:
    """Where the videos come from and how they are batched.

    Attributes:
        corpus: ``synthetic`` (generated once, cached), ``phoenix2014`` or ``phoenix2014t``.
        root: the real corpus folder (``.../phoenix-2014-multisigner``, ``.../PHOENIX-2014-T``
            or a folder with the preprocessed ``*_info.npy``); unused for ``synthetic``.
        frames_root: the ``fullFrame-*`` folder the frame paths are relative to, when it is not
            where ``root`` implies (e.g. preprocessed ``*_info.npy`` kept apart from the frames).
        synthetic: :class:`slr_data.SynthConfig` fields of the synthetic corpus.
        cache_dir: where synthetic corpora are cached (default ``$SLR_CACHE_DIR`` or
            ``~/.cache/slr``), one folder per distinct synthetic config.
        resolution: ``210x260px`` or ``256x256px`` (PHOENIX-2014 frame trees).
        augment: train augmentation profile of :func:`slr_data.train_preset`, one of
            ``slr_data.transforms.PROFILES`` (``phoenix``: the reference recipe; ``synthetic``:
            mild, colour-preserving; ``mamba_slr``: Mamba_SLR's); evaluation uses the profile's
            :func:`slr_data.eval_preset`.
        temporal: :class:`slr_data.TemporalConfig` fields for training (eval keeps every
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
        heatmaps: :class:`slr_data.HeatmapConfig` fields (``size``, ``sigma``, ``score_threshold``,
            ``groups``, ``merge``); keys not given take :data:`DEFAULT_HEATMAPS` (one map of face,
            mouth and hands), then the ``HeatmapConfig`` defaults (32x32, sigma 1.5).
    """

    corpus: str = "synthetic"
    root: str | None = None
    frames_root: str | None = None
    synthetic: Mapping[str, Any] = field(default_factory=dict)
    cache_dir: str | None = None
    resolution: str = "210x260px"
    augment: str = "synthetic"
    temporal: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = 8
    max_frames: int | None = None
    preload: bool = True
    num_decode_threads: int | None = None
    on_error: str = "raise"
    unk_policy: str = "error"
    keypoints: str | None = None
    keypoint_frame_size: str | None = None
    heatmaps: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.corpus in CORPORA, "data.corpus", f"must be one of {CORPORA}, got {self.corpus!r}")
        _check(self.corpus == "synthetic" or self.root, "data.root",
               f"corpus {self.corpus!r} needs the corpus folder (--data-root or ${DATA_ROOT_ENV})")
        _check(self.batch_size is not None or self.max_frames is not None, "data.batch_size",
               "give batch_size, max_frames or both")
        _check(self.augment in PROFILES, "data.augment", f"must be one of {PROFILES}, got {self.augment!r}")
        _check(self.on_error in ("raise", "skip"), "data.on_error", f"must be 'raise' or 'skip', got {self.on_error!r}")
        object.__setattr__(self, "synthetic", dict(self.synthetic))
        object.__setattr__(self, "temporal", dict(self.temporal))
        object.__setattr__(self, "heatmaps", dict(self.heatmaps))
        _check(self.keypoints != SYNTHETIC_KEYPOINTS or self.corpus == "synthetic", "data.keypoints",
               f"'{SYNTHETIC_KEYPOINTS}' names the synthetic corpus' keypoints; corpus {self.corpus!r} needs "
               "the path of its keypoint file")
        _check(self.keypoints is None or (isinstance(self.keypoints, str) and self.keypoints),
               "data.keypoints", f"must be a file path or '{SYNTHETIC_KEYPOINTS}', got {self.keypoints!r}")
        self.keypoint_frame_wh()
        self.heatmap_config()

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
        known = {f.name for f in dataclasses.fields(HeatmapConfig)} - {"normalized_coords"}
        unknown = sorted(set(self.heatmaps) - known)
        _check(not unknown, "data.heatmaps", f"unknown key(s) {unknown}; known: {sorted(known)}")
        try:
            return HeatmapConfig(**{**DEFAULT_HEATMAPS, **self.heatmaps})
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"data.heatmaps: {exc}") from None

    def heatmap_channels(self) -> int:
        """Heatmap channels per frame the data gives the model (0 without keypoints)."""
        return self.heatmap_config().channels if self.keypoints else 0

    def synthetic_cache(self) -> Path:
        base = self.cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "slr"
        return Path(base).expanduser() / "synthetic"


@dataclass(frozen=True)
class ModelSettings:
    """``slr_models.create_model(name, num_classes, **overrides)``."""

    name: str = "slr_mamba_tiny"
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", dict(self.overrides))


@dataclass(frozen=True)
class EvalSettings:
    """Final evaluation of the best checkpoint: decoder and the scoring protocol.

    ``protocol`` names an ``slr_metrics`` protocol (``phoenix2014`` is the official PHOENIX-2014
    evaluation). During training dev is scored under the same protocol with ``dev_decoder``
    (``greedy``, or ``beam`` with ``beam_size``), which also picks the best checkpoint.
    """

    decoder: str = "beam"
    beam_size: int = 5
    protocol: str = "phoenix2014"
    splits: tuple[str, ...] = ("dev", "test")
    dev_decoder: str = "greedy"

    def __post_init__(self) -> None:
        _check(self.decoder in DECODERS, "eval.decoder", f"must be one of {DECODERS}, got {self.decoder!r}")
        _check(self.dev_decoder in DECODERS, "eval.dev_decoder",
               f"must be one of {DECODERS}, got {self.dev_decoder!r}")
        _check(self.beam_size >= 1, "eval.beam_size", f"must be >= 1, got {self.beam_size}")
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
            return dataclass_from_dict(cls, {"name": "custom", **data})
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
