"""Chapter 2: deep plain chains against residual chains ``y = x + eps f(x)``.

Row-vector convention of the article: a layer maps ``x`` (batch x width) to ``x W``.

* :class:`PlainChain` -- ``x <- x Q_l`` with exactly orthogonal ``Q_l`` (perfect dynamical
  isometry: forward and backward norms preserved exactly) or ``x <- relu(x W_l)`` with He init.
* :class:`ResidualChain` -- ``x <- x + eps relu(x W1_l) W2_l`` with ``W1 ~ N(0, 2/d)`` and
  ``W2 ~ N(0, 1/d)``, so that ``E||f(x)||^2 = ||x||^2`` and the identity path is exact.
* :func:`measure_chain` -- forward ratio, backward ratio, parameter-gradient norm and the
  one-step SGD loss change (Chapter 2, "increment explosion").
* :func:`hessian_top_eigenvalue` -- power iteration on Hessian-vector products (sharpness).
* :func:`log_amplification`, :func:`amplification_sweep` -- Monte Carlo of
  ``v <- v + eps v J_l`` with aligned and random ``J_l`` (Chapter 2, "small enough").
* :func:`relative_error` -- ``|measured / expected - 1|`` that refuses NaN (checks must fail).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from deepnotes.checks import (
    float_dtype,
    nonempty_list,
    positive_float,
    positive_int,
    real,
    real_array,
    tensor,
)
from deepnotes.checks import generator as check_generator
from deepnotes.increment import one_step_increment

__all__ = [
    "PlainChain",
    "ResidualChain",
    "check_depth",
    "depth_sweep",
    "discriminating",
    "check_eps",
    "chain_loss",
    "chain_problem",
    "hessian_top_eigenvalue",
    "amplification_sweep",
    "log_amplification",
    "make_chain",
    "measure_chain",
    "orthogonal",
    "relative_error",
]


def check_depth(depth: int, name: str = "depth") -> int:
    """Return ``depth`` as an int, or raise ``ValueError`` naming ``name`` if it is not >= 1.

    The book-wide rule of :func:`deepnotes.checks.positive_int`.
    """
    return positive_int(name, depth)


def check_eps(eps: float, name: str = "eps") -> float:
    """Return ``eps`` as a float, or raise ``ValueError`` naming ``name`` if negative or NaN."""
    return real(name, eps, 0.0, math.inf)


def orthogonal(
    n: int,
    m: int | None = None,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A Haar-random ``n x n`` orthogonal matrix ``Q`` (``Q Q^T = I``), Chapter 2.

    QR of a standard Gaussian matrix with the signs of ``R``'s diagonal moved into ``Q``.
    ``m`` may be given for symmetry with a layer's ``n x m`` shape, but must equal ``n``:
    a non-square matrix cannot be orthogonal (``ValueError`` naming ``m``).
    """
    n = check_depth(n, "n")
    if m is not None and check_depth(m, "m") != n:
        raise ValueError(f"m must equal n for an orthogonal matrix, got n={n}, m={m}")
    check_generator("generator", generator)
    float_dtype("dtype", dtype)
    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    return q.to(dtype=dtype, device=device)


