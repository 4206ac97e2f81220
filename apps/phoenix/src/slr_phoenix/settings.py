"""The app's configuration: YAML files mapped onto the packages' frozen dataclasses.

A run is described by one :class:`AppConfig` with four parts:

* ``data`` (:class:`DataSettings`): which corpus (the embedded synthetic default, or real
  PHOENIX-2014 / 2014-T under ``root``), augmentation profile, temporal sampling, batching;
* ``model`` (:class:`ModelSettings`): a registered ``slr_models`` name plus field overrides;
* ``train``: :class:`slr_train.TrainConfig` (optimiser, precision, EMA, checkpoints, engine, ...);
* ``eval`` (:class:`EvalSettings`): decoder, beam size and scoring protocol.

YAML files hold any subset of these keys; missing keys take the dataclasses' defaults. Every section is a
frozen dataclass, nested all the way down (``data.synthetic``: :class:`slr_data.SynthConfig`,
``data.temporal``: :class:`slr_data.TemporalConfig`, ``data.heatmaps``: :class:`HeatmapSettings`),
built by :func:`slr_phoenix.schema.build`: unknown keys, wrong types and invalid values are a
one-line :class:`ConfigError` naming the file, the dotted key, the value and what is allowed, and
the model, protocol, decoder and corpus names are looked up when the config is loaded. ``load_config`` starts from a built-in file
(``tiny``/``base``/``mamba_slr``) or a path, applies ``key.path=value`` overrides, and validates everything
by building the dataclasses. ``AppConfig.to_dict()`` is the fully resolved config saved as
``config.yaml`` in every run directory.

The parts live in their own modules, all re-exported here (the public import path):

* :mod:`slr_phoenix.config_yaml`: the bounded safe YAML loader (:func:`read_yaml`, the
  ``MAX_CONFIG_BYTES`` / ``MAX_YAML_NODES`` / ``MAX_YAML_DEPTH`` limits) and :func:`dump_yaml`;
* :mod:`slr_phoenix.data_settings`: :class:`DataSettings` and :class:`HeatmapSettings`;
* :mod:`slr_phoenix.app_config`: :class:`AppConfig`, :class:`ModelSettings`, :class:`EvalSettings`;
* :mod:`slr_phoenix.config_loading`: :func:`load_config`, the built-in configs and ``--set`` overrides.
"""

from slr_phoenix.app_config import AppConfig, EvalSettings, ModelSettings, resolve_model_config
from slr_phoenix.config_loading import (
    BUILTIN_CONFIGS,
    apply_override,
    builtin_config_path,
    load_config,
    parse_override,
)
from slr_phoenix.config_yaml import (
    MAX_CONFIG_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    YAMLRefusedError,
    dump_yaml,
    read_yaml,
)
from slr_phoenix.data_settings import (
    CACHE_ENV,
    DATA_ROOT_ENV,
    DEFAULT_HEATMAPS,
    DEFAULT_KEYPOINT_FRAME_SIZE,
    SYNTHETIC_KEYPOINTS,
    DataSettings,
    HeatmapSettings,
)
from slr_phoenix.schema import ConfigError

__all__ = [
    "BUILTIN_CONFIGS", "CACHE_ENV", "DATA_ROOT_ENV", "DEFAULT_HEATMAPS", "DEFAULT_KEYPOINT_FRAME_SIZE",
    "MAX_CONFIG_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "SYNTHETIC_KEYPOINTS", "AppConfig",
    "ConfigError", "DataSettings", "EvalSettings", "HeatmapSettings", "ModelSettings", "YAMLRefusedError",
    "apply_override", "builtin_config_path", "dump_yaml", "load_config", "parse_override", "read_yaml",
    "resolve_model_config",
]
