"""The corpus registry: one name -> how to read it, recognise it and score it.

Like timm's ``create_model``: a corpus module defines its reader and registers it once with
:func:`register_corpus`; applications look corpora up by name (:func:`get_corpus`,
:func:`load_corpus`) or recognise a data root (:func:`detect_corpus`) and never name a corpus
themselves. The built-in corpora are registered in :mod:`slr_data.corpus.builtin`.

The scoring protocol is a *name* (an ``slr_metrics`` protocol); slr-data does not import
slr-metrics.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from slr_data.corpus.records import Corpus

__all__ = [
    "CorpusEntry",
    "register_corpus",
    "get_corpus",
    "list_corpora",
    "load_corpus",
    "detect_corpus",
]

Reader = Callable[..., Corpus]


@dataclass(frozen=True)
class CorpusEntry:
    """One registered corpus.

    Attributes:
        name: registry name (the app's ``data.corpus``), e.g. ``"csl-daily"``.
        reader: ``reader(root, **options) -> Corpus`` building the split records from a data root.
        recognise: ``recognise(root) -> bool``: does ``root`` hold this corpus (``--data-root``
            auto-detection; cheap, file-existence checks only).
        protocol: name of its default ``slr_metrics`` scoring protocol.
        layouts: the on-disk layouts the reader accepts, one line each (for docs and errors).
        gloss_language: the language of the glosses, e.g. ``"German Sign Language (DGS)"``.
        encoding: notes on how glosses are written (character set, separators).
        synthetic: ``True`` for a corpus generated from a :class:`~slr_data.SynthConfig` (no data root).
        synthesize: ``synthesize(out, config, keypoints=...)`` writing a synthetic corpus in this
            layout (a :class:`~slr_data.SynthCorpus`), or ``None``.
        options: keyword options of ``reader`` (derived from its signature when not given);
            :meth:`load` passes only these.
    """

    name: str
    reader: Reader
    recognise: Callable[[Path], bool]
    protocol: str
    layouts: tuple[str, ...] = ()
    gloss_language: str = ""
    encoding: str = "UTF-8, glosses separated by spaces"
    synthetic: bool = False
    synthesize: Callable | None = None
    options: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or any(ch.isspace() for ch in self.name):
            raise ValueError(f"corpus name must be a non-empty string without spaces, got {self.name!r}")
        if not callable(self.reader) or not callable(self.recognise):
            raise TypeError(f"corpus {self.name!r}: reader and recognise must be callables")
        if not isinstance(self.protocol, str) or not self.protocol:
            raise ValueError(
                f"corpus {self.name!r}: protocol must name a scoring protocol, got {self.protocol!r}"
            )
        object.__setattr__(self, "layouts", tuple(self.layouts))
        if not self.options:
            params = inspect.signature(self.reader).parameters.values()
            names = tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
            object.__setattr__(self, "options", names)

    def load(self, root: str | os.PathLike, **options) -> Corpus:
        """``reader(root, **options)`` with the options this reader does not take dropped
        (e.g. PHOENIX's ``resolution`` for a corpus with one frame size)."""
        return self.reader(Path(root), **{k: v for k, v in options.items() if k in self.options})

    def recognises(self, root: str | os.PathLike) -> bool:
        try:
            return bool(self.recognise(Path(root)))
        except OSError:
            return False


_REGISTRY: dict[str, CorpusEntry] = {}


def register_corpus(
    name: str,
    reader: Reader,
    *,
    recognise: Callable[[Path], bool],
    protocol: str,
    layouts: tuple[str, ...] = (),
    gloss_language: str = "",
    encoding: str = "UTF-8, glosses separated by spaces",
    synthetic: bool = False,
    synthesize: Callable | None = None,
    replace: bool = False,
) -> CorpusEntry:
    """Register a corpus under ``name`` (see :class:`CorpusEntry` for the fields).

    Raises:
        ValueError: ``name`` is taken (unless ``replace=True``) or a field is invalid.
    """
    if name in _REGISTRY and not replace:
        raise ValueError(f"corpus {name!r} is already registered (pass replace=True to replace it)")
    entry = CorpusEntry(name, reader, recognise, protocol, layouts, gloss_language, encoding,
                        synthetic, synthesize)
    _REGISTRY[name] = entry
    return entry


def list_corpora() -> list[str]:
    """Registered corpus names, in registration order."""
    return list(_REGISTRY)


def get_corpus(name: str) -> CorpusEntry:
    """The entry registered as ``name``.

    Raises:
        ValueError: no such corpus; the message lists the registered names.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(list_corpora())
        raise ValueError(f"unknown corpus {name!r}; registered corpora: {known}") from None


def load_corpus(name: str, root: str | os.PathLike, **options) -> Corpus:
    """``get_corpus(name).load(root, **options)``."""
    return get_corpus(name).load(root, **options)


def detect_corpus(root: str | os.PathLike) -> str | None:
    """Name of the first registered non-synthetic corpus that recognises ``root`` (``None``: none)."""
    for entry in _REGISTRY.values():
        if not entry.synthetic and entry.recognises(root):
            return entry.name
    return None
