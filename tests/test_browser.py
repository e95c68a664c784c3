"""The built book in a real headless Chromium, with every host but localhost blocked.

The toolbox chapter's explorer must draw without a kernel and without the
network, log no console error, redraw when its slider moves, and evaluate the
theory curve in the browser to the same values as ``sympy.lambdify``.

Every page of the book (at a 1280 px window, every dropdown opened) must also
follow the conventions of CONTRIBUTING.md that a browser can check:

* rule 10: every ``<img>`` displays at >= 75% of its natural width, where the
  natural width is the PNG's pixel width scaled by ``figure.dpi`` of
  :data:`deepnotes.plotting.STYLE` over the dpi the PNG records (``savefig.dpi``
  when it records none), so a 6.4-inch figure is 640 CSS px wide;
* rule 11: every ``<img>`` has alt text that is not a file name, inside a
  ``<figure>`` whose caption Jupyter Book numbered ("Fig. 3");
* rule 21: every control of every explorer shows its current value beside it,
  and the shown value changes when the control is moved (keyboard on a
  slider, a new option on a drop-down);
* rule 19: no code block scrolls sideways.

``DEEPNOTES_BOOK_HTML=_build/page-00-toolbox/_build/html`` runs all of it on one
chapter's ``make page`` build (see ``tests/conftest.py``).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import sympy as sp

from deepnotes.plotting import STYLE
from deepnotes.theory import toolbox as th

pytestmark = [pytest.mark.browser, pytest.mark.book]

from chromium import ARGS, CHROMIUM  # noqa: E402  (tests/chromium.py)

LOCAL = {"127.0.0.1", "localhost", "::1"}


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


def test_toolbox_explorer_moves_offline(page, server, built_book, tmp_path):
    if not (built_book / "chapters" / "00-toolbox.html").exists():
        pytest.skip(
            "this build has no toolbox chapter (DEEPNOTES_BOOK_HTML names another page build)"
        )
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
    for rel in book_pages(built_book):
        page.errors.clear()
        page.blocked.clear()
        page.goto(f"{server}/{rel}", wait_until="load")
        figures = page.locator(".deepnotes-figure").count()
        if figures:
            page.wait_for_function(
                "(n) => window.deepnotesViews && Object.keys(window.deepnotesViews).length === n",
                arg=figures,
                timeout=30000,
            )
            assert page.locator(".deepnotes-figure svg").count() >= figures, rel
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images load too
        page.wait_for_timeout(500)
        assert not page.errors, (rel, page.errors)
        assert not page.blocked, (rel, page.blocked)


# --------------------------------------------------------------------------- conventions, every page

#: Rule 10: a figure displays at this fraction of its natural width or more.
MIN_DISPLAY_RATIO = 0.75
#: One inch of a figure is meant to be figure.dpi CSS px.  A PNG that records its dpi (matplotlib
#: writes it; Jupyter's inline backend saves at figure.dpi, ``savefig`` at savefig.dpi) is scaled by
#: figure.dpi / its dpi; one without a recorded dpi is taken to be at savefig.dpi.
DPI_SCALE = STYLE["figure.dpi"] / STYLE["savefig.dpi"]
#: Not pages of the book: Sphinx's generated index and search pages.
NOT_PAGES = {"genindex.html", "search.html"}
#: An alt text that is a file name: ends in an image suffix, or a path or hash without spaces.
FILE_NAME = re.compile(
    r"\.(png|jpe?g|svg|gif|webp)$|^[^\s]*/[^\s]*$|^[0-9a-f]{16,}$", re.IGNORECASE
)
FIG_NUMBER = re.compile(r"^(Fig\.|Figure)\s*\d+(\.\d+)*", re.IGNORECASE)


def book_pages(html_dir: Path) -> list[str]:
    """Every page of a built book, as paths relative to its root (index, chapters, back matter)."""
    pages = []
    for f in sorted(html_dir.rglob("*.html")):
        rel = f.relative_to(html_dir)
        if rel.parts[0].startswith("_") or rel.name in NOT_PAGES:
            continue
        if 'http-equiv="Refresh"' in f.read_text(encoding="utf-8", errors="replace")[:2000]:
            continue  # the root redirect to the first page
        pages.append(rel.as_posix())
    return pages


_OPEN_EVERYTHING = """() => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
    document.querySelectorAll('.toggle-button').forEach(b => b.classList.remove('toggle-button-hidden'));
}"""

_IMAGES = """async () => {
    const article = document.querySelector('article.bd-article') || document.body;
    const imgs = Array.from(article.querySelectorAll('img'));
    await Promise.all(imgs.map(i => (i.complete ? null :
        new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); }))));
    return imgs.map((img, k) => {
        const fig = img.closest('figure');
        const cap = fig ? fig.querySelector('figcaption') : null;
        const num = cap ? cap.querySelector('.caption-number') : null;
        return {k: k, src: img.getAttribute('src') || '', alt: img.getAttribute('alt'),
                width: img.getBoundingClientRect().width, natural: img.naturalWidth,
                figure: !!fig, number: num ? num.textContent.trim() : null,
                caption: cap ? cap.textContent.trim() : null};
    });
}"""

_WIDE_FIGURES = """() => {
    const article = document.querySelector('article.bd-article') || document.body;
    const box = article.getBoundingClientRect();
    const cs = getComputedStyle(article);
    const edge = box.right - parseFloat(cs.paddingRight);
    const column = edge - box.left - parseFloat(cs.paddingLeft);
    return Array.from(document.querySelectorAll('.deepnotes-figure')).map((f, k) => {
        const svg = f.querySelector('svg');
        const r = svg ? svg.getBoundingClientRect() : f.getBoundingClientRect();
        return {k: k, width: r.width, right: r.right, column: column, edge: edge};
    }).filter(f => f.right > f.edge + 1);
}"""

_CONTROLS = """(fid) => {
    const el = document.getElementById(fid);
    return Array.from(el.querySelectorAll('.vega-bind')).map((b, k) => {
        const nameEl = b.querySelector('.vega-bind-name');
        const name = nameEl ? nameEl.textContent.trim() : '';
        const sel = b.querySelector('select');
        const input = b.querySelector('input');
        let kind = sel ? 'select' : (input ? input.type : 'none');
        let shown = '';
        if (sel) {
            shown = sel.selectedIndex >= 0 ? sel.options[sel.selectedIndex].text.trim() : '';
        } else {
            const text = b.innerText || '';  // innerText leaves out what CSS hides
            shown = text.replace(nameEl ? nameEl.innerText : '', '').trim();
        }
        return {k: k, name: name, kind: kind, shown: shown,
                value: sel ? sel.value : (input ? input.value : null),
                options: sel ? sel.options.length : null};
    });
}"""

_CODE_BLOCKS = """() => {
    const article = document.querySelector('article.bd-article') || document.body;
    return Array.from(article.querySelectorAll('pre'))
        .filter(p => !p.closest('.cell_output, .output'))
        .filter(p => p.scrollWidth > p.clientWidth + 1)
        .map(p => {
            const lines = p.textContent.split('\\n');
            const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
            return {over: p.scrollWidth - p.clientWidth, longest: longest.slice(0, 60),
                    chars: longest.length, cell: !!p.closest('.cell_input')};
        });
}"""


def _css_scale(built_book: Path, rel: str, src: str) -> float:
    """CSS px per image px meant for an image: figure.dpi over the dpi its PNG records."""
    path = (built_book / rel).parent / src.split("?")[0].split("#")[0]
    if src.startswith("data:") or not path.is_file():
        return DPI_SCALE
    from PIL import Image

    with Image.open(path) as im:
        dpi = im.info.get("dpi")
    return STYLE["figure.dpi"] / float(dpi[0]) if dpi and dpi[0] > 1 else DPI_SCALE


def _move(page, fid: str, control: dict) -> None:
    """Move one control as a reader would: arrow keys on a slider, another option on a drop-down."""
    bind = page.locator(f"#{fid} .vega-bind").nth(control["k"])
    if control["kind"] == "select":
        index = (
            1
            if page.evaluate("(s) => s.selectedIndex", bind.locator("select").element_handle()) == 0
            else 0
        )
        bind.locator("select").select_option(index=index)
    elif control["kind"] == "range":
        slider = bind.locator("input[type=range]")
        slider.scroll_into_view_if_needed()
        slider.focus()
        before = slider.input_value()
        page.keyboard.press("ArrowRight")
        if slider.input_value() == before:  # at the right end already
            page.keyboard.press("ArrowLeft")
    elif control["kind"] in ("checkbox", "radio"):
        boxes = bind.locator("input")
        boxes.nth(1 if control["kind"] == "radio" and boxes.count() > 1 else 0).click()
    page.wait_for_timeout(150)


def _audit_page(page, server: str, built_book: Path, rel: str, report: dict) -> None:
    page.goto(f"{server}/{rel}", wait_until="load")
    figures = page.locator(".deepnotes-figure").count()
    if figures:
        page.wait_for_function(
            "(n) => window.deepnotesViews && Object.keys(window.deepnotesViews).length === n",
            arg=figures,
            timeout=30000,
        )
    page.evaluate(_OPEN_EVERYTHING)
    page.wait_for_timeout(200)

    for img in page.evaluate(_IMAGES):
        name = img["caption"] or img["alt"] or ""
        if not name or FILE_NAME.search(name.strip()):
            name = img["src"].rsplit("/", 1)[-1][:24] + "..."
        what = f"{rel}: image {img['k'] + 1} ({name[:60]!r})"
        if not img["natural"]:
            report["size"].append(f"{what}: did not load")
        else:
            meant = img["natural"] * _css_scale(built_book, rel, img["src"])
            ratio = img["width"] / meant
            report["ratios"].append((rel, img["k"] + 1, ratio))
            if ratio < MIN_DISPLAY_RATIO:
                report["size"].append(
                    f"{what}: displays at {ratio:.0%} of its natural width"
                    f" ({img['width']:.0f} px of {meant:.0f}); needs"
                    f" {MIN_DISPLAY_RATIO:.0%} (figsize width <= 9 in, at most two panels a row)"
                )
        alt = (img["alt"] or "").strip()
        if not alt:
            report["alt"].append(f"{what}: no alt text (mystnb: image: alt)")
        elif FILE_NAME.search(alt):
            report["alt"].append(f"{what}: alt text is a file name: {alt[:50]!r}")
        if not img["figure"]:
            report["alt"].append(
                f"{what}: not in a <figure> with a caption (mystnb: figure: caption, name)"
            )
        elif not (img["number"] and FIG_NUMBER.match(img["number"])):
            report["alt"].append(
                f"{what}: its figure caption is not numbered (caption {img['caption']!r:.60})"
            )

    for wide in page.evaluate(_WIDE_FIGURES):
        report["size"].append(
            f"{rel}: explorer {wide['k'] + 1} is {wide['width']:.0f} px wide, wider than the"
            f" {wide['column']:.0f} px text column"
        )

    fids = page.evaluate(
        "Array.from(document.querySelectorAll('.deepnotes-figure')).map(e => e.id)"
    )
    for n, fid in enumerate(fids, start=1):
        label = page.evaluate("(f) => document.getElementById(f).getAttribute('aria-label')", fid)
        before = page.evaluate(_CONTROLS, fid)
        if not before:
            report["controls"].append(f"{rel}: explorer {n} ({label[:50]!r}) has no controls")
        for control in before:
            what = f"{rel}: explorer {n} ({label[:50]!r}), control {control['name']!r}"
            if not control["shown"]:
                report["controls"].append(f"{what}: shows no value beside it")
                continue
            if control["kind"] == "select" and (control["options"] or 0) < 2:
                continue  # a one-option drop-down cannot move
            _move(page, fid, control)
            after = page.evaluate(_CONTROLS, fid)[control["k"]]
            if after["value"] == control["value"]:
                report["controls"].append(f"{what}: could not be moved ({control['kind']})")
            elif after["shown"] == control["shown"]:
                report["controls"].append(
                    f"{what}: still shows {control['shown']!r} after moving it"
                    f" (value {control['value']} -> {after['value']})"
                )

    for block in page.evaluate(_CODE_BLOCKS):
        where = "code cell" if block["cell"] else "code block"
        report["code"].append(
            f"{rel}: a {where} scrolls sideways by {block['over']} px (longest line,"
            f" {block['chars']} chars: {block['longest']!r})"
        )


@pytest.fixture(scope="module")
def audit(browser, server, built_book) -> dict:
    """Visit every page once at 1280 px and collect each convention's violations."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.route(
        "**/*",
        lambda r: (
            r.continue_()
            if urlparse(r.request.url).hostname in LOCAL or r.request.url.startswith("data:")
            else r.abort()
        ),
    )
    report = {"size": [], "alt": [], "controls": [], "code": [], "ratios": [], "pages": []}
    try:
        for rel in book_pages(built_book):
            report["pages"].append(rel)
            _audit_page(page, server, built_book, rel, report)
    finally:
        context.close()
    return report


def _fail(found: list[str], rule: str) -> None:
    if found:
        pytest.fail(f"{len(found)} violation(s) of {rule}:\n" + "\n".join(found), pytrace=False)


def test_figures_fit_the_text_column(audit):
    """CONTRIBUTING rule 10: every <img> displays at >= 75% of its natural width."""
    assert audit["pages"], "no pages found in the build"
    _fail(audit["size"], "rule 10 (figures fit the text column)")


def test_figures_have_alt_text_and_numbered_captions(audit):
    """CONTRIBUTING rule 11: alt text that is not a file name; a numbered caption."""
    _fail(audit["alt"], "rule 11 (alt text and a numbered caption)")


def test_explorer_controls_show_their_value(audit):
    """CONTRIBUTING rule 21: each control shows its current value beside it, and it follows the control."""
    _fail(audit["controls"], "rule 21 (each control shows its current value)")


def test_code_blocks_do_not_scroll_sideways(audit):
    """CONTRIBUTING rule 19: no code block scrolls sideways in the text column."""
    _fail(audit["code"], "rule 19 (no code line scrolls sideways)")
