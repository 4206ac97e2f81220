"""The :class:`Decoder` interface every CTC decoder implements.

A decoder is built once from a registry name and options
(:func:`~slr_models.decoding.create_decoder`), holds them as a frozen, validated ``config``
dataclass, and turns ``log_probs (T, B, V)`` (time-major, padded, as the model returns them)
and ``lengths (B,)`` into ``B`` label lists. Evaluation code takes a ``Decoder`` and calls
:meth:`Decoder.decode`; it never inspects which kind of decoder it got.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from slr_models.decoding.scoring import ctc_log_likelihood

__all__ = ["Decoder"]


class Decoder(ABC):
    """A CTC decoder: ``decode(log_probs (T, B, V), lengths (B,)) -> B label lists``.

    Subclasses set the class attributes ``name`` (the registry name) and ``Config`` (a frozen
    dataclass of the decoder's options, each with a default, validated in its
    ``__post_init__``, with at least ``blank``: the index of the CTC blank), store the built
    config as ``self.config`` and implement :meth:`decode`. The constructor's keyword arguments
    are the config's fields, so ``create_decoder(name, **options)`` is ``Config(**options)``'s
    decoder. The base class's constructor does exactly that; override it only to keep an
    explicit signature.

    Instances are callable: ``decoder(log_probs, lengths)`` is ``decoder.decode(...)``.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type]
    config: Any

    def __init__(self, **options: Any) -> None:
        self.config = type(self).Config(**options)

    @abstractmethod
    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> list[list[int]]:
        """Best label sequence of each sequence of the batch.

        Args:
            log_probs: ``(T, B, V)`` log-probabilities (log-softmax output), CPU or CUDA.
            lengths: ``(B,)`` valid frames per sequence, ``0 <= lengths[b] <= T``.

        Returns:
            ``B`` label lists (class ids, no blanks); empty for ``lengths[b] == 0``.
        """

    def decode_with_scores(
        self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int]
    ) -> tuple[list[list[int]], torch.Tensor]:
        """:meth:`decode` plus the ``(B,)`` float64 CPU exact CTC log-likelihoods
        ``log p(labels_b | x_b)`` of the returned label sequences
        (:func:`~slr_models.decoding.ctc_log_likelihood`)."""
        hypotheses = self.decode(log_probs, lengths)
        return hypotheses, ctc_log_likelihood(log_probs, lengths, hypotheses, blank=self.config.blank)

    @property
    def tag(self) -> str:
        """A short name for file keys and plot titles, e.g. ``greedy`` or ``beam5``."""
        return self.name

    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> list[list[int]]:
        return self.decode(log_probs, lengths)

    def __repr__(self) -> str:
        config = self.config
        fields = ", ".join(f"{f.name}={getattr(config, f.name)!r}" for f in dataclasses.fields(config))
        return f"{type(self).__name__}({fields})"
