"""Argument checks shared by the numerical modules: each error names the argument and what was expected."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "integral",
    "positive_int",
    "positive_float",
    "real",
    "one_of",
    "tensor",
    "generator",
    "float_dtype",
    "real_array",
    "boolean",
]


def integral(name: str, value) -> int:
    """``int(value)`` if ``value`` is an integral number, else ``ValueError`` naming ``name``.

    The one rule every ``deepnotes`` function uses for counts (depths, widths,
    steps): Python and NumPy integers are accepted, and so are floats with an
    integral value (``4.0``, as depths read from an array are); bools,
    non-integral or non-finite floats, strings and ``None`` are rejected.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if not math.isfinite(float(value)) or float(value) != int(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def positive_int(name: str, value) -> int:
    """``value`` as an ``int`` if it is an integral number >= 1 (see :func:`integral`), else
    ``ValueError`` naming ``name``."""
    try:
        n = integral(name, value)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return n


def positive_float(name: str, value) -> float:
    """``float(value)`` if it is a finite number > 0, else ``ValueError`` naming ``name``.

    Strings and bools are not numbers here (``float("1")`` would accept one)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def real(name: str, value, lo: float = -math.inf, hi: float = math.inf, closed=True) -> float:
    """``float(value)`` if it is a finite real number in ``[lo, hi]`` (``(lo, hi)`` with
    ``closed=False``), else ``ValueError`` naming ``name``.  Strings and bools are refused."""
    where = f"[{lo}, {hi}]" if closed else f"({lo}, {hi})"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number in {where}, got {value!r}")
    v = float(value)
    inside = lo <= v <= hi if closed else lo < v < hi
    if not math.isfinite(v) or not inside:
        raise ValueError(f"{name} must be a finite number in {where}, got {value!r}")
    return v


def one_of(name: str, value, allowed) -> object:
    """``value`` if it is one of ``allowed``, else ``ValueError`` naming ``name`` and the choices."""
    try:
        ok = value in tuple(allowed)
    except TypeError:  # an unhashable or incomparable value
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(map(repr, allowed))}, got {value!r}")
    return value


def tensor(name: str, x, ndim=None, *, shape=None, floating: bool = True, finite: bool = True):
    """``x`` if it is a ``torch.Tensor`` as described, else ``TypeError``/``ValueError`` naming
    ``name``.

    ``ndim``: an int or a tuple of allowed ranks; ``shape``: a tuple with ``None`` for any size
    (checked from the right for rank-polymorphic inputs when ``ndim`` is not given);
    ``floating``: a real or complex floating dtype is required; ``finite``: no NaN or infinity.
    The finiteness check reads every element once (cheap next to the work on it).
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in ranks:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, ranks))} dimensions, got "
                f"shape {tuple(x.shape)}"
            )
    if shape is not None:
        tail = tuple(x.shape[len(x.shape) - len(shape) :]) if x.ndim >= len(shape) else None
        if tail is None or any(s is not None and s != t for s, t in zip(shape, tail, strict=True)):
            want = tuple("*" if s is None else s for s in shape)
            raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if floating and not (x.is_floating_point() or x.is_complex()):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if finite and (x.is_floating_point() or x.is_complex()) and x.device.type != "meta":
        # NaN propagates to both ends of aminmax and an infinity is one of them: two reductions
        # instead of a full boolean copy (about 20 times faster on CPU)
        ends = torch.stack(torch.aminmax(x.detach())) if x.is_floating_point() and x.numel() else x
        if not bool(torch.isfinite(ends).all()):
            raise ValueError(f"{name} must be finite, got a tensor with NaN or infinity")
    return x


def generator(name: str, value):
    """``value`` if it is ``None`` or a ``torch.Generator``, else ``TypeError`` naming ``name``."""
    import torch

    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(value).__name__}")
    return value


def float_dtype(name: str, value):
    """``value`` if it is a floating ``torch.dtype``, else ``TypeError`` naming ``name``."""
    import torch

    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype, got {value!r}")
    return value


def real_array(name: str, value, ndim=None, *, finite: bool = True) -> np.ndarray:
    """``value`` as a float64 NumPy array if it holds real numbers (a number, a sequence, an
    array or a tensor), else ``ValueError`` naming ``name``.  Strings and bools are refused;
    ``ndim`` (an int or a tuple of ints) is the allowed rank; ``finite``: no NaN or infinity."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    raw = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if raw.dtype.kind in "USb" or any(
        isinstance(v, (str, bytes, bool, np.bool_)) for v in np.ravel(raw)[:10_000]
    ):
        raise ValueError(f"{name} must hold real numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold real numbers, got {value!r}") from None
    if ndim is not None:
        ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in ranks:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, ranks))} dimensions, got shape {arr.shape}"
            )
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.ravel()[:8].tolist()}")
    return arr


def boolean(name: str, value) -> bool:
    """``value`` if it is a bool (Python or NumPy), else ``TypeError`` naming ``name``: a flag
    given as ``"yes"``, ``1`` or ``None`` is refused rather than read by its truth value."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def nonempty_list(name: str, values) -> list:
    """A non-empty list from a list, tuple or array (a bare string or number is an error)."""
    from collections.abc import Iterable, Mapping

    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a non-empty list, got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must be a non-empty list, got []")
    return values
