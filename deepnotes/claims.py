"""The claims ledger: every subject claim a chapter makes is checked by :func:`claim`.

A chapter's assertion cells call :func:`claim` instead of a bare ``assert``
wherever the claim is about the subject (a closed form, a fitted slope, an
equivalence with a reference implementation, a measured law). Plumbing checks
(shapes, grid completeness) may stay bare.

Each call

* checks the claim and, when it fails, raises :class:`ClaimFailed` with the
  statement, the measured and expected values and the tolerance;
* records it (id, chapter, statement, kind, measured, expected, tolerance,
  margin) for the appendix "What this book checks";
* glues the measured value under the claim's id, so prose can cite it as
  ``{glue:text}`su-sgd-flat```;
* shows a one-line badge with an anchor (``#claim-<id>``), which the appendix
  links to.

The forms::

    claim("su-sgd-flat", "...", measured=slope, expected=0.0, tol=0.1)   # |m - e| <= tol
    claim("ratio", "...", measured=r, expected=0.5, rel=0.1)            # |m - e| <= rel |e|
    claim("post-ln-grows", "...", measured=s, lower=0.8)                 # m >= lower (upper too)
    claim("adam-sign", "...", identity=sp.simplify(lhs - rhs))          # a SymPy identity: == 0 or True

``measured`` may be an array: every entry must pass, and the worst one is
reported.  A NaN never passes.  The margin is how far the claim sits from
failing, as a fraction of its allowance (1 is dead centre, 0 is on the edge).

During a book build (:mod:`deepnotes.book` sets ``DEEPNOTES_CLAIMS_DIR``) the
ledger of each chapter is written to ``<dir>/<chapter>.json``; elsewhere it is
kept in memory only.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = ["KINDS", "Claim", "ClaimFailed", "chapter", "claim", "ledger"]

#: What a claim can be.  ``identity``: a symbolic identity (SymPy proves it);
#: ``closed-form``: a derived expression equals a stated value; ``slope``: a
#: fitted exponent; ``reference``: our code equals another implementation;
#: ``law``: any other measured law or bound.
KINDS = ("identity", "closed-form", "slope", "reference", "law")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CHAPTER = re.compile(r"^[0-9]{2}-[a-z0-9-]+$")


class ClaimFailed(AssertionError):
    """A claim did not hold; the message states the claim and the numbers."""


@dataclass
class Claim:
    """One checked claim, as the ledger records it."""

    id: str
    chapter: str
    statement: str
    kind: str
    measured: object
    expected: object
    tolerance: str
    margin: float | None
    passed: bool
    cell: int | None = None
    volatile: bool = False


_state: dict = {"chapter": None, "claims": {}}


def chapter(name: str) -> None:
    """Name the chapter whose claims follow (the notebook's file stem, e.g. ``"01-deepnet"``).

    Call it once in the first code cell.  It starts a fresh ledger.
    """
    if not isinstance(name, str) or not _CHAPTER.match(name):
        raise ValueError(f"name must be a chapter file stem like '01-deepnet', got {name!r}")
    _state["chapter"] = name
    _state["claims"] = {}


def ledger() -> list[Claim]:
    """The claims recorded since :func:`chapter`, in the order they were checked."""
    return list(_state["claims"].values())


# --------------------------------------------------------------------------- checking


def _is_exact(value) -> bool:
    import fractions

    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer, fractions.Fraction)):
        return True
    try:
        import sympy as sp
    except ImportError:  # pragma: no cover - sympy is a dependency
        return False
    return isinstance(value, sp.Rational)


def _number(name: str, value) -> float:
    if isinstance(value, (str, bytes, bool, np.bool_)):  # float("1") would accept a string
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None


def _array(name: str, value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    try:
        texts = isinstance(value, (str, bytes)) or np.asarray(value).dtype.kind in "USV"
    except ValueError:  # a ragged list: the conversion below names the argument
        texts = False
    if texts:  # float("1") would accept a string
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    return arr


def _identity_holds(identity) -> bool:
    import sympy as sp

    if isinstance(identity, (bool, np.bool_)):
        return bool(identity)
    if isinstance(identity, sp.logic.boolalg.Boolean):
        return identity is sp.true
    if isinstance(identity, sp.Basic):
        return sp.simplify(identity) == 0
    raise ValueError(
        f"identity must be a bool, a SymPy boolean or a SymPy expression that should be 0, got {identity!r}"
    )


def _fmt(value, fmt: str) -> str:
    if isinstance(value, str):
        return value
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return format(float(arr), fmt)
    shown = ", ".join(format(float(v), fmt) for v in arr.ravel()[:8])
    return f"[{shown}{', ...' if arr.size > 8 else ''}]"


def _check_band(measured, expected, tol, rel, lower, upper, fmt):
    """(passed, worst measured, expected text, tolerance text, margin)."""
    m = _array("measured", measured)
    if expected is not None:
        if lower is not None or upper is not None:
            raise ValueError(
                "give either expected (with tol or rel) or lower/upper bounds, not both"
            )
        if (tol is None) == (rel is None):
            raise ValueError("expected needs exactly one of tol (absolute) or rel (relative)")
        e = _array("expected", expected)
        try:
            np.broadcast_shapes(m.shape, e.shape)
        except ValueError:
            raise ValueError(
                f"expected has shape {e.shape}, which does not match measured's {m.shape}"
            ) from None
        bound = tol if tol is not None else rel
        bound_name = "tol" if tol is not None else "rel"
        b = _number(bound_name, bound)
        if not math.isfinite(b) or b < 0:
            raise ValueError(f"{bound_name} must be a finite number >= 0, got {bound!r}")
        if b == 0 and not (_is_exact(measured) and _is_exact(expected)):
            raise ValueError(
                f"{bound_name}=0 asks for exact equality; it is only allowed between exact numbers "
                "(int, Fraction, SymPy Rational). Give a float tolerance, or use identity= for a symbolic check"
            )
        allowance = np.broadcast_to(
            b * (np.abs(e) if rel is not None else 1.0), np.broadcast_shapes(m.shape, e.shape)
        )
        err = np.abs(m - e)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(allowance > 0, err / allowance, np.where(err == 0, 0.0, np.inf))
        frac = np.where(np.isnan(err), np.inf, frac)
        worst = int(np.argmax(frac))
        passed = bool(np.all(err <= allowance)) and not np.isnan(err).any()
        margin = None if b == 0 else float(1.0 - np.ravel(frac)[worst])
        m_worst = np.ravel(np.broadcast_to(m, frac.shape))[worst]
        e_worst = np.ravel(np.broadcast_to(e, frac.shape))[worst]
        tol_text = f"± {format(b, 'g')}" if tol is not None else f"± {format(100 * b, 'g')}%"
        shown_m = m_worst if m.size > 1 else m.item()
        return passed, shown_m, _fmt(e_worst if e.size > 1 else e.item(), fmt), tol_text, margin
    if lower is None and upper is None:
        raise ValueError(
            "give expected with tol or rel, or a lower and/or upper bound, or identity"
        )
    if tol is not None or rel is not None:
        raise ValueError("tol and rel go with expected, not with lower/upper bounds")
    lo = -math.inf if lower is None else _number("lower", lower)
    hi = math.inf if upper is None else _number("upper", upper)
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise ValueError(f"lower must be <= upper, got lower={lower!r}, upper={upper!r}")
    passed = bool(np.all((m >= lo) & (m <= hi)))
    if math.isfinite(lo) and math.isfinite(hi):
        half = (hi - lo) / 2 or 1.0
        slack = np.minimum(m - lo, hi - m) / half
        text_e, text_t = f"[{format(lo, 'g')}, {format(hi, 'g')}]", "interval"
    else:
        b = lo if math.isfinite(lo) else hi
        scale = abs(b) if b != 0 else 1.0
        slack = ((m - lo) if math.isfinite(lo) else (hi - m)) / scale
        text_e = f"≥ {format(lo, 'g')}" if math.isfinite(lo) else f"≤ {format(hi, 'g')}"
        text_t = "bound"
    slack = np.where(np.isnan(slack), -np.inf, slack)
    worst = int(np.argmin(slack))
    margin = float(np.ravel(slack)[worst])
    if not math.isfinite(margin):
        margin = None
    elif math.isfinite(lo) and math.isfinite(hi):
        margin = min(margin, 1.0)
    shown_m = np.ravel(m)[worst] if m.size > 1 else m.item()
    return passed, shown_m, text_e, text_t, margin


def _cell_number() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return None
    shell = get_ipython()
    return None if shell is None else getattr(shell, "execution_count", None)


def claim(
    id: str,
    statement: str,
    *,
    measured=None,
    expected=None,
    tol: float | None = None,
    rel: float | None = None,
    lower: float | None = None,
    upper: float | None = None,
    identity=None,
    kind: str | None = None,
    fmt: str = ".3g",
    show: bool = True,
    volatile: bool = False,
):
    """Check a claim, record it in the ledger, glue its measured value and show a badge.

    Pass ``identity`` for a symbolic claim (a SymPy expression that simplifies
    to 0, or a boolean), or ``measured`` with either ``expected`` and one of
    ``tol``/``rel``, or ``lower``/``upper`` bounds.  ``kind`` is one of
    :data:`KINDS`; it defaults to ``identity`` for identities and ``law``
    otherwise.  ``volatile=True`` marks a claim on a wall-clock measurement,
    whose number changes between runs (the determinism test skips its value,
    not its verdict).  Returns the measured value (or ``True`` for an identity).
    Raises :class:`ClaimFailed` when the claim does not hold, and
    ``ValueError`` for a malformed call (an unknown kind, a zero tolerance on
    floats, a duplicate id).
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(
            f"id must be lower-case words joined by '-', like 'su-sgd-flat', got {id!r}"
        )
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError(f"statement must be a non-empty sentence, got {statement!r}")
    if _state["chapter"] is None:
        raise ValueError(
            "no chapter named: call deepnotes.claims.chapter('NN-name') in the first cell"
        )
    if kind is None:
        kind = "identity" if identity is not None else "law"
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    try:
        format(0.5, fmt)
        if not isinstance(fmt, str):
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError(f"fmt must be a format spec such as '.3g', got {fmt!r}") from None
    cell = _cell_number()
    previous = _state["claims"].get(id)
    if previous is not None and (previous.statement != statement or previous.cell == cell):
        raise ValueError(f"duplicate claim id {id!r} in chapter {_state['chapter']}")

    if identity is not None:
        if measured is not None or expected is not None or lower is not None or upper is not None:
            raise ValueError(
                "identity is checked on its own: do not pass measured/expected/bounds with it"
            )
        passed = _identity_holds(identity)
        shown_m, text_e, text_t, margin, value = (
            ("holds" if passed else "fails"),
            "0",
            "exact",
            None,
            True,
        )
    else:
        if measured is None:
            raise ValueError("measured is required unless identity is given")
        passed, worst, text_e, text_t, margin = _check_band(
            measured, expected, tol, rel, lower, upper, fmt
        )
        shown_m, value = _fmt(worst, fmt), measured
        if _is_exact(measured):  # an exact count is shown whole, not rounded by fmt
            shown_m = str(measured)

    record = Claim(
        id=id,
        chapter=_state["chapter"],
        statement=statement.strip(),
        kind=kind,
        measured=shown_m,
        expected=text_e,
        tolerance=text_t,
        margin=None if margin is None else round(margin, 4),
        passed=passed,
        cell=cell,
        volatile=bool(volatile),
    )
    if not passed:
        raise ClaimFailed(
            f"claim {id!r} failed: {record.statement} -- measured {shown_m}, expected {text_e} ({text_t})"
        )
    _state["claims"][id] = record
    _write_ledger()
    if identity is None:
        from .notebook import glue

        glue(id, shown_m, volatile=volatile)
    if show:
        _display(record)
    return value


# --------------------------------------------------------------------------- output


def _badge_html(c: Claim) -> str:
    if c.tolerance == "exact":  # checked with identity= (kind identity or closed-form)
        numbers = "holds symbolically"
    else:
        numbers = f"measured {c.measured}, expected {c.expected}"
        if c.tolerance not in ("bound", "interval"):
            numbers += f" {c.tolerance}"
    margin = "" if c.margin is None else f"; margin {100 * c.margin:.0f}%"
    return (
        f'<div class="deepnotes-claim" id="claim-{c.id}">'
        f'<span class="deepnotes-claim-mark" aria-label="checked">✓</span> '
        f"<strong>{html.escape(c.statement)}</strong> "
        f'<span class="deepnotes-claim-numbers">({html.escape(numbers)}{margin}; '
        f"<code>{c.id}</code>)</span></div>"
    )


def _display(c: Claim) -> None:
    try:
        from IPython.display import HTML, display
    except ImportError:  # pragma: no cover
        return
    plain = f"checked {c.id}: {c.statement} ({c.measured}; expected {c.expected} {c.tolerance})"

    class _Badge(HTML):
        def __repr__(self) -> str:
            return plain

    display(_Badge(_badge_html(c)))


def _write_ledger() -> None:
    folder = os.environ.get("DEEPNOTES_CLAIMS_DIR")
    if not folder or _state["chapter"] is None:
        return
    path = Path(folder) / f"{_state['chapter']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [asdict(c) for c in _state["claims"].values()]
    path.write_text(
        json.dumps({"chapter": _state["chapter"], "claims": rows}, indent=1), encoding="utf-8"
    )
