"""The decoder registry: ``create_decoder(name, **options)``, like ``create_model``.

Built in (see :func:`list_decoders`):

* ``greedy``: :class:`~slr_models.decoding.GreedyDecoder` (``blank``);
* ``beam``: :class:`~slr_models.decoding.CTCBeamDecoder`, the backend picked per device
  (``beam_size``, ``blank``, ``backend``, ``token_beam``, ``rescore``);
* ``prefix_beam``: the same search always on this package's prefix beam search (Python and
  numpy, CPU; ``beam_size``, ``blank``, ``rescore``);
* ``torchaudio_beam``: always torchaudio's decoders (CUDA ``cuda_ctc_decoder``, CPU
  flashlight-text; ``beam_size``, ``blank``, ``token_beam``, ``rescore``).

A new decoder is a :class:`~slr_models.decoding.Decoder` subclass with ``name``, ``Config``
and ``decode``, decorated with :func:`register_decoder`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from slr_models.decoding.base import Decoder
from slr_models.errors import DecoderOptionError, UnknownDecoderError

__all__ = [
    "DecoderOptionError",
    "UnknownDecoderError",
    "create_decoder",
    "decoder_options",
    "list_decoders",
    "register_decoder",
]

_REGISTRY: dict[str, type[Decoder]] = {}
_D = TypeVar("_D", bound=type[Decoder])


def register_decoder(cls: _D) -> _D:
    """Class decorator: register a :class:`Decoder` subclass under its ``name``.

    Raises:
        TypeError: ``cls`` is not a ``Decoder`` subclass, or its ``Config`` is not a frozen
            dataclass with a ``blank`` field and a default for every field.
        ValueError: the name is empty or already registered.
    """
    if not (isinstance(cls, type) and issubclass(cls, Decoder)):
        raise TypeError(f"register_decoder takes a Decoder subclass, got {cls!r}")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__} needs a class attribute name = '<registry name>'")
    if name in _REGISTRY:
        raise ValueError(f"decoder {name!r} is already registered ({_REGISTRY[name].__qualname__})")
    config = getattr(cls, "Config", None)
    params = getattr(config, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__}.Config must be a frozen dataclass of the decoder's options")
    fields = dataclasses.fields(config)
    if "blank" not in {f.name for f in fields}:
        raise TypeError(f"{cls.__name__}.Config needs a 'blank' field (the index of the CTC blank)")
    no_default = dataclasses.MISSING
    missing = [f.name for f in fields if f.default is no_default and f.default_factory is no_default]
    if missing:
        raise TypeError(f"{cls.__name__}.Config fields need defaults: {', '.join(missing)}")
    _REGISTRY[name] = cls
    return cls


def list_decoders() -> list[str]:
    """Names of the registered decoders, sorted."""
    return sorted(_REGISTRY)


def _decoder_class(name: str) -> type[Decoder]:
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownDecoderError(
            f"unknown decoder {name!r}; registered decoders: {', '.join(list_decoders())}"
        ) from None


def decoder_options(name: str) -> dict[str, Any]:
    """The options of decoder ``name`` with their defaults, in declaration order."""
    fields = dataclasses.fields(_decoder_class(name).Config)
    no_default = dataclasses.MISSING
    return {f.name: f.default if f.default is not no_default else f.default_factory() for f in fields}


def create_decoder(name: str, **options: Any) -> Decoder:
    """Build the registered decoder ``name`` with ``options`` (its config's fields; the rest
    keep their defaults), validated now.

    Raises:
        UnknownDecoderError: ``name`` is not registered (the message lists the names).
        DecoderOptionError: an option the decoder does not have (the message lists its options
            and defaults) or a bad value (the config's own message, e.g. the allowed values).
    """
    cls = _decoder_class(name)
    allowed = decoder_options(name)
    unknown = [key for key in options if key not in allowed]
    if unknown:
        listed = ", ".join(f"{key}={value!r}" for key, value in allowed.items())
        given = ", ".join(map(repr, unknown))
        raise DecoderOptionError(f"decoder {name!r} has no option {given}; its options (defaults): {listed}")
    try:
        decoder = cls(**options)
    except (TypeError, ValueError) as error:
        raise DecoderOptionError(f"decoder {name!r}: {error}") from None
    return decoder
