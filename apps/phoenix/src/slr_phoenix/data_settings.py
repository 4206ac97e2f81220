"""The ``data`` section of the app's config: :class:`DataSettings` and its :class:`HeatmapSettings`.

Which corpus (the embedded synthetic default, or a real one under ``root``), augmentation
profile, temporal sampling, batching, keypoints and their heatmaps; every value is checked when
the dataclass is built (a one-line :class:`ConfigError` naming ``data.<key>``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from slr_data import HeatmapConfig, SynthConfig, TemporalConfig, get_corpus, list_corpora
from slr_data.corpus.phoenix2014 import RESOLUTIONS
from slr_data.transforms import ALBUMENTATIONS_PROFILE, PROFILES
from slr_data.transforms.albumentations_adapter import AlbumentationsFactoryError, parse_factory_path
from slr_data.vocabulary import UNK_POLICIES

from slr_phoenix.schema import ConfigError, build, check, one_of

DATA_ROOT_ENV = "SLR_PHOENIX_ROOT"
CACHE_ENV = "SLR_CACHE_DIR"
#: ``data.keypoints`` value naming the synthetic corpus' own keypoint file (generated with it)
SYNTHETIC_KEYPOINTS = "synthetic"
#: what ``data.heatmaps`` keys not given are: Mamba_SLR's single heatmap channel of face, mouth and hands
DEFAULT_HEATMAPS = {"groups": ["face", "mouth", "hands"], "merge": "all"}
#: ``data.keypoint_frame_size`` when not given: TwoStream-SLR's keypoints are pixels of 256x256 frames
DEFAULT_KEYPOINT_FRAME_SIZE = "256x256"


def _check_corpus(name: str) -> None:
    """``data.corpus`` names a corpus of the ``slr_data`` registry (the one place corpus names are checked)."""
    check(name in list_corpora(), "data.corpus", one_of(name, tuple(list_corpora())))


def _positive(value: int | None, key: str) -> None:
    check(value is None or value >= 1, key, f"must be >= 1 (or null), got {value!r}")


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
        check(get_corpus(self.corpus).synthetic or self.root, "data.root",
               f"corpus {self.corpus!r} needs the corpus folder (--data-root or ${DATA_ROOT_ENV})")
        for name, cls in _DATA_PARTS.items():
            value = getattr(self, name)
            if not isinstance(value, cls):
                object.__setattr__(self, name, build(cls, {} if value is None else value, f"data.{name}"))
        check(self.batch_size is not None or self.max_frames is not None, "data.batch_size",
               "give batch_size, max_frames or both")
        for name in ("batch_size", "max_frames", "num_decode_threads"):
            _positive(getattr(self, name), f"data.{name}")
        check(self.corpus != "phoenix2014" or self.resolution in RESOLUTIONS, "data.resolution",
               one_of(self.resolution, RESOLUTIONS))
        augments = (*PROFILES, ALBUMENTATIONS_PROFILE)
        check(self.augment in augments, "data.augment", one_of(self.augment, augments))
        self._check_albumentations()
        check(self.on_error in ("raise", "skip"), "data.on_error", one_of(self.on_error, ("raise", "skip")))
        check(self.unk_policy in UNK_POLICIES, "data.unk_policy", one_of(self.unk_policy, UNK_POLICIES))
        check(self.keypoints != SYNTHETIC_KEYPOINTS or get_corpus(self.corpus).synthetic, "data.keypoints",
               f"'{SYNTHETIC_KEYPOINTS}' names the synthetic corpus' keypoints; corpus {self.corpus!r} needs "
               "the path of its keypoint file")
        check(self.keypoints is None or (isinstance(self.keypoints, str) and self.keypoints),
               "data.keypoints", f"must be a file path or '{SYNTHETIC_KEYPOINTS}', got {self.keypoints!r}")
        self.keypoint_frame_wh()

    def _check_albumentations(self) -> None:
        if self.augment != ALBUMENTATIONS_PROFILE:
            check(self.albumentations_factory is None, "data.albumentations_factory",
                   f"is only used with data.augment: {ALBUMENTATIONS_PROFILE} (augment is {self.augment!r})")
            return
        check(self.albumentations_factory, "data.albumentations_factory",
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
        check(match and min(int(v) for v in match.groups()) > 0, "data.keypoint_frame_size",
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
