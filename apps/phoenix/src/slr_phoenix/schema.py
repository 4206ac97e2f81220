"""Plain YAML data onto nested frozen dataclasses, every error one line naming the dotted key.

:func:`build` checks a mapping against a dataclass' fields before constructing it: unknown keys
(with a close-match suggestion), values of the wrong type and nested dataclasses (built the same
way, recursively). An error raised by a dataclass' own validation (``__post_init__``) is reworded
to start with the dotted key of the field it names, e.g. ``TemporalConfig``'s ``rescale must lie
in [0, 1), got 1.5`` becomes ``data.temporal.rescale: must lie in [0, 1), got 1.5``.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from typing import Any, Iterable, Mapping

from slr_train.config import _describe, _matches  # the type rules TrainConfig.from_dict applies

from slr_phoenix.errors import ConfigError


def suggestion(value: Any, allowed: Iterable[Any]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``allowed`` to ``value`` (``""`` if none is close)."""
    allowed = [str(a) for a in allowed]
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def one_of(value: Any, allowed: Iterable[Any]) -> str:
    """``must be one of ('a', 'b', 'c'), got 'x'; did you mean 'a'?``"""
    allowed = tuple(allowed)
    return f"must be one of {allowed}, got {value!r}{suggestion(value, allowed)}"


def check(condition: Any, key: str, message: str) -> None:
    """Raises :class:`ConfigError` ``key: message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{key}: {message}")


def _dotted(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def check_fields(cls: type, data: Any, prefix: str = "") -> dict[str, Any]:
    """The constructor arguments of dataclass ``cls`` from ``data`` (nested dataclasses built).

    Raises :class:`ConfigError` for a non-mapping, an unknown key or a value of the wrong type.
    """
    fields = [f.name for f in dataclasses.fields(cls)]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r} ({type(data).__name__}); "
                          f"the keys of {prefix or 'the config'} are {', '.join(fields)}")
    unknown = [k for k in data if k not in fields]
    if unknown:
        first = unknown[0]
        more = f" (also unknown: {', '.join(map(str, unknown[1:]))})" if unknown[1:] else ""
        raise ConfigError(f"{_dotted(prefix, str(first))}: unknown key (value {data[first]!r}){more}; "
                          f"the keys of {prefix or 'the config'} are {', '.join(fields)}"
                          f"{suggestion(first, fields)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key, hint = _dotted(prefix, name), hints[name]
        if dataclasses.is_dataclass(hint):
            built = isinstance(value, hint)  # already the dataclass (a constructor argument)
            kwargs[name] = value if built else build(hint, {} if value is None else value, key)
        elif _matches(value, hint):
            kwargs[name] = value
        else:
            raise ConfigError(f"{key}: expected {_describe(hint)}, got {value!r} ({type(value).__name__})")
    return kwargs


def build(cls: type, data: Any, prefix: str = "") -> Any:
    """``cls(**data)`` after :func:`check_fields`; its own validation errors name the dotted key."""
    kwargs = check_fields(cls, data, prefix)
    try:
        return cls(**kwargs)
    except ConfigError:  # already names its full key
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(qualify(prefix, cls, str(exc), kwargs)) from None


def qualify(prefix: str, cls: type, message: str, given: Mapping[str, Any] | None = None) -> str:
    """Reword a validation ``message`` of dataclass ``cls`` (at ``prefix``) to start with a dotted key
    (and end with the value, from ``given``, when it names one field and not its value).

    Understood forms: ``field: ...`` / ``field must ...`` / ``Cls.field must ...`` (one of ``cls``'
    fields) and slr-train's ``leaf.field: ...`` (``leaf`` the last part of ``prefix``).
    """
    fields = sorted((f.name for f in dataclasses.fields(cls)), key=len, reverse=True)
    leaf = prefix.rsplit(".", 1)[-1]
    text = message
    for head in (f"{cls.__name__}.", f"{leaf}." if leaf else None):
        if head and text.startswith(head):
            text = text[len(head):]
            break
    for name in fields:
        match = re.match(rf"{re.escape(name)}(?::\s*|\s+(?=must|is|should|needs|cannot)|$)", text)
        if match:
            rest = text[match.end():] or message
            if given and name in given and "got" not in rest:
                rest = f"{rest}, got {given[name]!r}"
            return f"{_dotted(prefix, name)}: {rest}"
    return f"{prefix or 'config'}: {message}"
