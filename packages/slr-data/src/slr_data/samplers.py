"""Length-bucketed batch sampler with distributed sharding and exact mid-epoch resume."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

__all__ = ["LengthBucketBatchSampler"]

_COSTS = ("padded", "packed")


def _world() -> tuple[int, int]:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_world_size(), dist.get_rank()
    except ImportError:  # pragma: no cover
        pass
    return 1, 0


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of indices with similar lengths, to limit padding and per-batch memory.

    Each epoch the indices are shuffled (seeded by ``(seed, epoch)``), cut into pools of
    ``pool_size`` samples, each pool sorted by length and cut into batches, and the batches are
    shuffled. Without ``shuffle`` all indices are sorted by length (longest first), for eval.

    Args:
        lengths: frames per sample (e.g. ``VideoDataset.lengths()``).
        batch_size: at most this many samples per batch.
        max_frames: frame budget per batch: ``max_len * count`` (``cost="padded"``) or
            ``sum of lengths`` (``cost="packed"``) stays ``<=`` this; a single longer sample
            gets a batch of its own. Give ``batch_size``, ``max_frames`` or both.
        shuffle, seed: see above.
        drop_last: drop batches with fewer than ``batch_size`` samples (count mode), and with
            several replicas drop the tail instead of repeating batches to even the ranks.
        pool_size: samples per sorting pool (default ``100 * batch_size``, or 2000).
        num_replicas, rank: distributed sharding (default: from ``torch.distributed`` if
            initialised, else 1 / 0). Every rank gets exactly ``len(self)`` batches: the batch
            list is padded by repeating its first batches (or truncated with ``drop_last``).

    Resume: ``state_dict(batches_consumed=k)`` records ``epoch``, ``seed`` and the position ``k``;
    ``load_state_dict`` on a new sampler makes the next ``iter()`` yield exactly the remaining
    batches of that epoch. Pass ``batches_consumed`` (what the training loop has processed):
    a DataLoader prefetches, so the sampler's own count runs ahead.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        *,
        batch_size: int | None = None,
        max_frames: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        pool_size: int | None = None,
        cost: str = "padded",
        num_replicas: int | None = None,
        rank: int | None = None,
    ):
        if batch_size is None and max_frames is None:
            raise ValueError("give batch_size, max_frames or both")
        if (batch_size is not None and batch_size < 1) or (max_frames is not None and max_frames < 1):
            raise ValueError(f"batch_size and max_frames must be positive, got {batch_size}, {max_frames}")
        if cost not in _COSTS:
            raise ValueError(f"cost must be one of {_COSTS}, got {cost!r}")
        world, this_rank = _world()
        self.num_replicas = world if num_replicas is None else int(num_replicas)
        self.rank = this_rank if rank is None else int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside 0..{self.num_replicas - 1}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1 or len(self.lengths) == 0 or (self.lengths < 0).any():
            raise ValueError("lengths must be a non-empty sequence of non-negative ints")
        self.batch_size = batch_size
        self.max_frames = max_frames
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.pool_size = pool_size or (100 * batch_size if batch_size else 2000)
        self.cost = cost
        self.epoch = 0
        self.position = 0
        self._yielded = 0
        self._cache: tuple[int, list[list[int]]] | None = None

    # ------------------------------------------------------------------ batching
    def _cut(self, ordered: np.ndarray) -> list[list[int]]:
        batches, current, longest, total = [], [], 0, 0
        for index in ordered:
            n = int(self.lengths[index])
            new_longest, new_total = max(longest, n), total + n
            cost = new_longest * (len(current) + 1) if self.cost == "padded" else new_total
            full = self.batch_size is not None and len(current) >= self.batch_size
            over = self.max_frames is not None and cost > self.max_frames
            if current and (full or over):
                batches.append(current)
                current, new_longest, new_total = [], n, n
            current.append(int(index))
            longest, total = new_longest, new_total
        if current:
            batches.append(current)
        if self.drop_last and self.batch_size is not None:
            batches = [b for b in batches if len(b) == self.batch_size]
        return batches

    def _global_batches(self, epoch: int) -> list[list[int]]:
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            return self._cut(order)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        batches = []
        for start in range(0, len(order), self.pool_size):
            pool = order[start : start + self.pool_size]
            batches.extend(self._cut(pool[np.argsort(-self.lengths[pool], kind="stable")]))
        return [batches[i] for i in rng.permutation(len(batches))]

    def _rank_batches(self) -> list[list[int]]:
        if self._cache is None or self._cache[0] != self.epoch:
            batches = self._global_batches(self.epoch)
            replicas = self.num_replicas
            if replicas > 1:
                if self.drop_last:
                    batches = batches[: len(batches) // replicas * replicas]
                elif len(batches) % replicas:
                    missing = replicas - len(batches) % replicas
                    batches = batches + [batches[i % len(batches)] for i in range(missing)]
                batches = batches[self.rank :: replicas]
            self._cache = (self.epoch, batches)
        return self._cache[1]

    # ------------------------------------------------------------------ Sampler API
    def __len__(self) -> int:
        """Batches this rank yields in a whole epoch (the same on every rank)."""
        return len(self._rank_batches())

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._rank_batches()
        start, self.position = self.position, 0
        for i in range(start, len(batches)):
            self._yielded = i + 1
            yield list(batches[i])
        self._yielded = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's shuffle; a different epoch restarts at its first batch."""
        if int(epoch) != self.epoch:
            self.epoch = int(epoch)
            self.position = 0

    # ------------------------------------------------------------------ resume
    def _fingerprint(self) -> str:
        return hashlib.sha1(self.lengths.tobytes()).hexdigest()[:16]

    def state_dict(self, batches_consumed: int | None = None) -> dict:
        """``{"epoch", "seed", "position", ...}``; ``position`` = ``batches_consumed`` if given,
        else the batches yielded so far by the current iterator."""
        position = self._yielded if batches_consumed is None else int(batches_consumed)
        return {
            "epoch": self.epoch,
            "seed": self.seed,
            "position": position,
            "num_replicas": self.num_replicas,
            "num_samples": int(len(self.lengths)),
            "lengths_sha1": self._fingerprint(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next ``iter()`` continues epoch ``state["epoch"]`` at ``state["position"]``."""
        if state.get("num_replicas", self.num_replicas) != self.num_replicas:
            raise ValueError(
                f"sampler state was saved with {state['num_replicas']} replicas, this run has "
                f"{self.num_replicas}: an exact resume needs the same world size"
            )
        if state.get("lengths_sha1", self._fingerprint()) != self._fingerprint():
            raise ValueError("sampler state was saved for a different dataset (sample lengths differ)")
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        self._cache = None
        position = int(state["position"])
        if not 0 <= position <= len(self):
            raise ValueError(f"position {position} is outside 0..{len(self)}")
        self.position = position
