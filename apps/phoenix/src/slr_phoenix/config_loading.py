"""A run's config from a built-in name or a YAML file plus ``KEY=VALUE`` overrides: :func:`load_config`.

The built-in configs (:data:`BUILTIN_CONFIGS`) are YAML files packaged with the app
(:func:`builtin_config_path`); an override (``--set train.optim.lr=3e-4``) is a dotted key and a
YAML value (:func:`parse_override`), put into the file's data (:func:`apply_override`) before
everything is validated by building the :class:`AppConfig`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from slr_phoenix.app_config import AppConfig
from slr_phoenix.config_yaml import YAMLRefusedError, load_yaml_text, read_yaml
from slr_phoenix.schema import ConfigError

BUILTIN_CONFIGS = ("tiny", "base", "mamba_slr")


def builtin_config_path(name: str) -> Path:
    """The packaged YAML of a built-in config (``tiny``, ``base``, ``mamba_slr``)."""
    return Path(str(resources.files("slr_phoenix") / "configs" / f"{name}.yaml"))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.optim.lr=3e-4"`` -> ``(["train", "optim", "lr"], 0.0003)`` (value parsed as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. train.optim.lr=3e-4")
    try:
        value = load_yaml_text(raw) if raw.strip() else None
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
