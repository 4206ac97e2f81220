"""All-reduce of word error counts across ``torch.distributed`` processes.

torch is imported only when :func:`all_reduce_counts` runs, so the rest of slr-metrics works
without it (install the ``dist`` extra, ``pip install slr-metrics[dist]``, to use this module).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from slr_metrics.counts import Counts

if TYPE_CHECKING:
    from slr_metrics.accumulator import WERAccumulator

__all__ = ["all_reduce_counts"]


def all_reduce_counts(
    counts: Counts | WERAccumulator | Sequence[int], group: Any = None, device: Any = None
) -> Counts:
    """Sum word error counts over all processes of ``group`` and return the total on every rank.

    Args:
        counts: this process's :class:`Counts`, a :class:`WERAccumulator` (its counts are
            read, not changed) or a :meth:`WERAccumulator.state` vector.
        group: process group (default: the world).
        device: device of the temporary int64 tensor; default CUDA (current device) for the
            NCCL backend, else CPU.

    Without an initialised process group (single-process runs) the counts come back unchanged.
    Summing counts, then dividing once, is the correct corpus WER; averaging per-rank WERs is not.
    """
    if isinstance(counts, Counts):
        values = counts.to_list()
    elif hasattr(counts, "state"):
        values = counts.state()
    else:
        values = list(counts)
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return Counts.from_list(values)
    if device is None:
        backend = dist.get_backend(group)
        device = (
            torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
        )
    tensor = torch.tensor(values, dtype=torch.int64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
    return Counts.from_list(tensor.cpu().tolist())
