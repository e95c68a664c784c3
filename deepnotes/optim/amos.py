"""Amos (Tian & Parikh, arXiv 2210.11693) as a ``torch.optim.Optimizer``.

Chapter 3.  A line-by-line port of ``jestimator.amos`` (PyPI jestimator 0.3.3, the
official code; the maths is unchanged at HEAD), checked against it to ~1e-12 in
float64 by ``tests/test_amos_jestimator.py``.  For each parameter tensor ``theta`` with
gradient ``g``, slots ``v`` and ``b`` of a *reduced* shape, step ``t`` (1 on the first
step), global rate ``xi`` (the group's ``lr``) and per-tensor scale ``eta``::

    g     <- clip(g, -clip_value, clip_value)                   (optional, elementwise)
    g2     = mean of g^2 over the axes the slot shape reduces (keepdim)
    v     <- beta v + (1 - beta) g2
    r      = (1 - beta^t) / max(v, epsilon)                      (= 1 / v_hat)
    c      = (1 + c_coef sqrt(xi) b)^(-1/2)
    gamma  = c xi^2 r g2                                          (adaptive weight decay)
    d      = 1 / (1 + d_coef sqrt(xi eta) b)                      (learning-rate decay)
    delta  = d ( -(gamma/2 + extra_l2) theta - xi eta sqrt(r) g )
    b     <- b + gamma (1 + b)
    m     <- momentum m + (1 - momentum) delta;  delta <- m     (optional, no debias)
    theta <- theta + delta

Layout: jestimator's Flax kernels are (in, out) and its configs average over the input
axis, slot ``(1, out)``.  A PyTorch ``nn.Linear.weight`` is (out, in): the same saving is
the slot shape ``(out, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from deepnotes.checks import integral, positive_float

__all__ = [
    "AMOS_EPSILON",
    "Amos",
    "amos_param_groups",
    "check_slot_shape",
    "linear_slot_shape",
    "state_bytes",
]

#: jestimator's default epsilon: the smallest positive normal float32, 2^-125 rounded up.
AMOS_EPSILON = 1.0 / (1 << 125)

_HALF = (torch.float16, torch.bfloat16)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shape(arg: str, value) -> tuple[int, ...]:
    """``value`` as a tuple of non-negative ints (a tensor shape), else an error naming ``arg``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{arg} must be a shape (a tuple of ints), got {value!r}")
    dims = tuple(integral(arg, n) for n in value)
    if any(n < 0 for n in dims):
        raise ValueError(f"{arg} must be a shape (non-negative sizes), got {value!r}")
    return dims


def check_slot_shape(
    slot_shape, param_shape: Iterable[int], name: str = "slot_shape"
) -> tuple | None:
    """Validate a slot shape against a parameter shape and return it as a tuple.

    ``None`` means the full shape (no saving); ``()`` one scalar per tensor; otherwise one
    entry per parameter axis, each either 1 (averaged) or the parameter's size (kept).
    """
    param_shape = _shape("param_shape", param_shape)
    if slot_shape is None:
        return None
    if isinstance(slot_shape, (str, bytes)) or not isinstance(slot_shape, Iterable):
        raise ValueError(f"{name} must be None or a tuple of ints, got {slot_shape!r}")
    shape = tuple(integral(name, s) for s in slot_shape)  # 2.5 or True is no axis size
    if shape == ():
        return shape
    if len(shape) != len(param_shape) or any(
        s not in (1, n) for s, n in zip(shape, param_shape, strict=True)
    ):
        raise ValueError(
            f"{name}={shape} is not a reduction of the parameter shape {param_shape}: "
            "expected () or one entry per axis, each 1 or the axis size"
        )
    return shape


