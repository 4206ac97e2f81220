"""``ssd_scan_ref`` compiled by ``torch.compile`` (inductor): ``ssd_scan(..., backend="compiled")``.

The same algorithm as the reference (:mod:`slr_models.ops.ssd_ref`), so the same results up to
float rounding, with inductor fusing the elementwise passes over the ``(q, q)`` decay matrices
and the chunk states that dominate the eager reference on CPU (see ``benchmarks/ssd_bench.py``).
For CPU runs where the Triton kernel cannot run. The first call for an input signature compiles
(tens of seconds, more on a busy machine); later calls reuse the compiled code. Nothing is
compiled until this path is called.
"""

from __future__ import annotations

import torch

from slr_models.ops.ssd_ref import ssd_scan_ref

_compiled = None


def ssd_scan_compiled(x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                      **kwargs):
    """:func:`~slr_models.ops.ssd_ref.ssd_scan_ref` through ``torch.compile`` (same arguments and
    returns; ``kwargs`` are the reference's keyword arguments)."""
    global _compiled
    if _compiled is None:
        _compiled = torch.compile(ssd_scan_ref)
    return _compiled(x, dt, A, B, C, **kwargs)
