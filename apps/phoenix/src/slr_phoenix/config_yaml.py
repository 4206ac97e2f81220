"""The config files' YAML: a safe loader within bounds, the file reader and the writer.

:func:`read_yaml` reads a config file, :func:`load_yaml_text` a ``--set`` value, both as plain
data (no tag builds a Python object) within the module constants :data:`MAX_CONFIG_BYTES`,
:data:`MAX_YAML_NODES` (values with aliases expanded: an alias bomb is refused while it is
composed) and :data:`MAX_YAML_DEPTH`, and with no alias inside its own anchor; YAML 1.2 floats
(``3e-4``) are numbers. Every error is a one-line :class:`ConfigError` naming the file and, where
there is one, the line. :func:`dump_yaml` writes the resolved ``config.yaml``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from slr_phoenix.schema import ConfigError

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


def load_yaml_text(text: str) -> Any:
    """The plain data of YAML ``text`` within :class:`_Loader`'s bounds (:class:`YAMLRefusedError`
    beyond them, another ``yaml.YAMLError`` for malformed YAML)."""
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
        data = load_yaml_text(text)
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


def dump_yaml(data: Mapping[str, Any]) -> str:
    """``data`` as block-style YAML in its own key order (a run's ``config.yaml``)."""
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False)
