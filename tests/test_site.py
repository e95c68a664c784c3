"""The static site as a reader meets it with the network off: links land, maths renders, search works."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.book

from chromium import ARGS, CHROMIUM  # noqa: E402  (tests/chromium.py)


def _pages(built_book: Path) -> list[Path]:
    return sorted(
        p
        for p in built_book.rglob("*.html")
        if "_static" not in p.parts and "_sources" not in p.parts
    )


def test_every_internal_link_and_anchor_resolves(built_book):
    ids: dict[Path, set[str]] = {}

    def anchors(path: Path) -> set[str]:
        if path not in ids:
            soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
            ids[path] = {t["id"] for t in soup.find_all(id=True)} | {
                t["name"] for t in soup.find_all("a", attrs={"name": True})
            }
        return ids[path]

    broken = []
    for page in _pages(built_book):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for a in soup.find_all("a", href=True):
            href = a["href"]
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "javascript:", "//")):
                continue
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(built_book)}: {href} (no such file)")
            elif (
                url.fragment
                and target.suffix == ".html"
                and unquote(url.fragment) not in anchors(target)
            ):
                broken.append(f"{page.relative_to(built_book)}: {href} (no such anchor)")
    assert not broken, "\n".join(broken[:40])


@pytest.fixture(scope="module")
def site(built_book):
    handler = functools.partial(
        type("Q", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(built_book),
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def tab():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.route(
            "**/*",
            lambda r: (
                r.continue_()
                if urlparse(r.request.url).hostname in ("127.0.0.1", "localhost")
                else r.abort()
            ),
        )
        yield page
        browser.close()


#: Text left in a page after MathJax ran that means maths did not render.
RAW_TEX = re.compile(
    r"\$[^$\s][^$]*\$|\\(frac|sqrt|mathbb|alpha|lambda|sum|left|right)\b|\\\(|\\\["
)


def test_math_renders_on_every_page(built_book, site, tab):
    problems = []
    for page in _pages(built_book):
        rel = page.relative_to(built_book).as_posix()
        if rel in ("search.html", "genindex.html"):
            continue
        tab.goto(f"{site}/{rel}", wait_until="load")
        tab.wait_for_function(
            "!window.MathJax || !MathJax.startup || !MathJax.startup.promise"
            " || MathJax.startup.promise.then(() => true)",
            timeout=30000,
        )
        tab.wait_for_timeout(300)
        text = tab.evaluate(
            """() => {
            const main = document.querySelector('main') || document.body;
            const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {
              acceptNode: n => n.parentElement.closest(
                'pre, code, mjx-container, script, style, .deepnotes-figure, .cell_output, .highlight, svg'
              ) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT });
            const parts = []; let n; while ((n = walker.nextNode())) parts.push(n.textContent);
            return parts.join(' ');
        }"""
        )
        raw = RAW_TEX.findall(text)
        found = RAW_TEX.search(text)
        if found:
            problems.append(
                f"{rel}: raw TeX {text[max(0, found.start() - 40) : found.end() + 40]!r} ({len(raw)} in all)"
            )
    assert not problems, "\n".join(problems)


def test_search_finds_every_chapter(built_book, root, site, tab):
    """Sphinx's offline search index finds each chapter by a word from its title."""
    problems = []
    chapters = [
        nb
        for nb in sorted((root / "chapters").glob("*.ipynb"))
        if (built_book / "chapters" / f"{nb.stem}.html").exists()  # a one-page build has one
    ]
    assert chapters, "the build holds no chapter page"
    for nb in chapters:
        words = re.findall(r"[A-Za-z]{6,}", nb.stem.replace("-", " "))
        word = words[0] if words else nb.stem.split("-")[-1]
        tab.goto(f"{site}/search.html?q={word}", wait_until="load")
        try:
            tab.wait_for_selector("#search-results li, .search li", timeout=20000)
        except Exception:
            problems.append(f"searching {word!r} gave no results")
            continue
        links = tab.eval_on_selector_all(
            "#search-results li a, .search li a", "els => els.map(e => e.href)"
        )
        if not any(f"{nb.stem}.html" in link for link in links):
            problems.append(f"searching {word!r} did not list {nb.stem}: {links[:5]}")
    assert not problems, "\n".join(problems)
