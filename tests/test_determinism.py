"""Executing a chapter twice on the CPU gives the same claims and the same glued numbers.

The suite executes every chapter twice anyway: once under nbval (``chapters/*.ipynb``, whose
ledger the root ``conftest.py`` directs to ``_build/claims-nbval``) and once in the book build
(``_build/claims``).  This test, which the root conftest orders after nbval, compares the two.
Numbers marked ``volatile`` (wall-clock times) are compared by verdict only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.book
ROOT = Path(__file__).resolve().parents[1]
NBVAL = ROOT / "_build" / "claims-nbval"


def _load(folder: Path, chapter: str):
    ledger = json.loads((folder / f"{chapter}.json").read_text(encoding="utf-8"))["claims"]
    glue = json.loads((folder / "glue" / f"{chapter}.json").read_text(encoding="utf-8"))
    marks = folder / "glue" / f"{chapter}.volatile.json"
    volatile = set(json.loads(marks.read_text(encoding="utf-8"))) if marks.exists() else set()
    return ledger, glue, volatile


@pytest.mark.parametrize("chapter", sorted(p.stem for p in (ROOT / "chapters").glob("*.ipynb")))
def test_two_executions_agree(chapter, built_book):
    if not (NBVAL / f"{chapter}.json").exists():
        pytest.fail(
            f"no nbval ledger for {chapter} in {NBVAL}: run the full suite (pytest with no paths), "
            "which executes chapters/ under nbval before this test"
        )
    a_claims, a_glue, a_vol = _load(NBVAL, chapter)
    b_claims, b_glue, b_vol = _load(built_book.parent / "claims", chapter)
    assert [c["id"] for c in a_claims] == [c["id"] for c in b_claims]
    volatile = a_vol | b_vol
    differ = [
        f"claim {x['id']}: {x['measured']} vs {y['measured']}"
        for x, y in zip(a_claims, b_claims, strict=True)
        if not x.get("volatile") and x["measured"] != y["measured"]
    ]
    differ += [
        f"glue {k}: {a_glue[k]} vs {b_glue.get(k)}"
        for k in a_glue
        if k not in volatile and a_glue[k] != b_glue.get(k)
    ]
    assert set(a_glue) == set(b_glue), sorted(set(a_glue) ^ set(b_glue))
    assert not differ, f"{chapter}: two executions differ:\n  " + "\n  ".join(differ)
