"""Pure-PyTorch SSD (Mamba2 state space duality) scans: chunked reference and naive recurrence.

Shapes (as in mamba-ssm's ``mamba_chunk_scan_combined``):
``x (b, l, h, p)``, ``dt (b, l, h)``, ``A (h,)``, ``B``/``C (b, l, g, n)`` with ``h % g == 0``
(head ``i`` reads group ``i // (h // g)``), ``D (h,)`` or ``(h, p)``, ``z (b, l, h, p)``,
``dt_bias (h,)``, ``seq_idx (b, l)`` integer, ``initial_states (b, h, p, n)``.

The recurrence, per batch row and head, with ``dt`` after ``dt_bias`` and softplus::

    state_t = exp(dt_t * A) * state_{t-1} + dt_t * x_t B_t^T      # (p, n)
    y_t     = state_t C_t + D * x_t,   then  y_t *= silu(z_t)

``state_{-1}`` is ``initial_states`` (zeros if omitted). Where ``seq_idx`` changes between
``t - 1`` and ``t`` the state is reset to zero, so segments packed into one row never see each
other; segments must be contiguous runs of equal ``seq_idx``. ``initial_states`` feeds the
first segment of each row, and the final state is the state after the last position.

Both functions compute in float32 (float64 for float64 inputs) and return ``y`` in
``x.dtype``; final states are returned in the compute dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _discretize(dt: Tensor, A: Tensor, dt_bias: Tensor | None, dt_softplus: bool, cd: torch.dtype):
    dt = dt.to(cd)
    if dt_bias is not None:
        dt = dt + dt_bias.to(cd)
    if dt_softplus:
        dt = F.softplus(dt)  # threshold 20, as the Triton kernel
    return dt, dt * A.to(cd)


def _skip_and_gate(y: Tensor, x: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    """``y (b, l, h, p)`` in compute dtype (any memory layout) -> contiguous ``(y + D x) * silu(z)``."""
    if D is not None:
        d = D.to(y.dtype)
        y = (x.to(y.dtype) * (d.unsqueeze(-1) if d.dim() == 1 else d)).add_(y)
    if z is not None:
        y = F.silu(z.to(y.dtype)) * y
    return y.contiguous()


def _add_inter_chunk(y_diag, X, cs, Bq, Cq, initial_states, return_final_states, state_keep, carry_keep,
                     row_in_prev):
    """Steps 2-4 of :func:`ssd_scan_ref`: chunk states, their hand-over between chunks and their
    contribution to the outputs. Returns ``y (b, c, q, h, p)`` (and the final state)."""
    b, c, q, h, p = X.shape
    g, n = Bq.shape[2], Bq.shape[-1]
    r = h // g
    cd = X.dtype
    # 2. State each chunk leaves behind: sum_j exp(cs_end - cs_j) dt_j x_j B_j^T.
    to_end = torch.exp(cs[:, :, -1:] - cs)  # (b, c, q, h)
    if state_keep is not None:
        to_end = to_end * state_keep
    Xw = (X * to_end.unsqueeze(-1)).view(b, c, q, g, r * p).permute(0, 1, 3, 4, 2)  # (b,c,g,rp,q)
    states = (Xw @ Bq).view(b, c, h, p, n)

    # 3. Carry states across chunk boundaries (sequentially: c is small and this is stable).
    carry = torch.exp(cs[:, :, -1])  # (b, c, h)
    if carry_keep is not None:
        carry = carry * carry_keep
    carry = carry.view(b, c, h, 1, 1)
    if initial_states is None:
        state = states.new_zeros(b, h, p, n)
    else:
        state = initial_states.to(cd)
    entering = []
    for k in range(c):
        entering.append(state)
        state = carry[:, k] * state + states[:, k]
    S_prev = torch.stack(entering, dim=1)  # (b, c, h, p, n): state entering each chunk

    # 4. Contribution of the entering state: y_i += exp(cs_i) C_i . S[k].
    S_t = S_prev.view(b, c, g, r * p, n).transpose(-1, -2)  # (b, c, g, n, rp)
    y_off = (Cq @ S_t).view(b, c, g, q, r, p).transpose(2, 3).reshape(b, c, q, h, p)
    gain = torch.exp(cs)
    if row_in_prev is not None:
        gain = gain * row_in_prev
    # In-place add onto the freshly made product keeps the natural (b, c, q, h, p) layout.
    y = (y_off * gain.unsqueeze(-1)).add_(y_diag.transpose(2, 3))
    if return_final_states:
        return y, state
    return y


def ssd_scan_ref(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    dt_bias: Tensor | None = None,
    dt_softplus: bool = False,
    chunk_size: int = 64,
    seq_idx: Tensor | None = None,
    initial_states: Tensor | None = None,
    return_final_states: bool = False,
):
    """Chunked SSD scan in plain PyTorch (differentiable, any device and float dtype).

    Splits the sequence into ``ceil(l / chunk_size)`` equal chunks (the last one zero-padded):
    inside a chunk the output is a masked ``(C B^T) * decay`` matrix applied to ``dt * x``
    (``C B^T`` computed once per group, not per head); each chunk's final ``(p, n)`` state is one
    GEMM over all heads, states are handed from chunk to chunk by a short sequential loop (as
    stable as the recurrence), and their contribution to the next chunk's outputs is one more GEMM.

    Returns ``y (b, l, h, p)``, and ``final_states (b, h, p, n)`` if ``return_final_states``.
    """
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    r = h // g
    cd = _compute_dtype(x)
    dt, dA = _discretize(dt, A, dt_bias, dt_softplus, cd)
    # Equal chunks of at most chunk_size positions: as little padding as possible.
    c = -(-l // max(1, int(chunk_size)))
    q = -(-l // c)
    pad = c * q - l
    xdt = x.to(cd) * dt.unsqueeze(-1)  # (b, l, h, p)
    Bc, Cc = B.to(cd), C.to(cd)
    seq = seq_idx
    if pad:
        # Padded positions have dt = 0: they neither decay nor write the state.
        xdt = F.pad(xdt, (0, 0, 0, 0, 0, pad))
        dA = F.pad(dA, (0, 0, 0, pad))
        Bc = F.pad(Bc, (0, 0, 0, 0, 0, pad))
        Cc = F.pad(Cc, (0, 0, 0, 0, 0, pad))
        if seq is not None:
            seq = torch.cat([seq, seq[:, -1:].expand(b, pad)], dim=1)
    # Work in the "natural" layout (b, c, q, h, p) where possible: with one group, the state
    # and state-output products below are then single GEMMs over all heads without copies.
    cs = dA.view(b, c, q, h).cumsum(dim=2)  # (b, c, q, h)
    cs_h = cs.transpose(2, 3).contiguous()  # (b, c, h, q)
    X = xdt.view(b, c, q, h, p)
    Bq = Bc.view(b, c, q, g, n).transpose(2, 3)  # (b, c, g, q, n)
    Cq = Cc.view(b, c, q, g, n).transpose(2, 3)  # (b, c, g, q, n)

    same_seg = row_in_prev = state_keep = carry_keep = None
    if seq is not None:
        sq = seq.view(b, c, q)
        ends = torch.cat([seq[:, :1], sq[:, :, -1]], dim=1)  # (b, c+1): before chunk 0, after each
        same_seg = (sq.unsqueeze(-1) == sq.unsqueeze(-2)).unsqueeze(2)  # (b, c, 1, q, q)
        row_in_prev = (sq == ends[:, :-1, None]).unsqueeze(-1)  # (b, c, q, 1)
        state_keep = (sq == ends[:, 1:, None]).unsqueeze(-1)  # (b, c, q, 1)
        carry_keep = (ends[:, 1:] == ends[:, :-1]).unsqueeze(-1)  # (b, c, 1)

    # 1. Inside each chunk: y_i += sum_{j <= i} (C_i . B_j) exp(cs_i - cs_j) dt_j x_j.
    causal = torch.ones(q, q, dtype=torch.bool, device=x.device).tril()
    keep = causal if same_seg is None else causal & same_seg
    decay = torch.exp((cs_h.unsqueeze(-1) - cs_h.unsqueeze(-2)).masked_fill(~keep, float("-inf")))
    CB = Cq @ Bq.transpose(-1, -2)  # (b, c, g, q, q)
    M = (decay.view(b, c, g, r, q, q) * CB.unsqueeze(3)).view(b, c, h, q, q)
    y_diag = M @ X.transpose(2, 3)  # (b, c, h, q, p)

    if c == 1 and initial_states is None and not return_final_states:
        y = y_diag.transpose(2, 3)  # nothing enters the only chunk and nothing leaves it
    else:
        y = _add_inter_chunk(y_diag, X, cs, Bq, Cq, initial_states, return_final_states, state_keep, carry_keep,
                             row_in_prev)
        if return_final_states:
            y, final_states = y
    y = y.reshape(b, c * q, h, p)[:, :l]
    y = _skip_and_gate(y, x, D, z).to(x.dtype)
    if return_final_states:
        return y, final_states
    return y


def ssd_scan_sequential_ref(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    dt_bias: Tensor | None = None,
    dt_softplus: bool = False,
    seq_idx: Tensor | None = None,
    initial_states: Tensor | None = None,
    return_final_states: bool = False,
):
    """The recurrence of the module docstring, one position at a time (slow; for tests).

    Same arguments and returns as :func:`ssd_scan_ref` (no ``chunk_size``).
    """
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    cd = _compute_dtype(x)
    dt, dA = _discretize(dt, A, dt_bias, dt_softplus, cd)
    heads_group = torch.arange(h, device=x.device) // (h // g)
    Bh = B.to(cd)[:, :, heads_group]  # (b, l, h, n)
    Ch = C.to(cd)[:, :, heads_group]
    xc = x.to(cd)
    state = x.new_zeros(b, h, p, n, dtype=cd) if initial_states is None else initial_states.to(cd)
    ys = []
    for t in range(l):
        if seq_idx is not None and t > 0:
            same = (seq_idx[:, t] == seq_idx[:, t - 1]).to(cd).view(b, 1, 1, 1)
            state = state * same
        decay = torch.exp(dA[:, t]).view(b, h, 1, 1)
        write = (dt[:, t].view(b, h, 1) * xc[:, t]).unsqueeze(-1) * Bh[:, t].unsqueeze(-2)
        state = decay * state + write
        ys.append((state * Ch[:, t].unsqueeze(-2)).sum(-1))  # (b, h, p)
    y = _skip_and_gate(torch.stack(ys, dim=1), x, D, z).to(x.dtype)
    if return_final_states:
        return y, state
    return y
