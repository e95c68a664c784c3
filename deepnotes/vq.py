"""Transformer-VQ (chapter 7): quantised keys, an EMA codebook, and linear-time causal attention.

The pieces, each next to its equation in chapter 7:

* :func:`quantize`: nearest codeword ``z_i = argmin_s ||k_i - c_s||**2``, the
  straight-through keys ``k_hat = sg(c_z) + (k - sg(k))`` and the squared
  errors (the commitment loss is their mean);
* :class:`EMACodebook`: codewords ``c_s = sum_s / max(count_s, 0.01)`` whose
  exponential moving average is also one SGD step with learning rate 1 on a
  surrogate loss (the official repository's trick);
* :func:`vq_attention`: the block recurrence of eq. (tvq-bias): exact
  attention over the current and previous blocks (with a Toeplitz window bias
  ``b``), and the compressed cache -- per-code counts and mean values -- for
  every older block, ``O(n (2 l + c) d)`` work instead of ``O(n**2 d)``;
* :func:`vq_attention_bidirectional`: the encoder form ``exp(Q C^T) Delta^T V``;
* :func:`window_bias_matrix`: the dense ``n x n`` bias that makes the
  quadratic reference ``softmax(Q K_hat^T + B + M) V``
  (:func:`deepnotes.attention.attention_reference`) equal to the block form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from deepnotes.checks import boolean, positive_int, real
from deepnotes.checks import tensor as _check_tensor

__all__ = [
    "EMACodebook",
    "VQState",
    "kmeans",
    "quantize",
    "straight_through",
    "vq_attention",
    "vq_attention_bidirectional",
    "window_bias_matrix",
]


def _tensor(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def _check_codes(name: str, z, shape, c: int, of: str) -> None:
    """``z``: an integer tensor of ``shape`` with codes in ``0 .. c-1``."""
    _tensor(name, z)
    if z.is_floating_point() or z.is_complex() or z.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of codes, got dtype {z.dtype}")
    if tuple(z.shape) != tuple(shape):
        raise ValueError(
            f"{name} must have shape {tuple(shape)} (one code per row of {of}), got {tuple(z.shape)}"
        )
    if z.numel() and z.device.type != "meta" and not (0 <= int(z.min()) and int(z.max()) < c):
        raise ValueError(
            f"{name} must hold codes in 0 .. {c - 1}, got {int(z.min())} .. {int(z.max())}"
        )


def _check_lead(name: str, codebook: torch.Tensor, lead) -> None:
    """A codebook's leading axes must broadcast to ``lead`` (one codebook, or one per head)."""
    try:
        ok = torch.broadcast_shapes(codebook.shape[:-2], tuple(lead)) == tuple(lead)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must have shape (c, d) or (..., c, d) broadcasting to the leading axes "
            f"{tuple(lead)}, got {tuple(codebook.shape)}"
        )


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )


def _check_codebook(keys: torch.Tensor, codebook: torch.Tensor) -> None:
    _tensor("keys", keys)
    _tensor("codebook", codebook)
    _check_tensor("keys", keys)
    _check_tensor("codebook", codebook)
    if codebook.dim() < 2 or codebook.shape[-2] < 1:
        raise ValueError(
            f"codebook must have shape (..., c, d) with c >= 1, got {tuple(codebook.shape)}"
        )
    if keys.dim() < 2 or keys.shape[-1] != codebook.shape[-1]:
        raise ValueError(
            "keys and codebook must share the head dimension d: keys "
            f"{tuple(keys.shape)}, codebook {tuple(codebook.shape)}"
        )
    _check_lead("codebook", codebook, keys.shape[:-2])


def straight_through(x: torch.Tensor, x_quantized: torch.Tensor) -> torch.Tensor:
    """``sg(x_quantized) + (x - sg(x))``: the value of ``x_quantized``, the gradient of ``x``."""
    _check_tensor("x", _tensor("x", x))
    _check_tensor("x_quantized", _tensor("x_quantized", x_quantized))
    if x_quantized.shape != x.shape or x_quantized.dtype != x.dtype:
        raise ValueError(
            f"x_quantized must have the shape and dtype of x {tuple(x.shape)} {x.dtype}, got "
            f"{tuple(x_quantized.shape)} {x_quantized.dtype}"
        )
    return x_quantized.detach() + (x - x.detach())


