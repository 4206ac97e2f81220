"""CTC prefix beam search with exact class pruning (the ``"prefix"`` backend).

Same algorithm and result as the textbook
:func:`slr_models.decoding.prefix_beam_ref.ctc_prefix_beam_search_ref` (up to exact ties),
but each frame only expands the classes that can matter: after an ``O(V)`` selection of
the frame's best classes, the per-frame search work is ``O(beam_size**2)`` instead of
``O(beam_size * V)``.

Why the pruning is exact: take a beam entry ``k`` (total log-mass ``total_k``) and a class
``c`` outside the ``beam_size + 1`` best non-blank classes of frame ``t``. Extending ``k`` by
``c`` scores at most ``total_k + log p_t(c)``. Each of those best classes ``c'``, except
possibly ``k``'s last label, gives a candidate scoring at least
``total_k + log p_t(c') >= total_k + log p_t(c)``: the new prefix ``k + c'``, or, if that
prefix is already in the beam, the entry holding it (its merged mass includes
``total_k + log p_t(c')``). These are ``beam_size`` distinct prefixes, so ``k + c`` can at
best tie for the last place and never needs expanding. (Merged extensions are computed
directly from the frame, whatever their class.)

Prefixes are stored in a trie (``_PrefixTrie``), so equal prefixes have equal integer ids and
"is prefix ``j`` prefix ``k`` plus one label?" is an id comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from operator import itemgetter

import numpy as np
import torch

from slr_models.decoding._arrays import cpu_numpy

__all__ = ["ctc_prefix_beam_search"]

_NEG_INF = float("-inf")
_score = itemgetter(0)


class _PrefixTrie:
    """The prefixes seen by one search: id 0 is the empty prefix, and ``child(id, label)``
    returns the same id every time it is asked for the same prefix."""

    def __init__(self) -> None:
        self.parent: list[int] = [-1]
        self.label: list[int] = [-1]
        self._children: dict[tuple[int, int], int] = {}

    def child(self, node: int, label: int) -> int:
        key = (node, label)
        found = self._children.get(key)
        if found is None:
            found = len(self.parent)
            self._children[key] = found
            self.parent.append(node)
            self.label.append(label)
        return found

    def labels(self, node: int) -> list[int]:
        out = []
        while node > 0:
            out.append(self.label[node])
            node = self.parent[node]
        return out[::-1]


def ctc_prefix_beam_search(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    beam_size: int,
    blank: int = 0,
    nbest: int = 1,
) -> list[list[tuple[list[int], float]]]:
    """Prefix beam search over each sequence of a padded batch.

    Args:
        log_probs: ``(T, B, V)`` log-probabilities, any device and floating dtype. The best
            classes per frame are found on that device; the search itself runs on the CPU
            in float64.
        lengths: ``(B,)`` CPU int64 valid frames per sequence (already validated).
        beam_size: prefixes kept after each frame, ``>= 1``.
        blank: index of the CTC blank.
        nbest: hypotheses returned per sequence, ``1 <= nbest <= beam_size``.

    Returns:
        For each sequence, up to ``nbest`` ``(labels, log p)`` pairs, best first. ``log p`` is
        the prefix probability accumulated by the search: the exact CTC log-likelihood of
        ``labels`` unless some of its alignments were pruned, in which case it is a lower
        bound. A sequence with ``lengths[b] == 0`` gives ``[([], 0.0)]``; one where every
        alignment has probability zero gives ``[([], -inf)]``.
    """
    num_frames, batch, vocab = log_probs.shape
    num_new = min(beam_size + 1, vocab - 1)  # non-blank classes that may start a new prefix
    if num_frames == 0 or batch == 0:
        return [[([], 0.0)] for _ in range(batch)]
    emissions, top_labels = _emissions_and_top_classes(log_probs, min(num_new + 1, vocab))
    top_scores = np.take_along_axis(emissions, top_labels, axis=-1)
    order = np.argsort(-top_scores, axis=-1, kind="stable")  # best class first
    top_labels = np.take_along_axis(top_labels, order, axis=-1)
    top_scores = np.take_along_axis(top_scores, order, axis=-1)
    results = []
    for b in range(batch):
        length = int(lengths[b])
        if length == 0:
            results.append([([], 0.0)])
            continue
        frames = emissions[:length, b]  # (L, V)
        # The num_new + 1 best classes hold the num_new best non-blank ones (and maybe one more).
        classes = [
            [(c, score) for c, score in zip(labels, scores, strict=True) if c != blank]
            for labels, scores in zip(
                top_labels[:length, b].tolist(), top_scores[:length, b].tolist(), strict=True
            )
        ]
        labels_of, beam = _search_one(frames, classes, beam_size, blank)
        ranked = [(labels_of(node), total) for node, total in beam[:nbest]] if beam else []
        results.append(ranked or [([], _NEG_INF)])
    return results


def _emissions_and_top_classes(log_probs: torch.Tensor, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``(T, B, V)`` float64 CPU copy of ``log_probs`` and the ``(T, B, count)`` indices of the
    ``count`` largest classes of each frame (in no particular order).

    Converting to float64 is exact and monotone, so ranking in the input dtype is the same.
    """
    vocab = log_probs.shape[-1]
    array = cpu_numpy(log_probs)
    if array is None:  # pick the classes on the device, copy the scores once
        top = log_probs.detach().topk(count, dim=-1).indices.cpu().numpy()
        array = cpu_numpy(log_probs.detach().cpu())
        assert array is not None
        return array.astype(np.float64), top
    emissions = array.astype(np.float64)
    if count >= vocab:
        return emissions, np.broadcast_to(np.arange(vocab), emissions.shape)
    return emissions, np.argpartition(emissions, vocab - count, axis=-1)[..., vocab - count :]