class Amos(torch.optim.Optimizer):
    """The Amos optimizer, exactly as ``jestimator.amos.amos`` (Chapter 3, section "Amos itself").

    Args:
        params: parameters or param groups.  A group may override every option below;
            per-tensor ``eta`` and ``slot_shape`` are easiest with :func:`amos_param_groups`.
        lr: the global relative rate ``xi`` (jestimator's ``learning_rate``); any
            ``torch.optim.lr_scheduler`` may schedule it.  It may be left out when every
            param group sets its own ``lr``.  README advice: ``1/sqrt(N)`` with ``N`` the
            number of independent batches.
        eta: the model-oriented scale of the tensor's entries (its init std for kernels,
            0.5 for biases in jestimator's configs).  Required, positive.
        slot_shape: shape of ``v`` and ``b``: ``None`` full shape, ``()`` scalar, or a
            reduction such as ``(out, 1)`` for an ``nn.Linear`` weight.
        beta: second-moment decay in [0, 1).
        momentum: optional EMA of the updates in [0, 1) (``None`` or 0: off).
        clip_value: optional elementwise gradient clip (``None``: off).
        extra_l2: jestimator's experimental extra L2 (default 0).
        d_coef, c_coef: coefficients of the decay factors ``d`` and ``c`` (default 0.25).
        epsilon: floor of ``v`` (default 2^-125).

    Slots are kept in float32 for half-precision parameters (2^-125 underflows in fp16),
    also across :meth:`load_state_dict`, which in plain PyTorch casts every floating slot to
    the parameter's dtype.
    """

    def __init__(
        self,
        params,
        lr: float | None = None,
        eta: float | None = None,
        *,
        slot_shape: tuple | None = None,
        beta: float = 0.999,
        momentum: float | None = None,
        clip_value: float | None = None,
        extra_l2: float = 0.0,
        d_coef: float = 0.25,
        c_coef: float = 0.25,
        epsilon: float = AMOS_EPSILON,
    ) -> None:
        defaults = dict(
            lr=lr,
            eta=eta,
            slot_shape=slot_shape,
            beta=beta,
            momentum=momentum,
            clip_value=clip_value,
            extra_l2=extra_l2,
            d_coef=d_coef,
            c_coef=c_coef,
            epsilon=epsilon,
        )
        if isinstance(params, torch.Tensor) or not isinstance(params, Iterable):
            raise TypeError(
                "params must be an iterable of tensors or param-group dicts, "
                f"got {type(params).__name__}"
            )
        params = list(params)
        if not params:
            raise ValueError("params is empty: Amos needs at least one parameter")
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        self._check_group(group)

    @staticmethod
    def _check_group(group: dict) -> None:
        lr = group["lr"]
        if lr is None:
            raise ValueError("lr is required: pass lr= to Amos or set 'lr' in every param group")
        if not _is_number(lr) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
        eta = group["eta"]
        if not _is_number(eta) or not math.isfinite(eta) or eta <= 0:
            raise ValueError(f"eta must be a positive finite number, got {eta!r}")
        beta = group["beta"]
        if not _is_number(beta) or not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        mom = group["momentum"]
        if mom is not None and (not _is_number(mom) or not 0.0 <= mom < 1.0):
            raise ValueError(f"momentum must be None or in [0, 1), got {mom!r}")
        clip = group["clip_value"]
        if clip is not None and (not _is_number(clip) or not clip > 0):
            raise ValueError(f"clip_value must be None or positive, got {clip!r}")
        for key in ("d_coef", "c_coef"):
            val = group[key]
            if not _is_number(val) or not math.isfinite(val) or val < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {val!r}")
        if not _is_number(group["extra_l2"]) or not math.isfinite(group["extra_l2"]):
            raise ValueError(f"extra_l2 must be a finite number, got {group['extra_l2']!r}")
        eps = group["epsilon"]
        if not _is_number(eps) or not math.isfinite(eps) or not eps > 0:
            raise ValueError(f"epsilon must be a positive finite number, got {eps!r}")
        shape = group["slot_shape"]
        for param in group["params"]:
            check_slot_shape(shape, param.shape)
        if shape is not None:
            group["slot_shape"] = tuple(int(s) for s in shape)

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a saved state, keeping the slots of half-precision parameters in float32.

        ``torch.optim.Optimizer.load_state_dict`` casts every floating tensor in the state
        to its parameter's dtype.  For an fp16 parameter that turns ``v`` into fp16, where the
        floor ``epsilon = 2^-125`` underflows to 0, and a zero gradient then gives ``0 * inf =
        nan``.  The saved slots are re-read here without that cast.
        """
        saved_state = state_dict["state"]
        saved_ids = [pid for group in state_dict["param_groups"] for pid in group["params"]]
        super().load_state_dict(state_dict)
        params = [param for group in self.param_groups for param in group["params"]]
        for pid, param in zip(saved_ids, params, strict=True):
            if param.dtype not in _HALF or pid not in saved_state:
                continue
            for key in ("v", "b", "m"):
                value = saved_state[pid].get(key)
                if torch.is_tensor(value):
                    self.state[param][key] = value.detach().to(
                        device=param.device, dtype=torch.float32, copy=True
                    )

    def _init_state(self, param: torch.Tensor, group: dict) -> dict:
        state = self.state[param]
        dtype = torch.float32 if param.dtype in _HALF else param.dtype
        shape = group["slot_shape"]
        shape = tuple(param.shape) if shape is None else shape
        state["step"] = 0
        state["v"] = torch.zeros(shape, dtype=dtype, device=param.device)
        state["b"] = torch.zeros(shape, dtype=dtype, device=param.device)
        if group["momentum"]:
            state["m"] = torch.zeros(param.shape, dtype=dtype, device=param.device)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        """One Amos step for every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            xi = group["lr"]  # a scheduler may have changed it
            if not _is_number(xi) or not xi >= 0:
                raise ValueError(f"lr must be a finite number >= 0, got {xi!r}")
            eta, beta = group["eta"], group["beta"]
            mom, clip = group["momentum"], group["clip_value"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise ValueError("Amos does not support sparse gradients")
                state = self.state[param]
                if not state:
                    state = self._init_state(param, group)
                v, b = state["v"], state["b"]
                theta = param.to(v.dtype)
                grad = param.grad.to(v.dtype)
                if clip is not None:
                    grad = grad.clamp(-clip, clip)
                state["step"] += 1
                count = state["step"]
                if v.dim() == 0:
                    g2 = grad.square().mean()
                else:
                    reduced = [i for i, n in enumerate(grad.shape) if v.shape[i] < n]
                    g2 = grad.square().mean(dim=reduced, keepdim=True) if reduced else grad.square()
                # A float32 gradient above ~1.8e19 squares to inf; 1 / v is then 0 and gamma's
                # 0 * inf is nan.  The second moment saturates at the largest finite value.
                big = torch.finfo(v.dtype).max
                g2 = g2.clamp_max(big)
                v.mul_(beta).add_(g2 * (1.0 - beta)).clamp_max_(big)
                rcpl_v_hat = (1.0 - beta**count) / v.clamp_min(group["epsilon"])
                decay_c = torch.rsqrt(1.0 + group["c_coef"] * math.sqrt(xi) * b)
                gamma = decay_c * xi**2 * rcpl_v_hat * g2
                init_lr = xi * eta
                decay_d = 1.0 / (1.0 + group["d_coef"] * math.sqrt(init_lr) * b)
                # d ((-gamma/2 - extra_l2) theta - init_lr sqrt(r) g) as theta * a + g * e with
                # slot-shaped a, e: two passes over the full tensor instead of four
                a = decay_d * (-0.5 * gamma - group["extra_l2"])
                e = decay_d * (-init_lr) * torch.sqrt(rcpl_v_hat)
                update = torch.addcmul(theta * a, grad, e)
                b.add_(gamma * (1.0 + b))
                if mom:
                    m = state["m"]
                    m.mul_(mom).add_(update, alpha=1.0 - mom)
                    update = m
                param.add_(update.to(param.dtype))
        return loss


def amos_param_groups(
    named_parameters: Iterable[tuple[str, torch.Tensor]],
    eta_fn: Callable[[str, torch.Size], float],
    slot_shape_fn: Callable[[str, torch.Size], tuple | None] | None = None,
    **options,
) -> list[dict]:
    """One param group per tensor, with ``eta`` and ``slot_shape`` from functions of (name, shape).

    The PyTorch counterpart of jestimator's ``eta_fn`` / ``shape_fn``.  Extra keyword options
    (``lr``, ``beta``, ...) are copied into every group.
    """
    if isinstance(named_parameters, (str, bytes)) or not isinstance(named_parameters, Iterable):
        raise TypeError(
            "named_parameters must yield (name, tensor) pairs (model.named_parameters()), "
            f"got {type(named_parameters).__name__}"
        )
    if not callable(eta_fn):
        raise TypeError(f"eta_fn must be a function of (name, shape), got {eta_fn!r}")
    if slot_shape_fn is not None and not callable(slot_shape_fn):
        raise TypeError(
            f"slot_shape_fn must be None or a function of (name, shape), got {slot_shape_fn!r}"
        )
    groups = []
    for item in named_parameters:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], torch.Tensor)
        ):
            raise TypeError(f"named_parameters must yield (name, tensor) pairs, got {item!r}")
        name, param = item
        if not param.requires_grad:
            continue
        eta = positive_float(f"eta_fn({name!r}, shape)", eta_fn(name, param.shape))
        group = {"params": [param], "eta": eta, **options}
        if slot_shape_fn is not None:
            group["slot_shape"] = check_slot_shape(
                slot_shape_fn(name, param.shape), param.shape, f"slot_shape_fn({name!r}, shape)"
            )
        groups.append(group)
    if not groups:
        raise ValueError("named_parameters yielded no trainable parameter")
    return groups


def linear_slot_shape(name: str, shape: torch.Size) -> tuple:
    """jestimator's saving in PyTorch layout: ``(out, 1)`` for a matrix, ``()`` otherwise."""
    shape = _shape("shape", shape)
    if len(shape) == 2:
        return (int(shape[0]), 1)
    return ()


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held by the tensors in ``optimizer.state`` (sum of ``numel * element_size``)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value):
                total += value.numel() * value.element_size()
    return total
