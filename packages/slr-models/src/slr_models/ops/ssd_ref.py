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


def tracing_symbolic_length(length: int | torch.SymInt) -> bool:
    """Whether ``torch.compile`` is tracing with a symbolic (dynamic) sequence length: the scan then
    takes its compile branch (fixed chunks, closed-form state passing, no data-dependent branches)."""
    return torch.compiler.is_compiling() and not isinstance(length, int)


def _discretize(dt: Tensor, A: Tensor, dt_bias: Tensor | None, dt_softplus: bool, cd: torch.dtype):
    dt = dt.to(cd)
    if dt_bias is not None:
        dt = dt + dt_bias.to(cd)
    if dt_softplus:
        dt = F.softplus(dt)  # threshold 20, as the Triton kernel
    return dt, dt * A.to(cd)


# Decays below exp(-60) ~ 1e-26 are negligible next to the terms they are added to, but in float32
# they soon reach the denormal range (below exp(-87)), alone or multiplied by small values, where
# x86 arithmetic is about 100x slower: clamp the exponent.
_MIN_LOG_DECAY = {torch.float32: -60.0}


def _exp_decay(log_decay: Tensor) -> Tensor:
    """``exp(log_decay)`` with float32 exponents clamped at -60 (float64 is left exact)."""
    low = _MIN_LOG_DECAY.get(log_decay.dtype)
    return torch.exp(log_decay if low is None else log_decay.clamp_min(low))


