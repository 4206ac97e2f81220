"""Data plumbing for exact resume: per-sample RNG seeds, resumable epoch batches, eval shards.

Training batches come from a length-bucketed batch sampler (``slr_data.LengthBucketBatchSampler``
or anything with ``set_epoch``, ``__iter__`` and ``__len__`` whose order is a function of its seed
and the epoch). To resume mid-epoch the Trainer re-creates the epoch's batch order and skips the
batches already consumed, and every sample is loaded under its own RNG seed derived from
``(seed, epoch, batch, position)``: random augmentation drawn from Python's ``random``, NumPy's
global RNG or torch's global RNG is then identical whether or not the run was interrupted, and
whatever the number of DataLoader workers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from slr_train.rng import preserved_rng


class BatchSampler(Protocol):
    def set_epoch(self, epoch: int) -> None: ...

    def __iter__(self) -> Iterator[list[int]]: ...

    def __len__(self) -> int: ...


BatchSamplerFactory = Callable[[list[int], int, int], BatchSampler]
"""``factory(num_frames_per_sample, num_replicas, rank) -> batch sampler over positions``."""


@dataclass(frozen=True)
class TrainSet:
    """Training data: ``dataset[i]`` is a ``VideoSample``-like item; ``labels[i]`` its label ids.

    ``video_ids``/``num_frames``/``labels`` describe every item without loading videos (for the
    CTC feasibility check); the sampler is built by ``batch_sampler_factory`` over the kept items.
    ``batch_size``: the sampler's nominal (maximum) videos per batch and process, ``None`` when
    batches are formed by a frame budget alone; ``OptimConfig.lr_scaling="linear_256"`` needs it.
    """

    dataset: Dataset
    video_ids: Sequence[str]
    num_frames: Sequence[int]
    labels: Sequence[Sequence[int]]
    collate_fn: Callable[[list[Any]], Any]
    batch_sampler_factory: BatchSamplerFactory
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or self.batch_size < 1):
            raise ValueError(f"TrainSet: batch_size must be >= 1 or None, got {self.batch_size!r}")
        n = len(self.dataset)
        if not len(self.video_ids) == len(self.num_frames) == len(self.labels) == n:
            raise ValueError(f"TrainSet: dataset has {n} items but video_ids/num_frames/labels have "
                             f"{len(self.video_ids)}/{len(self.num_frames)}/{len(self.labels)}")


@dataclass(frozen=True)
class EvalSet:
    """Evaluation data; ``num_frames`` (optional) lets each rank batch similar lengths together."""

    name: str
    dataset: Dataset
    collate_fn: Callable[[list[Any]], Any]
    num_frames: Sequence[int] | None = None


def sample_seed(seed: int, epoch: int, batch: int, position: int) -> int:
    """A 32-bit seed, a fixed function of its arguments."""
    mask = (1 << 64) - 1  # SeedSequence wants non-negative entropy
    return int(np.random.SeedSequence([v & mask for v in (seed, epoch, batch, position)]).generate_state(1)[0])


class SeededDataset(Dataset):
    """``dataset[(index, seed)]``: loads ``index`` with every global RNG seeded by ``seed``.

    The caller's RNG states are restored afterwards, so loading in the main process
    (``num_workers=0``) does not disturb the model's dropout randomness.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        with preserved_rng(include_cuda=False):
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            return self.dataset[index]


class EpochBatches:
    """One epoch of ``sampler``'s batches from batch ``start`` on, as ``[(dataset_index, seed), ...]``.

    ``positions_to_index[p]`` maps the sampler's positions to dataset indices (after dropping
    infeasible samples).
    """

    def __init__(self, sampler: BatchSampler, positions_to_index: Sequence[int], *, epoch: int, start: int,
                 seed: int) -> None:
        self.sampler, self.index = sampler, positions_to_index
        self.epoch, self.start, self.seed = epoch, start, seed

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        self.sampler.set_epoch(self.epoch)
        for b, batch in enumerate(self.sampler):
            if b < self.start:
                continue
            yield [(self.index[p], sample_seed(self.seed, self.epoch, b, j)) for j, p in enumerate(batch)]


def train_loader(train: TrainSet, sampler: BatchSampler, positions_to_index: Sequence[int], *, epoch: int,
                 start_batch: int, seed: int, num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """DataLoader over one epoch from ``start_batch``; its own generator keeps the global RNG untouched."""
    if hasattr(train.dataset, "set_epoch"):  # e.g. slr_data.VideoDataset with an explicit seed
        train.dataset.set_epoch(epoch)
    generator = torch.Generator().manual_seed(sample_seed(seed, epoch, -1, -1))
    return DataLoader(SeededDataset(train.dataset),
                      batch_sampler=EpochBatches(sampler, positions_to_index, epoch=epoch, start=start_batch,
                                                 seed=seed),
                      collate_fn=train.collate_fn, num_workers=num_workers, pin_memory=pin_memory,
                      generator=generator)


def shard_batches(num_items: int, rank: int, world_size: int, batch_size: int,
                  num_frames: Sequence[int] | None = None) -> list[list[int]]:
    """Rank ``rank``'s evaluation batches: items ``rank, rank + world, ...``, none duplicated.

    With ``num_frames`` each shard is ordered longest first (less padding); the union of all
    shards is every item exactly once, so summed counts equal a single-process evaluation.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    indices = list(range(rank, num_items, world_size))
    if num_frames is not None:
        indices.sort(key=lambda i: (-int(num_frames[i]), i))
    return [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]


class ListBatchSampler:
    """A fixed list of batches (for DataLoader's ``batch_sampler``)."""

    def __init__(self, batches: list[list[int]]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)