def quantize(keys: torch.Tensor, codebook: torch.Tensor):
    """Nearest-codeword quantisation: returns ``(z, k_hat, errors2)``.

    ``keys`` ``(..., n, d)``; ``codebook`` ``(c, d)`` or one per head,
    ``(h, c, d)`` against keys ``(..., h, n, d)``.  ``z`` holds
    ``argmin_s ||k - c_s||**2`` (from ``||k||**2 - 2 k.c + ||c||**2``),
    ``k_hat = straight_through(keys, c_z)`` and ``errors2`` the clamped
    minimal squared distances ``(..., n)``.  The codebook gets no gradient.
    """
    _check_codebook(keys, codebook)
    codebook = codebook.detach().to(keys.dtype)
    dist = (
        keys.pow(2).sum(-1, keepdim=True)
        - 2 * keys @ codebook.transpose(-1, -2)
        + codebook.pow(2).sum(-1).unsqueeze(-2)
    )
    errors2, z = dist.detach().min(dim=-1)
    index = z.unsqueeze(-1).expand(*z.shape, keys.shape[-1])
    table = codebook.expand(*keys.shape[:-2], *codebook.shape[-2:])
    centres = torch.gather(table, -2, index)
    return z, straight_through(keys, centres), errors2.clamp_min(0)