def _skip_and_gate(y: Tensor, x: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    """``y (b, l, h, p)`` in compute dtype (any memory layout) -> contiguous ``(y + D x) * silu(z)``."""
    if D is not None:
        d = D.to(y.dtype)
        y = (x.to(y.dtype) * (d.unsqueeze(-1) if d.dim() == 1 else d)).add_(y)
    if z is not None:
        y = F.silu(z.to(y.dtype)) * y
    return y.contiguous()


def _chunk_states(X, cs_q, Bg, state_keep):
    """State each chunk leaves behind: ``sum_j exp(cs_end - cs_j) dt_j x_j B_j^T``.

    ``X (b, g, c, q, r, p)`` (``dt * x``), ``cs_q (b, g, c, q, r)``, ``Bg (b, g, c, q, n)`` ->
    ``(b, g, c, r, p, n)``; one GEMM per group covers all its ``r`` heads.
    """
    b, g, c, q, r, p = X.shape
    to_end = _exp_decay(cs_q[:, :, :, -1:] - cs_q)  # (b, g, c, q, r)
    if state_keep is not None:
        to_end = to_end * state_keep
    Xw = (X * to_end.unsqueeze(-1)).view(b, g, c, q, r * p).transpose(-1, -2)  # (b, g, c, rp, q)
    return (Xw @ Bg).view(b, g, c, r, p, -1)


def _segment_sums(log_carry: Tensor, breaks: Tensor | None) -> tuple[Tensor, Tensor]:
    """Log decay between chunk boundaries: ``out[k, i] = sum_{i <= m < k} log_carry[m]``.

    ``log_carry (..., c)`` -> ``(..., c + 1, c + 1)`` (boundary ``k`` is before chunk ``k``; ``c`` is
    after the last), and the boolean mask of pairs ``i <= k`` with no segment break at any chunk
    ``i <= m < k`` (``breaks (..., c)`` boolean or None). Summed by a masked cumulative sum, as
    Listing 1's ``segsum`` (no difference of two cumulative sums, whose rounding grows with the length).
    """
    c = log_carry.shape[-1]
    rows = log_carry.new_zeros(*log_carry.shape[:-1], c + 1)
    rows[..., 1:] = log_carry  # rows[m + 1] = log_carry[m]
    connected = torch.ones(c + 1, c + 1, dtype=torch.bool, device=log_carry.device).tril()  # pairs i <= k
    seg = rows.unsqueeze(-1).expand(*rows.shape, c + 1).masked_fill(~connected.tril(-1), 0.0).cumsum(dim=-2)
    if breaks is not None:
        counts = breaks.new_zeros(*breaks.shape[:-1], c + 1, dtype=torch.int64)
        counts[..., 1:] = breaks.to(torch.int64).cumsum(dim=-1)  # breaks before boundary k
        connected = connected & (counts.unsqueeze(-1) == counts.unsqueeze(-2))
    return seg, connected


def _pass_states(states, log_carry, breaks, initial_states):
    """Hand states from chunk to chunk: ``S[k+1] = carry[k] * S[k] + states[k]``, ``carry = exp(log_carry)``
    (zero where ``breaks``: a new segment starts inside chunk ``k`` or right after it).

    ``states (b, g, c, r, p, n)``, ``log_carry (b, g, c, r)``, ``breaks (b, 1, c, 1)`` boolean or None,
    ``initial_states (b, g, r, p, n)`` or None -> the states entering each chunk ``(b, g, c, r, p, n)``
    and the final state ``(b, g, r, p, n)``. In closed form, one GEMM over the ``c + 1`` boundaries
    (``S[k] = sum_i exp(sum_{i <= m < k} log_carry[m]) Z[i]`` with ``Z = [initial, states]``): no loop
    over the chunks, so ``torch.compile`` traces one graph for every length.
    """
    b, g, c, r, p, n = states.shape
    init = states.new_zeros(b, g, 1, r, p, n) if initial_states is None else initial_states.unsqueeze(2)
    written = torch.cat([init, states], dim=2).permute(0, 1, 3, 2, 4, 5).reshape(b, g, r, c + 1, p * n)
    seg, connected = _segment_sums(log_carry.transpose(2, 3),
                                   None if breaks is None else breaks.transpose(2, 3))
    low = _MIN_LOG_DECAY.get(seg.dtype)
    weights = torch.exp(seg if low is None else seg.clamp_min(low)).masked_fill(~connected, 0.0)
    out = (weights @ written).view(b, g, r, c + 1, p, n).permute(0, 1, 3, 2, 4, 5)  # (b, g, c+1, r, p, n)
    return out[:, :, :-1], out[:, :, -1]


def _pass_states_sequential(states, log_carry, breaks, initial_states):
    """:func:`_pass_states` by a short loop over the chunks (the eager path: with few chunks and large
    ``(p, n)`` states it moves less memory than the closed form's GEMM over all boundary pairs)."""
    b, g, c, r, p, n = states.shape
    carry = _exp_decay(log_carry)
    if breaks is not None:
        carry = carry * ~breaks
    state = states.new_zeros(b, g, r, p, n) if initial_states is None else initial_states
    # unbind, not states[:, :, k]: its backward stacks the chunk gradients once, where indexing
    # would zero-fill and copy a full-size gradient per chunk.
    entering = []
    for carry_k, written in zip(carry.view(b, g, c, r, 1, 1).unbind(2), states.unbind(2)):
        entering.append(state)
        state = carry_k * state + written
    return torch.stack(entering, dim=2), state


class _IntraChunk(torch.autograd.Function):
    """Outputs from inside each chunk, with a hand-written backward (about half the memory passes
    of autograd's over the ``(q, q)`` decay matrices, the largest tensors of the scan).

    ``cs_r (b, g, c, r, q)`` cumulative ``dt * A``, ``CB (b, g, c, q, q)``, ``X_t (b, g, c, r, q, p)``
    (``dt * x``), ``keep`` boolean mask broadcastable to ``(b, g, c, r, q, q)`` ->
    ``y_i = sum_j keep_ij exp(cs_i - cs_j) CB_ij X_j``, shape ``(b, g, c, r, q, p)``.
    """

    @staticmethod
    def forward(ctx, cs_r, CB, X_t, keep, low):
        with torch.autocast(cs_r.device.type, enabled=False):  # all in the compute dtype
            log_decay = cs_r.unsqueeze(-1) - cs_r.unsqueeze(-2)  # (b, g, c, r, q, q)
            if low is not None:
                log_decay.clamp_min_(low)
            decay = log_decay.masked_fill_(~keep, float("-inf")).exp_()
            M = decay * CB.unsqueeze(3)
            ctx.save_for_backward(decay, M, X_t)
            return M @ X_t

    @staticmethod
    def backward(ctx, grad_y):
        decay, M, X_t = ctx.saved_tensors
        with torch.autocast(grad_y.device.type, enabled=False):
            grad_y = grad_y.to(M.dtype).contiguous()  # used by two GEMMs: copy (if needed) once
            grad_M = grad_y @ X_t.transpose(-1, -2)  # (b, g, c, r, q, q)
            grad_X = M.transpose(-1, -2) @ grad_y
            grad_CB = (grad_M * decay).sum(dim=3)
            # d/d(cs_i - cs_j) of M_ij is M_ij (the clamp's zero slope below exp(-60) is ignored).
            grad_log = grad_M.mul_(M)
            grad_cs = grad_log.sum(dim=-1) - grad_log.sum(dim=-2)
        return grad_cs, grad_CB, grad_X, None, None


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
    Traced by ``torch.compile`` with a dynamic length, the chunks are exactly ``chunk_size`` long,
    the states are handed over in closed form (one GEMM with the decays between chunk boundaries,
    summed without cancellation as in Listing 1's ``segsum``) and no branch depends on the data, so
    one graph serves every length.

    Returns ``y (b, l, h, p)``, and ``final_states (b, h, p, n)`` if ``return_final_states``.
    """
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    r = h // g
    cd = _compute_dtype(x)
    dt, dA = _discretize(dt, A, dt_bias, dt_softplus, cd)
    # Equal chunks of at most chunk_size positions: as little padding as possible. When
    # torch.compile traces a symbolic (dynamic) length, chunks of exactly chunk_size: only their
    # number then depends on the length, and one graph serves every length.
    compiling = tracing_symbolic_length(l)
    q = max(1, int(chunk_size))
    c = -(-l // q)
    if not compiling:
        q = -(-l // c)
    pad = c * q - l
    xdt = x.to(cd) * dt.unsqueeze(-1)  # (b, l, h, p)
    Bc, Cc = B.to(cd), C.to(cd)
    seq = seq_idx
    if pad or compiling:
        # Padded positions have dt = 0: they neither decay nor write the state.
        xdt = F.pad(xdt, (0, 0, 0, 0, 0, pad))
        dA = F.pad(dA, (0, 0, 0, pad))
        Bc = F.pad(Bc, (0, 0, 0, 0, 0, pad))
        Cc = F.pad(Cc, (0, 0, 0, 0, 0, pad))
        if seq is not None:
            seq = torch.cat([seq, seq[:, -1:].expand(b, pad)], dim=1)

    # Group-major layout (b, g, c, q, r, p): the r heads sharing a B/C group sit side by side, so
    # state and state-output products are one GEMM per group. With one group (Mamba2's default)
    # these are views of the input layout; with more groups, one copy in and one copy out.
    X = xdt.view(b, c, q, g, r, p).permute(0, 3, 1, 2, 4, 5).contiguous()
    Bg = Bc.view(b, c, q, g, n).permute(0, 3, 1, 2, 4).contiguous()  # (b, g, c, q, n)
    Cg = Cc.view(b, c, q, g, n).permute(0, 3, 1, 2, 4).contiguous()
    cs_q = dA.view(b, c, q, g, r).permute(0, 3, 1, 2, 4).cumsum(dim=3)  # (b, g, c, q, r)
    cs_r = cs_q.transpose(3, 4).contiguous()  # (b, g, c, r, q)

    same_seg = row_in_prev = state_keep = carry_keep = None
    if seq is not None:
        sq = seq.view(b, c, q)
        ends = torch.cat([seq[:, :1], sq[:, :, -1]], dim=1)  # (b, c+1): before chunk 0, after each
        same_seg = (sq.unsqueeze(-1) == sq.unsqueeze(-2)).view(b, 1, c, 1, q, q)
        row_in_prev = (sq == ends[:, :-1, None]).view(b, 1, c, q, 1)
        state_keep = (sq == ends[:, 1:, None]).view(b, 1, c, q, 1)
        carry_keep = (ends[:, 1:] == ends[:, :-1]).view(b, 1, c, 1)

    # 1. Inside each chunk: y_i = sum_{j <= i} (C_i . B_j) exp(cs_i - cs_j) dt_j x_j.
    causal = torch.ones(q, q, dtype=torch.bool, device=x.device).tril()
    keep = causal if same_seg is None else causal & same_seg
    CB = Cg @ Bg.transpose(-1, -2)  # (b, g, c, q, q): once per group, not per head
    X_t = X.transpose(3, 4) if r == 1 else X.transpose(3, 4).contiguous()  # (b, g, c, r, q, p) for bmm
    y = _IntraChunk.apply(cs_r, CB, X_t, keep, _MIN_LOG_DECAY.get(cd))
    y = y.transpose(3, 4)  # (b, g, c, q, r, p)

    final_states = None
    if c > 1 or compiling or initial_states is not None or return_final_states:
        # 2-4. Chunk states, handed over between chunks, read by the next chunk's C.
        states = _chunk_states(X, cs_q, Bg, state_keep)  # (b, g, c, r, p, n)
        log_carry = cs_q[:, :, :, -1]  # (b, g, c, r): log decay over each whole chunk
        breaks = None if carry_keep is None else ~carry_keep
        init = None if initial_states is None else initial_states.to(cd).view(b, g, r, p, n)
        pass_states = _pass_states if compiling else _pass_states_sequential
        entering, final_states = pass_states(states, log_carry, breaks, init)
        y_off = Cg @ entering.reshape(b, g, c, r * p, n).transpose(-1, -2)  # (b, g, c, q, rp)
        gain = _exp_decay(cs_q)  # (b, g, c, q, r)
        if row_in_prev is not None:
            gain = gain * row_in_prev
        # In-place add onto the fresh product keeps its (b, g, c, q, r, p) layout.
        y = (y_off.view(b, g, c, q, r, p) * gain.unsqueeze(-1)).add_(y)

    y = y.permute(0, 2, 3, 1, 4, 5).reshape(b, c * q, h, p)[:, :l]
    y = _skip_and_gate(y, x, D, z).to(x.dtype)
    if return_final_states:
        return y, final_states.reshape(b, h, p, n)
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
