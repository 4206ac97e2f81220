"""numpy views of CPU tensors for the decoders' per-element work.

On small, busy CPUs torch's reductions and copies over ``(T, B, V)`` scores pay
milliseconds of intra-op thread overhead per call: on the 2-core development machine under
load, ``max(-1)`` of a ``(200, 8, 1296)`` float32 tensor took 11 ms in torch and 0.24 ms in
numpy, a transposing copy 13 ms and 1.8 ms. The decoders therefore do CPU-side array work
in numpy.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["cpu_numpy"]


def cpu_numpy(tensor: torch.Tensor) -> np.ndarray | None:
    """A numpy array sharing (when possible) the memory of a CPU floating ``tensor``, or
    ``None`` if the tensor is not on the CPU. ``bfloat16``, which numpy lacks, is converted
    to float32 (exactly)."""
    if tensor.device.type != "cpu":
        return None
    detached = tensor.detach()
    if detached.dtype == torch.bfloat16:
        detached = detached.to(torch.float32)
    return detached.resolve_conj().resolve_neg().numpy()