def _log_add(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == _NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def _search_one(
    frames: np.ndarray, new_classes: list[list[tuple[int, float]]], beam_size: int, blank: int
) -> tuple[Callable[[int], list[int]], list[tuple[int, float]]]:
    """Search one sequence.

    Args:
        frames: ``(L, V)`` float64 log-probabilities of the sequence's valid frames.
        new_classes: for each frame, (at least) its ``beam_size + 1`` best non-blank classes
            as ``(class, log-probability)`` pairs, best first.

    Returns:
        ``(labels_of, beam)``: a function mapping a trie id to its label list, and the final
        beam as ``(trie id, log p)`` pairs, best first (empty if every alignment is impossible).
    """
    trie = _PrefixTrie()
    # A beam entry: (trie id, parent trie id, last label or -1, log p_blank, log p_label).
    beam = [(0, -1, -1, 0.0, _NEG_INF)]
    blank_scores = frames[:, blank].tolist()
    for t, classes in enumerate(new_classes):
        if not beam:
            break
        row = frames[t]
        blank_score = blank_scores[t]
        entry_of = {entry[0]: index for index, entry in enumerate(beam)}
        totals = [_log_add(entry[3], entry[4]) for entry in beam]
        merged: set[tuple[int, int]] = set()
        candidates = []  # (log p, source entry, new label or -1, log p_blank, log p_label)
        for index, (_, parent, last, _, p_label) in enumerate(beam):
            stay_blank = totals[index] + blank_score
            stay_label = _NEG_INF
            if last >= 0:
                last_score = row.item(last)
                stay_label = p_label + last_score
                source = entry_of.get(parent)
                if source is not None:  # this prefix is entry `source` extended by `last`
                    src = beam[source]
                    via = (src[3] if src[2] == last else totals[source]) + last_score
                    stay_label = _log_add(stay_label, via)
                    merged.add((source, last))
            candidates.append((_log_add(stay_blank, stay_label), index, -1, stay_blank, stay_label))
        # With beam_size candidates at hand, an extension scoring below the weakest of them can
        # never be kept; classes come best first, so the rest of the entry's loop is skipped.
        floor = min(c[0] for c in candidates) if len(candidates) >= beam_size else _NEG_INF
        for index, (_, _, last, p_blank, _) in enumerate(beam):
            total = totals[index]
            for label, score in classes:
                extended = (p_blank if label == last else total) + score
                if extended < floor:
                    if label == last:  # lowered by the repeat rule; later classes may still pass
                        continue
                    break
                if merged and (index, label) in merged:
                    continue
                candidates.append((extended, index, label, _NEG_INF, extended))
        candidates.sort(key=_score, reverse=True)  # stable: ties keep candidate order
        following = []
        for total, index, label, p_blank, p_label in candidates[:beam_size]:
            if total == _NEG_INF:
                break
            node, parent, last = beam[index][:3]
            if label >= 0:
                node, parent, last = trie.child(node, label), node, label
            following.append((node, parent, last, p_blank, p_label))
        beam = following
    return trie.labels, [(entry[0], _log_add(entry[3], entry[4])) for entry in beam]
