"""The claims ledger: every check can fail, states its numbers when it does, and is recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import sympy as sp

from deepnotes import claims
from deepnotes.book import claims_html, load_ledgers
from deepnotes.claims import ClaimFailed, claim

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_ledger(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPNOTES_CLAIMS_DIR", str(tmp_path))
    claims.chapter("99-test")
    yield tmp_path
    claims._state.update(chapter=None, claims={})


def test_tolerance_claim_passes_and_records(fresh_ledger):
    assert claim("flat", "the slope is flat", measured=0.02, expected=0.0, tol=0.1) == 0.02
    (c,) = claims.ledger()
    assert (c.id, c.chapter, c.kind, c.expected, c.tolerance) == (
        "flat",
        "99-test",
        "law",
        "0",
        "± 0.1",
    )
    assert c.margin == pytest.approx(0.8)
    data = json.loads((fresh_ledger / "99-test.json").read_text())
    assert data["claims"][0]["statement"] == "the slope is flat"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(measured=0.2, expected=0.0, tol=0.1),
        dict(measured=0.6, expected=0.5, rel=0.1),
        dict(measured=0.7, lower=0.8),
        dict(measured=1.2, upper=1.0),
        dict(measured=[0.5, 1.5], lower=0.0, upper=1.0),
        dict(measured=[0.0, 0.3], expected=0.0, tol=0.1),
    ],
)
def test_a_claim_that_does_not_hold_fails_with_its_numbers(kwargs):
    with pytest.raises(ClaimFailed) as err:
        claim("bad", "a claim that is false", **kwargs)
    message = str(err.value)
    assert "'bad'" in message and "a claim that is false" in message and "measured" in message
    assert claims.ledger() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(measured=float("nan"), expected=0.0, tol=0.1),
        dict(measured=[0.0, float("nan")], expected=0.0, tol=0.1),
        dict(measured=float("nan"), lower=0.0),
        dict(measured=np.array([1.0, np.nan]), lower=0.0, upper=2.0),
        dict(measured=1.0, expected=float("nan"), tol=0.1),
    ],
)
def test_nan_never_passes(kwargs):
    with pytest.raises(ClaimFailed):
        claim("nan", "NaN must not pass", **kwargs)


def test_identity_claims():
    x = sp.symbols("x")
    assert claim("pythagoras", "sin^2 + cos^2 = 1", identity=sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)
    claim("eq", "an equation", identity=sp.Eq(2 * x, x + x))
    with pytest.raises(ClaimFailed):
        claim("wrong", "a false identity", identity=sp.sin(x) ** 2 - 1)
    with pytest.raises(ClaimFailed):
        claim("false", "a false boolean", identity=False)
    assert [c.kind for c in claims.ledger()] == ["identity", "identity"]


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(measured=0.1, expected=0.1, tol=0.0), "exact"),
        (dict(measured=1.0, expected=1.0, tol=float("inf")), "tol"),
        (dict(measured=1.0, expected=1.0, rel=-0.1), "rel"),
        (dict(measured=1.0, expected=1.0), "tol"),
        (dict(measured=1.0, expected=1.0, tol=0.1, rel=0.1), "tol"),
        (dict(measured=1.0), "expected"),
        (dict(measured=1.0, lower=2.0, upper=1.0), "lower"),
        (dict(measured=1.0, expected=1.0, tol=0.1, kind="guess"), "kind"),
        (dict(measured="abc", expected=1.0, tol=0.1), "measured"),
        (dict(measured=[1.0, 2.0], expected=[1.0, 2.0, 3.0], tol=0.1), "shape"),
        (dict(identity="yes"), "identity"),
    ],
)
def test_malformed_claims_are_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        claim("malformed", "a malformed claim", **kwargs)


def test_exact_numbers_may_use_zero_tolerance():
    claim("count", "three layers", measured=3, expected=3, tol=0)
    claim("bytes", "a byte count", measured=5357672, expected=5357672, tol=0)
    assert claims.ledger()[-1].measured == "5357672"  # shown whole, not as 5.36e+06
    claim("half", "one half", measured=sp.Rational(1, 2), expected=sp.Rational(1, 2), tol=0)


def test_ids_and_chapters_are_checked():
    with pytest.raises(ValueError, match="id"):
        claim("Not An Id", "x", measured=1.0, expected=1.0, tol=0.1)
    with pytest.raises(ValueError, match="name"):
        claims.chapter("deepnet")
    claim("once", "first", measured=1.0, expected=1.0, tol=0.1)
    with pytest.raises(ValueError, match="duplicate"):
        claim("once", "a different claim with the same id", measured=1.0, expected=1.0, tol=0.1)
    with pytest.raises(ValueError, match="duplicate"):
        claim("once", "first", measured=1.0, expected=1.0, tol=0.1)  # same cell, same id


def test_no_chapter_is_an_error():
    claims._state.update(chapter=None, claims={})
    with pytest.raises(ValueError, match="chapter"):
        claim("orphan", "no chapter", measured=1.0, expected=1.0, tol=0.1)


def test_margins():
    claim("centre", "dead centre", measured=1.0, expected=1.0, tol=0.5)
    claim("edge", "on the edge", measured=1.5, expected=1.0, tol=0.5)
    claim("interval", "inside", measured=0.75, lower=0.5, upper=1.0)
    claim("bound", "above", measured=2.0, lower=1.0)
    margins = {c.id: c.margin for c in claims.ledger()}
    assert margins == {"centre": 1.0, "edge": 0.0, "interval": 1.0, "bound": 1.0}


def test_appendix_html_lists_every_claim(fresh_ledger):
    claim("a", "first claim", measured=0.0, expected=0.0, tol=0.1, kind="slope")
    claim("b", "second claim", measured=0.09, expected=0.0, tol=0.1)
    ledgers = load_ledgers(fresh_ledger)
    page = claims_html(ledgers, lambda ch, cid: f"{ch}.html#claim-{cid}", {"99-test": "Test"})
    # each claim in its chapter's table and among the ten closest to failing, b (10%) before a
    assert page.count('href="99-test.html#claim-a"') == 2
    assert page.count('href="99-test.html#claim-b"') == 2
    closest = page.split("closest-to-failing")[1]
    assert closest.index("claim-b") < closest.index("claim-a")
    assert "2 claims in 1 chapter," in page


def _notebook_with(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            'import deepnotes as dn\nfrom deepnotes.claims import claim\ndn.claims.chapter("99-broken")'
        ),
        nbformat.v4.new_code_cell(source),
    ]
    return nb


def test_a_broken_claim_fails_nbval_and_names_itself(tmp_path):
    path = tmp_path / "broken.ipynb"
    nbformat.write(
        _notebook_with(
            'claim("deliberately-broken", "two plus two is five", '
            "measured=2 + 2, expected=5, tol=0.5)"
        ),
        path,
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(path),
            "-p",
            "no:cacheprovider",
            "-q",
            "--rootdir",
            str(tmp_path),
            "--nbval-lax",
            "--nbval-current-env",
            "-c",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "deliberately-broken" in proc.stdout and "two plus two is five" in proc.stdout, (
        proc.stdout[-3000:]
    )


def test_symbolic_badges_say_holds_whatever_the_kind():
    """A closed form checked with identity= shows "holds symbolically", not a measured value."""
    from deepnotes.claims import _badge_html

    x = sp.Symbol("x")
    claim(
        "closed",
        "a derived closed form",
        identity=sp.expand((x + 1) ** 2) - (x**2 + 2 * x + 1),
        kind="closed-form",
    )
    (c,) = claims.ledger()
    assert "holds symbolically" in _badge_html(c) and "measured" not in _badge_html(c)
