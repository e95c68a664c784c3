"""The built book in a real headless Chromium, with every host but localhost blocked.

The toolbox chapter's explorer must draw without a kernel and without the
network, log no console error, redraw when its slider moves, and evaluate the
theory curve in the browser to the same values as ``sympy.lambdify``.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import sympy as sp

from deepnotes.theory import toolbox as th

pytestmark = [pytest.mark.browser, pytest.mark.book]

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LOCAL = {"127.0.0.1", "localhost", "::1"}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def server(built_book: Path):
    handler = functools.partial(_Quiet, directory=str(built_book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium, or set CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 1600})
    page = context.new_page()
    page.blocked = []
    page.errors = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if host in LOCAL or r.request.url.startswith("data:"):
            r.continue_()
        else:
            page.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def _figure_state(page, fid: str) -> dict:
    return json.loads(
        page.evaluate(
            """(fid) => {
            const view = window.deepnotesViews[fid];
            const el = document.getElementById(fid);
            const paths = Array.from(el.querySelectorAll('svg path')).map(p => p.getAttribute('d')).join('|');
            const names = Object.keys(view.getState({data: () => true, signals: () => false}).data || {});
            const sets = {};
            const plain = (row) => Object.fromEntries(Object.entries(row).filter(([k, v]) => typeof v !== 'object'));
            for (const n of names) { try { sets[n] = view.data(n).map(plain); } catch (e) {} }
            return JSON.stringify({paths: paths, data: sets, signal: view.signal('p_gain')});
        }""",
            fid,
        )
    )


def _theory_rows(state: dict) -> list[dict]:
    for rows in state["data"].values():
        if rows and "curve" in rows[0] and "value" in rows[0]:
            return rows
    raise AssertionError(f"no theory dataset among {list(state['data'])}")


def test_toolbox_explorer_moves_offline(page, server, tmp_path):
    page.goto(f"{server}/chapters/00-toolbox.html", wait_until="load")
    page.wait_for_function(
        "window.deepnotesViews && Object.keys(window.deepnotesViews).length > 0", timeout=30000
    )
    fid = page.evaluate("Object.keys(window.deepnotesViews)[0]")
    figure = page.locator(f"#{fid}")
    figure.scroll_into_view_if_needed()
    before = _figure_state(page, fid)
    page.screenshot(path=str(tmp_path / "before.png"), full_page=False)

    slider = figure.locator("input[type=range]").first
    box = slider.bounding_box()
    assert box is not None, "the slider is not visible"
    page.mouse.click(
        box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2
    )  # a real click near the end
    page.wait_for_timeout(300)
    after = _figure_state(page, fid)
    shots = Path(os.environ.get("DEEPNOTES_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    figure.screenshot(path=str(shots / "toolbox-explorer.png"))

    assert after["signal"] != before["signal"], "the slider did not change the figure's parameter"
    assert after["paths"] != before["paths"], "the figure did not redraw"
    assert not page.errors, page.errors
    # nothing outside localhost was even requested for the figure or the math
    assert not [u for u in page.blocked if "vega" in u or "mathjax" in u], page.blocked

    # the browser evaluated the theory curve from the SymPy expression: compare with lambdify
    gains = page.evaluate(
        "(fid) => { const v = window.deepnotesViews[fid]; return v.signal('p_gain'); }", fid
    )
    assert isinstance(gains, (int, float))
    rows = _theory_rows(after)
    layer = sp.Symbol("layer")
    gain_values = _slider_values(page, fid)
    gain = gain_values[int(after["signal"])]
    f = sp.lambdify(layer, th.depth_second_moment().subs({th.g: gain, th.L: layer}), "numpy")
    xs = np.array([r["x"] for r in rows], dtype=float)
    ys = np.array([r["value"] for r in rows], dtype=float)
    assert len(xs) > 20
    np.testing.assert_allclose(ys, f(xs), rtol=1e-9)


def _slider_values(page, fid: str) -> list[float]:
    """The slider's value list, read back from the spec the page embeds."""
    return page.evaluate(
        """(fid) => {
            const spec = window.deepnotesViews[fid];
            const text = document.getElementById(fid).nextElementSibling.textContent;
            const m = text.match(/datum\\[\\\\?"gain\\\\?"\\] === (\\[[^\\]]*\\])/);
            return m ? JSON.parse(m[1]) : null;
        }""",
        fid,
    )


def test_every_page_renders_its_figures_without_errors(page, server, built_book):
    """Each chapter page: every interactive figure draws, nothing logs an error, nothing leaves localhost."""
    for html in sorted((built_book / "chapters").glob("*.html")):
        page.errors.clear()
        page.blocked.clear()
        page.goto(f"{server}/chapters/{html.name}", wait_until="load")
        figures = page.locator(".deepnotes-figure").count()
        if figures:
            page.wait_for_function(
                "(n) => window.deepnotesViews && Object.keys(window.deepnotesViews).length === n",
                arg=figures,
                timeout=30000,
            )
            assert page.locator(".deepnotes-figure svg").count() >= figures, html.name
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images load too
        page.wait_for_timeout(500)
        assert not page.errors, (html.name, page.errors)
        assert not page.blocked, (html.name, page.blocked)