class PlainChain(nn.Module):
    """``x <- x Q_l`` (``kind="orthogonal"``) or ``x <- relu(x W_l)``, ``W ~ N(0, 2/d)``
    (``kind="relu"``), for ``l = 1..depth`` (Chapter 2, "stable propagation")."""

    def __init__(
        self,
        width: int,
        depth: int,
        kind: str = "orthogonal",
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        width = check_depth(width, "width")
        self.depth = check_depth(depth, "depth")
        if not isinstance(kind, str) or kind not in ("orthogonal", "relu"):
            raise ValueError(f"kind must be 'orthogonal' or 'relu', got {kind!r}")
        check_generator("generator", generator)
        float_dtype("dtype", dtype)
        self.kind = kind
        if kind == "orthogonal":
            mats = [orthogonal(width, generator=generator, dtype=dtype) for _ in range(depth)]
        else:
            scale = math.sqrt(2.0 / width)
            mats = [
                torch.randn(width, width, generator=generator, dtype=dtype) * scale
                for _ in range(depth)
            ]
        self.weights = nn.ParameterList(nn.Parameter(w) for w in mats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.weights[0])
        for w in self.weights:
            x = x @ w if self.kind == "orthogonal" else torch.relu(x @ w)
        return x


class ResidualChain(nn.Module):
    """``x <- x + eps relu(x W1_l) W2_l``, ``W1 ~ N(0, 2/d)``, ``W2 ~ N(0, 1/d)`` (Chapter 2).

    The skip is an exact identity and ``eps`` sits on the branch only, so the block's Jacobian
    is ``I + eps J_f`` and every branch gradient carries exactly one factor ``eps``.
    """

    def __init__(
        self,
        width: int,
        depth: int,
        eps: float,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        width = check_depth(width, "width")
        self.depth = check_depth(depth, "depth")
        self.eps = check_eps(eps)
        check_generator("generator", generator)
        float_dtype("dtype", dtype)
        s1, s2 = math.sqrt(2.0 / width), math.sqrt(1.0 / width)
        w1, w2 = [], []
        for _ in range(depth):
            w1.append(torch.randn(width, width, generator=generator, dtype=dtype) * s1)
            w2.append(torch.randn(width, width, generator=generator, dtype=dtype) * s2)
        self.w1 = nn.ParameterList(nn.Parameter(w) for w in w1)
        self.w2 = nn.ParameterList(nn.Parameter(w) for w in w2)

    def branch(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """The residual branch ``f_l(x) = relu(x W1_l) W2_l``."""
        return torch.relu(x @ self.w1[layer]) @ self.w2[layer]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.w1[0])
        for layer in range(self.depth):
            x = x + self.eps * self.branch(x, layer)
        return x


def _check_input(x, weight: torch.Tensor) -> None:
    """A chain's input: a finite (batch, width) tensor of the chain's dtype."""
    tensor("x", x, 2, shape=(weight.shape[0],))
    if x.dtype != weight.dtype:
        raise TypeError(f"x must have the chain's dtype {weight.dtype}, got {x.dtype}")


def make_chain(
    name: str,
    width: int,
    depth: int,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> nn.Module:
    """Build a chain by the chapter's model names.

    ``"plain-orthogonal"``, ``"plain-relu"``, or ``"residual-p"`` with ``eps = depth**-p``
    (e.g. ``"residual-0"``, ``"residual-0.5"``, ``"residual-1"``).
    """
    depth = check_depth(depth)
    if not isinstance(name, str):
        raise ValueError(f"name must be a string such as 'residual-1', got {name!r}")
    if name == "plain-orthogonal":
        return PlainChain(width, depth, "orthogonal", generator=generator, dtype=dtype)
    if name == "plain-relu":
        return PlainChain(width, depth, "relu", generator=generator, dtype=dtype)
    if name.startswith("residual-"):
        try:
            p = float(name.split("-", 1)[1])
        except ValueError:
            raise ValueError(f"name must be 'residual-<p>' with a number p, got {name!r}") from None
        p = check_eps(p, "name (exponent p of eps = depth**-p)")
        return ResidualChain(width, depth, depth ** (-p), generator=generator, dtype=dtype)
    raise ValueError(
        f"name must be 'plain-orthogonal', 'plain-relu' or 'residual-<p>', got {name!r}"
    )


def chain_problem(
    width: int,
    batch: int,
    outputs: int = 16,
    *,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Inputs ``x ~ N(0, I)``, a fixed readout ``R ~ N(0, 1)`` (used as ``h R / sqrt(d)``)
    and random targets ``t ~ N(0, 1)``: the task of Chapter 2's depth sweep and sharpness runs."""
    width = check_depth(width, "width")
    batch = check_depth(batch, "batch")
    outputs = check_depth(outputs, "outputs")
    check_generator("generator", generator)
    float_dtype("dtype", dtype)
    return {
        "x": torch.randn(batch, width, generator=generator, dtype=dtype),
        "readout": torch.randn(width, outputs, generator=generator, dtype=dtype),
        "target": torch.randn(batch, outputs, generator=generator, dtype=dtype),
    }


LOSSES = ("linear", "mse")


def chain_loss(h: torch.Tensor, problem: dict[str, torch.Tensor], loss: str = "linear"):
    """The loss on the chain's output ``h`` through the readout ``out = h R / sqrt(d)`` (Chapter 2).

    ``"linear"``: ``mean(out * target)``, a probe whose ``dL/dh = t R^T / (B k sqrt(d))`` (batch
    ``B``, ``k`` outputs) does not depend on the forward pass, so depth enters the gradients only
    through the chain (exact theory in expectation); ``"mse"``: ``mean((out - target)**2)``, a
    regression loss with curvature, whose ``dL/dh`` grows with the output.
    """
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    _check_problem(problem, ("readout", "target"))
    readout, target = problem["readout"], problem["target"]
    # h may overflow legitimately: an eps = 1 chain's output is inf after one SGD step at depth
    # (Chapter 2's "blown" rows), and the loss then reports it.
    tensor("h", h, 2, shape=(readout.shape[0],), finite=False)
    if h.shape[0] != target.shape[0]:
        raise ValueError(
            f"h must have one row per target, got {h.shape[0]} rows and {target.shape[0]} targets"
        )
    out = h @ problem["readout"] / math.sqrt(h.shape[-1])
    if loss == "linear":
        return (out * problem["target"]).mean()
    return ((out - problem["target"]) ** 2).mean()


def _check_problem(problem, keys=("x", "readout", "target")) -> None:
    if not isinstance(problem, Mapping):
        raise TypeError(f"problem must be a dict from chain_problem, got {type(problem).__name__}")
    for key in keys:
        if key not in problem:
            raise ValueError(
                f"problem must have the keys {keys} (see chain_problem), lacks {key!r}"
            )
        tensor(f"problem[{key!r}]", problem[key], 2)
    if "readout" in keys and "target" in keys:
        if problem["readout"].shape[1] != problem["target"].shape[1]:
            raise ValueError("problem's readout and target must have the same number of outputs")


def measure_chain(
    model: nn.Module, problem: dict[str, torch.Tensor], lr: float = 1e-5, loss: str = "linear"
) -> dict[str, float]:
    """The four numbers of Chapter 2's table for one chain at initialization.

    ``forward``: ``||x_N||^2 / ||x_0||^2``; ``backward``: ``||dL/dx_0||^2 / ||dL/dx_N||^2``;
    ``grad_sq``: ``sum_l ||dL/dW_l||^2``; ``increment``: the one-step SGD loss change
    ``L(theta - lr g) - L(theta)`` and ``first_order``, its prediction ``-lr grad_sq``
    (measured with Chapter 1's :func:`deepnotes.increment.one_step_increment`).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_problem(problem)
    lr = positive_float("lr", lr)
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x0 = problem["x"].clone().requires_grad_(True)
    h = model(x0)
    h.retain_grad()
    chain_loss(h, problem, loss).backward()
    forward = float((h.detach().double() ** 2).sum() / (x0.detach().double() ** 2).sum())
    backward = float((x0.grad.double() ** 2).sum() / (h.grad.double() ** 2).sum())
    model.zero_grad(set_to_none=True)
    step = one_step_increment(
        model,
        lambda m, batch: chain_loss(m(batch["x"]), batch, loss),
        problem,
        "sgd",
        lr,
        params=list(model.parameters()),
    )
    return {
        "forward": forward,
        "backward": backward,
        "loss": step["loss"],
        "grad_sq": step["grad_sq"],
        "increment": step["actual"],
        "first_order": step["first_order"],
    }


def hessian_top_eigenvalue(
    loss_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    iters: int = 20,
    *,
    generator: torch.Generator | None = None,
) -> float:
    """Largest-magnitude eigenvalue of the loss Hessian in ``params`` (Chapter 2, sharpness).

    Power iteration ``v <- H v / ||H v||`` with Hessian-vector products from double backward;
    returns the Rayleigh quotient ``v^T H v`` (signed: the loss need not be convex).  The
    largest stable SGD learning rate on a quadratic is ``2 / lambda_max``.
    """
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function of no arguments, got {loss_fn!r}")
    iters = check_depth(iters, "iters")
    params = _check_params(params)
    check_generator("generator", generator)
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    vec = [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in params]
    norm = math.sqrt(sum(float((v**2).sum()) for v in vec))
    vec = [v / norm for v in vec]
    rayleigh = 0.0
    for _ in range(iters):
        hv = torch.autograd.grad(grads, params, grad_outputs=vec, retain_graph=True)
        rayleigh = sum(float((h * v).sum()) for h, v in zip(hv, vec, strict=True))
        norm = math.sqrt(sum(float((h**2).sum()) for h in hv))
        if norm == 0.0:
            return 0.0
        vec = [h.detach() / norm for h in hv]
    return rayleigh


def _check_params(params) -> list[torch.Tensor]:
    if isinstance(params, (str, bytes, torch.Tensor)) or not isinstance(params, Iterable):
        raise TypeError(f"params must be a list of tensors, got {type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor")
    for p in params:
        if not isinstance(p, torch.Tensor) or not p.requires_grad:
            raise ValueError(f"params must hold tensors that require grad, got {p!r}")
    return params


def _branch_output(
    v: torch.Tensor,
    kind: str,
    method: str,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``v J_l`` for one layer, for a unit-norm batch of row vectors ``v``.

    ``"aligned"``: ``J_l = I``, the branch copies the stream (``f(x) = x``);
    ``"random"``: ``J_l`` with i.i.d. ``N(0, 1/width)`` entries, drawn as a
    matrix (``method="matrix"``) or, using that ``v J_l ~ N(0, I / width)``
    for a unit ``v``, as the product vector itself (``method="vector"``).
    """
    if kind == "aligned":
        return v
    width = v.shape[1]
    scale = 1.0 / math.sqrt(width)
    if method == "matrix":
        jac = torch.randn(width, width, generator=generator, dtype=v.dtype)
        return v @ (jac * scale)
    noise = torch.randn(v.shape, generator=generator, dtype=v.dtype)
    return scale * noise


def log_amplification(
    eps: float,
    depth: int,
    width: int = 256,
    kind: str = "random",
    trials: int = 8,
    *,
    method: str = "matrix",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Monte Carlo ``log(||v_N||^2 / ||v_0||^2)`` for ``v <- v + eps v J_l`` (Chapter 2).

    Both kinds iterate the map layer by layer and measure the norm:
    ``kind="aligned"``: ``J_l = I`` (the branch points along the stream, the 1-D worst case,
    whose squared-norm factor is ``(1 + eps)**(2N)``); ``kind="random"``: a fresh ``J_l`` with
    i.i.d. ``N(0, 1/width)`` entries per layer, whose expected squared-norm factor is
    ``(1 + eps**2)**N``.  ``method="matrix"`` draws each ``J_l`` (one per layer, applied to
    ``trials`` vectors); ``method="vector"`` uses that ``v J_l`` for a fresh Gaussian ``J_l``
    is exactly ``N(0, ||v||^2 / width I)`` and draws that vector instead (same law, ``width``
    times cheaper).  The norm is renormalised every layer, so no overflow.  Returns one
    float64 value per trial.
    """
    eps = check_eps(eps)
    depth = check_depth(depth)
    width = check_depth(width, "width")
    trials = check_depth(trials, "trials")
    if not isinstance(kind, str) or kind not in ("aligned", "random"):
        raise ValueError(f"kind must be 'aligned' or 'random', got {kind!r}")
    if not isinstance(method, str) or method not in ("matrix", "vector"):
        raise ValueError(f"method must be 'matrix' or 'vector', got {method!r}")
    check_generator("generator", generator)
    v = torch.randn(trials, width, generator=generator, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True)
    log_ratio = torch.zeros(trials, dtype=torch.float64)
    for _ in range(depth):
        v = v + eps * _branch_output(v, kind, method, generator)
        norm = v.norm(dim=1, keepdim=True)
        log_ratio += 2 * torch.log(norm.squeeze(1))
        v = v / norm
    return log_ratio


def amplification_sweep(
    ps: Sequence[float],
    depths: Sequence[int],
    width: int = 128,
    trials: int = 64,
    kinds: Sequence[str] = ("random", "aligned"),
    *,
    method: str = "matrix",
    generator: torch.Generator | None = None,
) -> list[dict]:
    """:func:`log_amplification` with ``eps = N**-p`` for every ``p``, depth and kind.

    One row per setting: ``p``, ``N``, ``kind``, ``ratio`` (the Monte Carlo mean of
    ``||v_N||^2 / ||v_0||^2``) and ``median``.  Chapter 2, section "small enough".
    """
    ps = [check_eps(p, "ps") for p in nonempty_list("ps", ps)]
    depths = [check_depth(n, "depths") for n in nonempty_list("depths", depths)]
    kinds = nonempty_list("kinds", kinds)
    for kind in kinds:
        if not isinstance(kind, str) or kind not in ("aligned", "random"):
            raise ValueError(f"kinds must hold 'aligned' or 'random', got {kind!r}")
    check_depth(width, "width")
    check_depth(trials, "trials")
    if not isinstance(method, str) or method not in ("matrix", "vector"):
        raise ValueError(f"method must be 'matrix' or 'vector', got {method!r}")
    check_generator("generator", generator)
    rows = []
    for p in ps:
        for depth in depths:
            for kind in kinds:
                log_r = log_amplification(
                    depth ** (-p),
                    depth,
                    width,
                    kind,
                    trials,
                    method=method,
                    generator=generator,
                )
                rows.append(
                    {
                        "p": p,
                        "N": depth,
                        "kind": kind,
                        "ratio": float(log_r.exp().mean()),
                        "median": float(log_r.median().exp()),
                    }
                )
    return rows


def discriminating(law, rel: float):
    """Which entries of a predicted ratio ``law`` a relative tolerance ``rel`` can tell from 1.

    A measurement within ``rel`` of the law is evidence for it over "no growth" (a ratio of 1)
    only where the band ``|r / law - 1| <= rel`` excludes 1, i.e. ``|1 / law - 1| > rel``.
    Returns a boolean NumPy array (Chapter 2: rows of ``eps = 1/N`` beyond the first few
    depths cannot tell ``(1 + 1/N**2)**N`` from 1).
    """
    law = real_array("law", law)
    rel = positive_float("rel", rel)
    if law.size == 0 or not np.all(law > 0):
        raise ValueError(f"law must hold finite positive ratios, got {law.tolist()}")
    return np.abs(1.0 / law - 1.0) > rel


def relative_error(measured, expected, name: str = "measured"):
    """``|measured / expected - 1|`` as a float64 NumPy array, every entry finite (Chapter 2).

    A check must be able to fail: NaN propagates through NumPy's reductions, but Python's
    ``max`` and pandas' ``Series.max`` drop it (``max(0.0, nan) == 0.0``), so this raises
    ``ValueError`` naming ``name`` when any entry of either input, or of the error, is not
    finite, or the shapes differ.
    """
    m = real_array(name, measured, finite=False)
    e = real_array("expected", expected, finite=False)
    if m.shape != e.shape:
        raise ValueError(f"{name} has shape {m.shape}, expected has shape {e.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.abs(m / e - 1.0)
    bad = np.flatnonzero(~(np.isfinite(m) & np.isfinite(e) & np.isfinite(err)))
    if bad.size:
        raise ValueError(
            f"{name} is not finite (or expected is 0 or not finite) at positions "
            f"{bad.tolist()}: {m.ravel()[bad].tolist()}"
        )
    return err


def depth_sweep(
    names: Sequence[str],
    depths: Sequence[int],
    width: int = 128,
    batch: int = 64,
    seeds: int = 2,
    lr: float = 1e-3,
    *,
    loss: str | Sequence[str] = "linear",
    dtype: torch.dtype = torch.float32,
) -> list[dict]:
    """:func:`measure_chain` for every model name, depth and seed (Chapter 2, the table).

    Seed ``s`` at depth ``N`` draws the problem from ``1000 s + N`` first, so every model sees
    the same inputs, readout and targets.  Each row also holds ``one_layer``, the squared norm
    ``||x_0^T dL/dh||^2`` of a single layer's gradient on that problem, the unit of ``grad_sq``.
    ``loss`` may list several of :data:`LOSSES`: each is measured on the same chain and
    problem, one row per loss, named in the row's ``objective``.
    """
    names = nonempty_list("names", names)
    for name in names:
        if not isinstance(name, str) or not (
            name in ("plain-orthogonal", "plain-relu") or name.startswith("residual-")
        ):
            raise ValueError(
                f"names must hold 'plain-orthogonal', 'plain-relu' or 'residual-<p>', got {name!r}"
            )
    objectives = [loss] if isinstance(loss, str) else nonempty_list("loss", loss)
    if any(not isinstance(o, str) or o not in LOSSES for o in objectives):
        raise ValueError(f"loss must be one of {LOSSES} or a list of them, got {loss!r}")
    depths = [check_depth(n, "depths") for n in nonempty_list("depths", depths)]
    seeds = check_depth(seeds, "seeds")
    check_depth(width, "width")
    check_depth(batch, "batch")
    lr = positive_float("lr", lr)
    float_dtype("dtype", dtype)
    for name in names:  # a bad exponent in 'residual-<p>' fails here, before any work
        make_chain(name, 1, 1)
    rows = []
    for name in names:
        for depth in depths:
            for seed in range(seeds):
                gen = torch.Generator().manual_seed(1000 * seed + depth)
                problem = chain_problem(width, batch, generator=gen, dtype=dtype)
                model = make_chain(name, width, depth, generator=gen, dtype=dtype)
                for objective in objectives:
                    h = problem["x"].clone().requires_grad_(True)
                    (grad_h,) = torch.autograd.grad(chain_loss(h, problem, objective), h)
                    x0 = problem["x"].double()
                    one_layer = float((x0.T @ grad_h.double()).pow(2).sum())
                    row = measure_chain(model, problem, lr, objective)
                    rows.append(
                        {
                            "model": name,
                            "N": depth,
                            "seed": seed,
                            "objective": objective,
                            "one_layer": one_layer,
                            **row,
                        }
                    )
    return rows
