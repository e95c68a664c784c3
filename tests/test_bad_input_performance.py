"""Bad input to the Performance appendix's loader and renderer (``deepnotes.book``).

See ``tests/badinput.py`` for the harness; ``tests/test_performance.py`` checks what they show.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from badinput import NOT_A_NUMBER, Spec, make_tests
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


def _result() -> dict:
    machine = {"date": "2026-01-01T00:00:00Z", "device": "cpu", "cpu": "x", "cores": 2}
    machine |= {"torch": "2", "python": "3.11", "commit": "abc1234"}
    target = {"target": "t", "measured": 1.0, "threshold": 2.0, "better": "lower", "unit": " s"}
    return {
        "benchmark": "tiny",
        "machine": machine,
        "params": {},
        "notes": "n",
        "targets": [{**target, "met": True}],
        "rows": [{"n": 1, "seconds": 0.5}],
    }


def _folder(payload: str | None = None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="deepnotes-badinput-results-"))
    (folder / "tiny-cpu.json").write_text(payload or json.dumps(_result()))
    return folder


SPECS = [
    Spec(
        "deepnotes.book.load_results",
        lambda: {"folder": _folder()},
        {
            "folder": st.one_of(
                st.sampled_from([None, 1, b"benchmarks", ["benchmarks"], "/no/such/folder"]),
                st.just(ROOT / "_toc.yml"),  # a file, not a folder
                st.builds(lambda: _folder("{not json")),
                st.builds(lambda: _folder(json.dumps({"benchmark": "tiny"}))),  # keys missing
            )
        },
        finite=False,
    ),
    Spec(
        "deepnotes.book.benchmarks_html",
        lambda: {"results": [_result()]},
        {
            "results": st.one_of(
                NOT_A_NUMBER, st.just(_result()), st.just([{"benchmark": "tiny", "rows": []}])
            )
        },
        finite=False,
    ),
]

test_valid_call, test_bad_input = make_tests(SPECS)
