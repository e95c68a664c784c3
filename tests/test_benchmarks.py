"""The benchmark tooling (benchmarks/): the make test breakdown, page weights, the chapter
runner and the GPU check's refusal without CUDA.  No timing is asserted here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _case(classname, name, seconds):
    return f'<testcase classname="{classname}" name="{name}" time="{seconds}" />'


def test_suite_breakdown_from_junit(tmp_path):
    suite = _load("suite")
    cases = [
        _case("tests.test_core", "test_a", 1.0),
        _case("tests.test_core", "test_b", 2.0),
        *(_case("chapters.00-toolbox.ipynb", f"Cell {i}", 5.0) for i in range(4)),
        *(_case("chapters.01-deepnet.ipynb", f"Cell {i}", 10.0) for i in range(3)),
        _case("tests.test_book", "test_index", 101.0),  # carries the book build
        _case("tests.test_book", "test_math", 1.0),
        _case("tests.test_book", "test_bundle", 1.0),
        _case("tests.test_browser", "test_page", 7.0),
        _case("tests.test_determinism", "test_same", 0.5),
    ]
    xml = tmp_path / "junit.xml"
    xml.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" errors="0" failures="0" '
        f'skipped="0" tests="{len(cases)}" time="170.0">{"".join(cases)}</testsuite></testsuites>'
    )
    found, totals = suite.read_junit(xml)
    rows, fig = suite.breakdown(found, totals, install_seconds=37.5)
    part = {r["part"]: r for r in rows}
    assert part["unit tests"]["seconds"] == 3.0 and part["unit tests"]["tests"] == 2
    assert part["nbval"]["seconds"] == 50.0 and part["nbval"]["tests"] == 7
    assert part["nbval 01-deepnet"]["seconds"] == 30.0
    assert part["book build"]["seconds"] == 100.0  # 101 s less the file's median 1 s
    assert part["book, browser and site checks"]["seconds"] == 10.0
    assert part["determinism"]["seconds"] == 0.5
    assert part["collection and other"]["seconds"] == pytest.approx(170.0 - 163.5)
    assert fig["total_seconds"] == 207.5 and part["make test"]["seconds"] == 207.5
    assert sum(part[p]["percent"] for p in suite.PARTS) == pytest.approx(100.0)
    assert fig["double_execution_share"] == pytest.approx(50.0 / 207.5)
    rows, fig = suite.breakdown(found, totals, install_seconds=37.5, make_seconds=180.0)
    other = {r["part"]: r for r in rows}["collection and other"]["seconds"]
    assert fig["total_seconds"] == 217.5 and other == pytest.approx(6.5 + 10.0)
    with pytest.raises(ValueError, match="no <testsuite>"):
        (tmp_path / "bad.xml").write_text("<nothing/>")
        suite.read_junit(tmp_path / "bad.xml")


def test_site_weights_separate_page_assets_from_the_shared_bundle(tmp_path):
    site = _load("site")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_static" / "fonts").mkdir(parents=True)
    (tmp_path / "_images").mkdir()
    (tmp_path / "index.html").write_text("<meta http-equiv='refresh' content='0; chapters/a.html'>")
    (tmp_path / "searchindex.js").write_text("x" * 100)
    (tmp_path / "_static" / "theme.js").write_text("y" * 2048)
    (tmp_path / "_static" / "deepnotes-vega.js").write_text("v" * 4096)
    (tmp_path / "_static" / "theme.css").write_text(
        "@font-face{src:url(fonts/f.woff2),url(fonts/f.ttf)}"
    )
    (tmp_path / "_static" / "fonts" / "f.woff2").write_bytes(b"w" * 512)
    (tmp_path / "_static" / "fonts" / "f.ttf").write_bytes(b"t" * 9999)
    (tmp_path / "_images" / "fig.png").write_bytes(b"p" * 1024)
    common = (
        '<link rel="stylesheet" href="../_static/theme.css"><script src="../_static/theme.js">'
        '</script><script src="../searchindex.js"></script><link rel="next" href="b.html">'
        '<script src="https://example.org/x.js"></script>'
    )
    (tmp_path / "chapters" / "a.html").write_text(
        common + '<img src="../_images/fig.png"><script type="module" '
        'src="../_static/deepnotes-vega.js"></script>'
    )
    (tmp_path / "chapters" / "b.html").write_text(common)
    rows, totals = site.measure(tmp_path)
    by = {(r["kind"], r["name"]): r for r in rows}
    a = by[("page", "a")]
    assert a["files"] == 2 and a["assets_kib"] == 1.0  # the PNG; the bundle is shared
    assert by[("page", "b")]["assets_kib"] == 0
    assert by[("shared", "Vega bundle (pages with an interactive figure)")]["kib"] == 4.0
    everything = by[("shared", "all shared files")]
    assert everything["files"] == 5  # css, woff2 (not the ttf), theme.js, vega, search index
    assert totals["shared_script_kib"] == pytest.approx((2048 + 4096 + 100) / 1024)
    assert all(r["gzip_kib"] <= r["kib"] + 0.1 for r in rows)
    assert site.main(["--html", str(tmp_path / "nowhere"), "--no-save"]) == 2


def test_scale_injection_and_the_chapter_runner(tmp_path):
    book = _load("book")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SCALE = 1\nN = 2 * SCALE")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("assert SCALE == 3 and N == 6\nx = [0] * 10**6")]
    path = tmp_path / "99-tiny.ipynb"
    nbformat.write(nb, path)
    res = book.run_notebook(path, scale=3, cores=1, timeout=120)
    assert res["passed"] and res["error"] is None, res["error"]
    assert res["wall_s"] > 0 and res["peak_tree_mib"] > 0 and res["claims"] == 0
    res = book.run_notebook(path, scale=None, cores=1, timeout=120)  # SCALE stays 1: fails
    assert not res["passed"] and "AssertionError" in res["error"]
    nb.cells[0].metadata["tags"] = []
    with pytest.raises(ValueError, match="parameters"):
        book.set_scale(nb, 2)


def test_every_chapter_has_a_scale_to_set():
    book = _load("book")
    chapters = book.toc_chapters()
    assert chapters == sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    for ch in chapters:
        nb = nbformat.read(ROOT / "chapters" / f"{ch}.ipynb", as_version=4)
        book.set_scale(nb, 4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assert "SCALE = 4" in cell.source.splitlines(), ch


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_check_refuses_without_cuda():
    out = subprocess.run(
        [sys.executable, str(BENCH / "gpu_check.py")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith("no CUDA device:") and len(out.stderr.splitlines()) == 1


def test_make_bench_plan_runs_the_gpu_items_on_cuda_too():
    run_all = _load("run_all")
    cpu = run_all.plan(None, cuda=False)
    assert [s for s, _, _ in cpu] == [s for s, _, _ in run_all.SCRIPTS]
    assert {d for _, _, d in cpu} == {"cpu"}
    gpu = [s for s, _, d in run_all.plan(None, cuda=True) if d == "cuda"]
    assert gpu == ["vq_scaling.py", "lru_scan.py", "amos_step.py"]
    assert run_all.plan(["site"], cuda=True) == [("site.py", [], "cpu")]
