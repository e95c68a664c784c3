"""The Performance appendix (chapters/performance.md): every committed benchmark result is
complete, and the page shows each of its targets (``deepnotes.book.benchmarks_html``)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from deepnotes.book import benchmarks_html, load_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted((ROOT / "benchmarks" / "results").glob("*.json"))


def _result(name="tiny", device="cpu", targets=None, rows=None) -> dict:
    machine = {"date": "2026-01-01T00:00:00Z", "device": device, "cpu": "Test CPU", "cores": 2}
    machine |= {"torch": "2.99", "python": "3.11", "commit": "abc1234", "torch_threads": 1}
    return {
        "benchmark": name,
        "machine": machine,
        "params": {"repeats": 3, "sizes": [1, 2], "nested": {"a": 1}},
        "notes": "What is measured & why.",
        "targets": targets if targets is not None else [],
        "rows": rows if rows is not None else [],
    }


def _target(name, measured, threshold, better="lower", unit=" s"):
    met = measured <= threshold if better == "lower" else measured >= threshold
    return {"target": name, "measured": measured, "threshold": threshold, "better": better,
            "unit": unit, "met": met}  # fmt: skip


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_committed_result_is_complete(path):
    data = json.loads(path.read_text())
    assert f"{data['benchmark']}-{data['machine']['device']}.json" == path.name
    for key in ("date", "torch", "cpu", "cores", "commit"):
        assert data["machine"].get(key), f"{path.name}: machine has no {key}"
    assert data["rows"], f"{path.name}: no rows"
    for t in data["targets"]:
        sign = 1 if t["better"] == "lower" else -1
        assert t["met"] == (sign * (t["measured"] - t["threshold"]) <= 0), (path.name, t)
    load_results(path.parent)  # the page's own checks


@pytest.mark.parametrize("path", RESULTS, ids=[p.name for p in RESULTS])
def test_page_shows_every_target_of_a_committed_result(path):
    data = json.loads(path.read_text())
    page = benchmarks_html([data])
    for t in data["targets"]:
        assert html.escape(str(t["target"])) in page, t["target"]
    missed = sum(not t["met"] for t in data["targets"])
    assert page.count("deepnotes-bench-missed'>missed") == missed


def test_render_shows_targets_rows_machine_and_formats_numbers():
    results = [
        _result(
            "book",
            targets=[
                _target("chapter <= 60 s", 75.0, 60.0),
                _target("speed-up", 3.0, 2.0, "higher", "x"),
            ],
            rows=[
                {
                    "chapter": "00-toolbox",
                    "seconds": 3.14159,
                    "bytes": 123456.7,
                    "tiny": 0.000123,
                    "ok": True,
                    "missing": None,
                    "figures": [{"id": "a"}],
                }
            ],
        ),  # fmt: skip
        _result("site", device="cuda"),
    ]
    page = benchmarks_html(results)
    assert "2 results; 1 of 2 targets met." in page
    assert "chapter &lt;= 60 s" in page and "speed-up" in page
    assert page.count("deepnotes-bench-missed'>missed") == 1
    assert "≤ 60 s" in page and "≥ 2x" in page
    assert "Test CPU, 2 cores" in page and "torch 2.99" in page and "commit abc1234" in page
    assert ">3.142<" in page and ">123,457<" in page and ">1.230e-04<" in page
    assert ">yes<" in page and ">—<" in page
    assert "<th>figures</th>" not in page and "also holds, per row: figures" in page
    assert "What is measured &amp; why." in page
    assert "repeats = 3" in page and "sizes = [1, 2]" in page and "nested" not in page
    assert "No targets" in page  # the second result has none
    assert page.index("id='perf-book-cpu'") < page.index("id='perf-site-cuda'")


def test_no_results_says_so():
    assert "No benchmark results are committed yet" in benchmarks_html([])


def test_load_results_orders_and_refuses_incomplete_files(tmp_path):
    for name, device in [
        ("site", "cpu"),
        ("vq_attention", "cuda"),
        ("vq_attention", "cpu"),
        ("book", "cpu"),
    ]:
        (tmp_path / f"{name}-{device}.json").write_text(json.dumps(_result(name, device)))
    order = [(r["benchmark"], r["machine"]["device"]) for r in load_results(tmp_path)]
    assert order == [
        ("book", "cpu"),
        ("vq_attention", "cpu"),
        ("vq_attention", "cuda"),
        ("site", "cpu"),
    ]
    broken = _result("amos_step")
    del broken["machine"]["torch"]
    (tmp_path / "amos_step-cpu.json").write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"amos_step-cpu.json.*machine\['torch'\]"):
        load_results(tmp_path)


def test_performance_page_is_in_the_book_and_in_make_page():
    assert "```{deepnotes-benchmarks}" in (ROOT / "chapters" / "performance.md").read_text()
    assert "file: chapters/performance" in (ROOT / "_toc.yml").read_text()
    assert r"- file: chapters/performance\n" in (ROOT / "Makefile").read_text()