class EMACodebook(torch.nn.Module):
    """A codebook kept as an exponential moving average of the keys assigned to each code.

    State (as in the official code): ``c_sum`` ``(c, d)`` or ``(h, c, d)``,
    initialised normal with variance ``1/d``, and ``c_count`` (ones); the
    codewords are ``c_sum / max(c_count, 0.01)``.  One update with decay
    ``gamma`` sets ``c_sum <- gamma c_sum + (1 - gamma) sum_{z_j = s} k_j`` and
    ``c_count <- gamma c_count + (1 - gamma) #{z_j = s}``
    (:meth:`targets`).  :meth:`surrogate_loss` is the loss whose SGD step with
    learning rate 1 lands exactly on those targets.
    """

    def __init__(self, n_code: int, dim: int, *, heads: int | None = None, gamma: float = 0.99):
        super().__init__()
        n_code = positive_int("n_code", n_code)
        dim = positive_int("dim", dim)
        if heads is not None:
            heads = positive_int("heads", heads)
        if real("gamma", gamma, 0.0, 1.0) == 1.0:
            raise ValueError(f"gamma must be in [0, 1), got {gamma!r}")
        self.gamma = float(gamma)
        self.heads = heads
        lead = () if heads is None else (heads,)
        self.c_sum = torch.nn.Parameter(torch.randn(*lead, n_code, dim) / dim**0.5)
        self.c_count = torch.nn.Parameter(torch.ones(*lead, n_code))

    @property
    def codebook(self) -> torch.Tensor:
        """The codewords ``c_sum / max(c_count, 0.01)`` (detached: the codebook gets no gradient)."""
        return (self.c_sum / self.c_count.clamp_min(0.01).unsqueeze(-1)).detach()

    def statistics(self, keys: torch.Tensor, z: torch.Tensor):
        """Per-code sums ``sum_{z_j = s} k_j`` and counts of a batch (over every axis but the head)."""
        _check_codebook(keys, self.c_sum)
        _check_codes("z", z, keys.shape[:-1], self.c_sum.shape[-2], "keys")
        onehot = F.one_hot(z, self.c_sum.shape[-2]).to(keys.dtype)
        keys = keys.detach()
        if self.heads is None:
            onehot, keys = onehot.reshape(-1, onehot.shape[-1]), keys.reshape(-1, keys.shape[-1])
            return onehot.T @ keys, onehot.sum(0)
        if keys.dim() < 3 or keys.shape[-3] != self.heads:
            raise ValueError(f"keys must have shape (..., {self.heads}, n, d), got {keys.shape}")
        onehot = onehot.reshape(-1, *onehot.shape[-3:]).transpose(0, 1).flatten(1, 2)
        keys = keys.reshape(-1, *keys.shape[-3:]).transpose(0, 1).flatten(1, 2)
        return onehot.transpose(-1, -2) @ keys, onehot.sum(-2)

    def targets(self, keys: torch.Tensor, z: torch.Tensor):
        """The EMA targets ``(gamma c_sum + (1-gamma) sums, gamma c_count + (1-gamma) counts)``."""
        sums, counts = self.statistics(keys, z)
        g = self.gamma
        return (
            g * self.c_sum.detach() + (1 - g) * sums.to(self.c_sum.dtype),
            g * self.c_count.detach() + (1 - g) * counts.to(self.c_count.dtype),
        )

    def surrogate_loss(self, keys: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``sum sg(c_sum - tgt) * st(c_sum) + sum sg(c_count - tgt) * st(c_count)``,
        ``st(x) = x - sg(x)``: value 0, gradient ``c - tgt``, so SGD(lr=1) moves ``c`` to ``tgt``."""
        tgt_sum, tgt_count = self.targets(keys, z)

        def st(x):
            return x - x.detach()

        return ((self.c_sum - tgt_sum).detach() * st(self.c_sum)).sum() + (
            (self.c_count - tgt_count).detach() * st(self.c_count)
        ).sum()

    @torch.no_grad()
    def update(self, keys: torch.Tensor, z: torch.Tensor) -> None:
        """The EMA update in place (what one SGD(lr=1) step on :meth:`surrogate_loss` does)."""
        tgt_sum, tgt_count = self.targets(keys, z)
        self.c_sum.copy_(tgt_sum)
        self.c_count.copy_(tgt_count)

    @torch.no_grad()
    def initialize(self, keys: torch.Tensor, steps: int = 10, generator=None) -> None:
        """Start from k-means on ``keys`` (every axis but the head pooled), counts set to one."""
        _check_codebook(keys, self.c_sum)
        if self.heads is not None and (keys.dim() < 3 or keys.shape[-3] != self.heads):
            raise ValueError(f"keys must have shape (..., {self.heads}, n, d), got {keys.shape}")
        rows = keys.numel() // keys.shape[-1] // (self.heads or 1)
        if rows < self.c_sum.shape[-2]:
            raise ValueError(
                f"keys must hold at least n_code = {self.c_sum.shape[-2]} keys per codebook, got {rows}"
            )
        positive_int("steps", steps)
        _check_generator(generator)
        if self.heads is None:
            centres = kmeans(
                keys.reshape(-1, keys.shape[-1]), self.c_sum.shape[-2], steps, generator
            )
        else:
            flat = keys.detach().reshape(-1, *keys.shape[-3:]).transpose(0, 1).flatten(1, 2)
            centres = torch.stack([kmeans(x, self.c_sum.shape[-2], steps, generator) for x in flat])
        self.c_sum.copy_(centres.to(self.c_sum.dtype))
        self.c_count.fill_(1.0)


def kmeans(x: torch.Tensor, n_code: int, steps: int = 10, generator=None) -> torch.Tensor:
    """Lloyd's k-means on the rows of ``x`` ``(N, d)``: ``n_code`` centres after ``steps`` rounds.

    Seeded by k-means++ (each new centre drawn with probability proportional to
    the squared distance to the nearest centre so far); an empty cluster keeps
    its previous centre.
    """
    x = _tensor("x", x).detach()
    if x.dim() != 2:
        raise ValueError(f"x must have shape (N, d), got {tuple(x.shape)}")
    _check_tensor("x", x)
    n_code = positive_int("n_code", n_code)
    steps = positive_int("steps", steps)
    _check_generator(generator)
    if n_code > x.shape[0]:
        raise ValueError(f"n_code = {n_code} exceeds the {x.shape[0]} rows of x")
    first = torch.randint(0, x.shape[0], (1,), generator=generator)
    centres = [x[first[0]]]
    nearest = (x - centres[0]).pow(2).sum(-1)
    for _ in range(1, n_code):
        weights = nearest.clamp_min(0).double()
        if not weights.sum() > 0:  # every row sits on a centre: take any
            weights = torch.ones_like(weights)
        pick = torch.multinomial(weights, 1, generator=generator)[0]
        centres.append(x[pick])
        nearest = torch.minimum(nearest, (x - x[pick]).pow(2).sum(-1))
    centres = torch.stack(centres).clone()
    for _ in range(steps):
        z = torch.cdist(x, centres).argmin(-1)
        onehot = F.one_hot(z, n_code).to(x.dtype)
        counts = onehot.sum(0)
        sums = onehot.T @ x
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    return centres


def window_bias_matrix(bias: torch.Tensor, n: int) -> torch.Tensor:
    """The dense Toeplitz band ``B_ij = b[i - j]`` for ``0 <= i - j < l``, zero elsewhere (``n x n``).

    ``bias`` holds ``b(0), ..., b(l - 1)`` (``l`` = the window = the block
    length); the causal ``-inf`` entries are the mask's job, not the bias's.
    """
    bias = _tensor("bias", bias)
    if bias.dim() != 1 or bias.numel() < 1:
        raise ValueError(f"bias must be a vector (b(0), ..., b(l-1)), got {tuple(bias.shape)}")
    _check_tensor("bias", bias)
    n = positive_int("n", n)
    d = torch.arange(n, device=bias.device)[:, None] - torch.arange(n, device=bias.device)
    inside = (d >= 0) & (d < bias.shape[0])
    return torch.where(
        inside, bias[d.clamp(0, bias.shape[0] - 1)], torch.zeros((), dtype=bias.dtype)
    )


@dataclass
class VQState:
    """What :func:`vq_attention` carries from one segment to the next.

    ``prev_k``, ``prev_v``: the last block's quantised keys and values (its
    ``prev`` term), with its per-code sums ``prev_sum`` and counts
    ``prev_count``; ``cache_sum``, ``cache_count``: the per-code value sums and
    counts of every older block (the compressed cache ``U``, ``Z``).
    """

    prev_k: torch.Tensor
    prev_v: torch.Tensor
    prev_sum: torch.Tensor
    prev_count: torch.Tensor
    cache_sum: torch.Tensor
    cache_count: torch.Tensor


def _block_biases(bias, L, dtype, device):
    if bias is None:
        zero = torch.zeros(L, L, dtype=dtype, device=device)
        return zero, zero
    bias = _tensor("bias", bias)
    if bias.shape != (L,):
        raise ValueError(f"bias must have shape (block_len,) = ({L},), got {tuple(bias.shape)}")
    a = torch.arange(L, device=device)[:, None]
    b = torch.arange(L, device=device)[None, :]
    bias = bias.to(dtype)
    present = torch.where(a >= b, bias[(a - b).clamp(0, L - 1)], torch.zeros((), dtype=dtype))
    dist_prev = L + a - b  # distance from query a of block i to key b of block i-1
    prev = torch.where(dist_prev < L, bias[dist_prev.clamp(0, L - 1)], torch.zeros((), dtype=dtype))
    return present, prev


def vq_attention(
    q: torch.Tensor,
    k_hat: torch.Tensor,
    z: torch.Tensor,
    v: torch.Tensor,
    codebook: torch.Tensor,
    block_len: int,
    *,
    bias: torch.Tensor | None = None,
    state: VQState | None = None,
    cache_grad: bool = False,
    return_state: bool = False,
):
    """Causal Transformer-VQ attention in linear time, eq. (tvq-bias) of chapter 7.

    For block ``i`` (``[i] = i l : (i+1) l``) the output is
    ``[exp(Q K_hat[i]^T + B_ii + M) V[i] + exp(Q K_hat[i-1]^T + B_i,i-1) V[i-1]
    + exp(Q C^T + log Z_{i-2}) Vbar_{i-2}] / (same with values replaced by 1)``
    with ``Q = Q[i]``, ``Z`` the per-code counts and ``Vbar`` the per-code mean
    values of blocks ``<= i-2``; one max (over all three groups, no gradient)
    is subtracted before ``exp``; empty codes get a score of ``-inf``.  It
    equals ``softmax(Q K_hat^T + B + M) V`` exactly; ``bias`` is the window
    ``b(0..l-1)`` of :func:`window_bias_matrix` (``None``: zero).

    Shapes: ``q``, ``k_hat`` ``(..., n, d_k)``; ``z`` ``(..., n)``; ``v``
    ``(..., n, d_v)``; ``codebook`` ``(..., c, d_k)`` (broadcast against the
    leading axes).  ``n`` must be a multiple of ``block_len``.  The scale is
    the caller's (multiply ``q`` by it).  ``cache_grad=False`` stops the
    gradient through the cache (the paper's compromise); keys in the cache
    never get one (codes are discrete).  ``state`` continues a sequence
    processed in segments; ``return_state`` returns ``(out, new_state)``.
    """
    for name, t in (("q", q), ("k_hat", k_hat), ("z", z), ("v", v), ("codebook", codebook)):
        _tensor(name, t)
        if name != "z":
            _check_tensor(name, t, ndim=tuple(range(2, 9)))
    L = positive_int("block_len", block_len)
    boolean("cache_grad", cache_grad)
    boolean("return_state", return_state)
    for name, t in (("k_hat", k_hat), ("v", v)):
        if t.dtype != q.dtype:
            raise TypeError(f"{name} must have the dtype of q ({q.dtype}), got {t.dtype}")
    n, dk = q.shape[-2], q.shape[-1]
    if k_hat.shape != q.shape:
        raise ValueError(
            f"k_hat must have the shape of q {tuple(q.shape)}, got {tuple(k_hat.shape)}"
        )
    if codebook.shape[-1] != dk:
        raise ValueError(f"codebook must have head dimension d_k = {dk}, got {codebook.shape[-1]}")
    if z.shape != q.shape[:-1] or v.shape[:-1] != q.shape[:-1]:
        raise ValueError(
            f"z must have shape {tuple(q.shape[:-1])} and v {tuple(q.shape[:-1])} + (d_v,); "
            f"got z {tuple(z.shape)}, v {tuple(v.shape)}"
        )
    if n % L:
        raise ValueError(f"block_len = {L} must divide the sequence length n = {n}")
    lead, m, c, dv = q.shape[:-2], n // L, codebook.shape[-2], v.shape[-1]
    _check_lead("codebook", codebook, lead)
    _check_codes("z", z, q.shape[:-1], c, "q")
    if bias is not None:
        _check_tensor("bias", _tensor("bias", bias))
        if bias.shape != (L,):
            raise ValueError(f"bias must have shape (block_len,) = ({L},), got {tuple(bias.shape)}")
    if state is not None:
        if not isinstance(state, VQState):
            raise TypeError(
                f"state must be a VQState (from return_state=True), got {type(state).__name__}"
            )
        want = {
            "prev_k": (*lead, L, dk),
            "prev_v": (*lead, L, dv),
            "prev_sum": (*lead, c, dv),
            "prev_count": (*lead, c),
            "cache_sum": (*lead, c, dv),
            "cache_count": (*lead, c),
        }
        for field, shape in want.items():
            t = getattr(state, field)
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape:
                raise ValueError(
                    f"state.{field} must have shape {shape} for these inputs, got "
                    f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}"
                )
    dtype = q.dtype
    qb, kb, vb = (t.reshape(*lead, m, L, t.shape[-1]) for t in (q, k_hat, v))
    onehot = F.one_hot(z.reshape(*lead, m, L), c).to(dtype)
    blk_sum, blk_count = onehot.transpose(-1, -2) @ vb, onehot.sum(-2)  # (.., m, c, dv), (.., m, c)
    if state is None:
        state = VQState(
            prev_k=q.new_zeros(*lead, L, dk),
            prev_v=v.new_zeros(*lead, L, dv),
            prev_sum=v.new_zeros(*lead, c, dv),
            prev_count=v.new_zeros(*lead, c),
            cache_sum=v.new_zeros(*lead, c, dv),
            cache_count=v.new_zeros(*lead, c),
        )
        first_has_prev = False
    else:
        first_has_prev = True
    # blocks i-1 for i = 0..m-1 (block -1 is the state's last block)
    k_prev = torch.cat([state.prev_k.unsqueeze(-3), kb[..., :-1, :, :]], dim=-3)
    v_prev = torch.cat([state.prev_v.unsqueeze(-3), vb[..., :-1, :, :]], dim=-3)
    # cache of block i: state's cache + blocks -1 .. i-2 (an exclusive cumulative sum)
    p_sum = torch.cat([state.prev_sum.unsqueeze(-3), blk_sum[..., :-1, :, :]], dim=-3)
    p_count = torch.cat([state.prev_count.unsqueeze(-2), blk_count[..., :-1, :]], dim=-2)
    if not cache_grad:
        p_sum = p_sum.detach()
    cum_sum, cum_count = p_sum.cumsum(-3), p_count.cumsum(-2)
    cache_sum = state.cache_sum.unsqueeze(-3) + torch.cat(
        [torch.zeros_like(cum_sum[..., :1, :, :]), cum_sum[..., :-1, :, :]], dim=-3
    )
    cache_count = state.cache_count.unsqueeze(-2) + torch.cat(
        [torch.zeros_like(cum_count[..., :1, :]), cum_count[..., :-1, :]], dim=-2
    )
    out = _combine(
        qb, kb, vb, k_prev, v_prev, codebook, cache_sum, cache_count, bias, first_has_prev
    )
    out = out.reshape(*lead, n, dv)
    if not return_state:
        return out
    new_state = VQState(
        prev_k=kb[..., -1, :, :],
        prev_v=vb[..., -1, :, :],
        prev_sum=blk_sum[..., -1, :, :],
        prev_count=blk_count[..., -1, :],
        cache_sum=state.cache_sum + cum_sum[..., -1, :, :],
        cache_count=state.cache_count + cum_count[..., -1, :],
    )
    return out, new_state


def _combine(qb, kb, vb, k_prev, v_prev, codebook, cache_sum, cache_count, bias, first_has_prev):
    """The three score groups of every block, one joint max, and the normalised sum."""
    m, L = qb.shape[-3], qb.shape[-2]
    dtype, dev = qb.dtype, qb.device
    b_present, b_prev = _block_biases(bias, L, dtype, dev)
    neg_inf = torch.tensor(float("-inf"), dtype=dtype, device=dev)
    causal = torch.ones(L, L, dtype=torch.bool, device=dev).tril()
    s_present = torch.where(causal, qb @ kb.transpose(-1, -2) + b_present, neg_inf)
    s_prev = qb @ k_prev.transpose(-1, -2) + b_prev
    if not first_has_prev:  # block 0 has no previous block
        has_prev = torch.arange(m, device=dev) > 0
        s_prev = torch.where(has_prev[:, None, None], s_prev, neg_inf)
    log_count = torch.where(cache_count > 0, cache_count.clamp_min(1).log(), neg_inf)
    s_cache = qb @ codebook.to(dtype).unsqueeze(-3).transpose(-1, -2) + log_count.unsqueeze(-2)
    top = torch.cat([s_present, s_prev, s_cache], dim=-1).amax(-1, keepdim=True).detach()
    w_present, w_prev, w_cache = ((s - top).exp() for s in (s_present, s_prev, s_cache))
    mean = cache_sum / cache_count.clamp_min(1).unsqueeze(-1)  # per-code mean values
    num = w_present @ vb + w_prev @ v_prev + w_cache @ mean
    den = w_present.sum(-1, keepdim=True) + w_prev.sum(-1, keepdim=True)
    return num / (den + w_cache.sum(-1, keepdim=True))


def vq_attention_bidirectional(
    q: torch.Tensor, z: torch.Tensor, v: torch.Tensor, codebook: torch.Tensor
) -> torch.Tensor:
    """The encoder form, eq. (pick-out): ``exp(Q C^T) (Delta^T V) / exp(Q C^T) (Delta^T 1)``.

    Computed as a softmax over codes of ``Q C^T + log Z`` applied to the
    per-code mean values (``Z``: counts over the whole sequence); equals
    ``softmax(Q K_hat^T) V`` with ``K_hat = C[z]``, in ``O(n c d)``.
    """
    for name, t in (("q", q), ("z", z), ("v", v), ("codebook", codebook)):
        _tensor(name, t)
        if name != "z":
            _check_tensor(name, t, ndim=tuple(range(2, 9)))
    if codebook.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"codebook must have the head dimension of q ({q.shape[-1]}), got {codebook.shape[-1]}"
        )
    if v.shape[:-2] != q.shape[:-2] or v.dtype != q.dtype:
        raise ValueError(
            f"v must have the leading axes and dtype of q {tuple(q.shape[:-2])} {q.dtype}, got "
            f"{tuple(v.shape)} {v.dtype}"
        )
    _check_lead("codebook", codebook, q.shape[:-2])
    _check_codes("z", z, v.shape[:-1], codebook.shape[-2], "v")
    onehot = F.one_hot(z, codebook.shape[-2]).to(v.dtype)
    sums, counts = onehot.transpose(-1, -2) @ v, onehot.sum(-2)
    neg_inf = torch.tensor(float("-inf"), dtype=q.dtype, device=q.device)
    log_count = torch.where(counts > 0, counts.clamp_min(1).log(), neg_inf)
    weights = torch.softmax(
        q @ codebook.to(q.dtype).transpose(-1, -2) + log_count.unsqueeze(-2), -1
    )
    return weights @ (sums / counts.clamp_min(1).unsqueeze(-1))
