"""The static site (issue 16, item 6): page weight per chapter and the shared script bundle.

Reads a built book (``_build/html`` by default; ``--html`` points at another build, such as
one chapter's ``make page`` output ``_build/page-00-toolbox/_build/html``) and runs nothing.
For each page under ``chapters/`` it counts the HTML and the **per-page assets** the HTML
references (``<img>``, ``<script src>``, ``<link href>``, ``<source>``, ``<iframe>``, ``<object>``)
that are neither under ``_static/`` nor referenced by every page: the figures' PNGs in
``_images/`` in practice (the interactive figures' Vega specs are inline in the HTML).  The
**shared bundle** is what every page may load once and the browser then caches: every
``_static/`` file some page references, with the fonts and images their stylesheets name
(``url(...)``; of a font offered as .woff2 and older formats only the .woff2, which a
browser takes), grouped as the Vega bundle (only pages with an interactive figure load it),
MathJax's entry script, MathJax's fonts (fetched on demand), the other scripts and the
stylesheets; plus any file outside ``_static/`` that every page references (the search index).
Sizes are bytes on disk and gzip-compressed (level 6, as a web server sends them); reported in
KiB.  No targets: the issue asks for the figures.  Runtime: a second or two.

    .venv/bin/python benchmarks/site.py                      # after make book
    .venv/bin/python benchmarks/site.py --html _build/page-00-toolbox/_build/html --no-save
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

KIB = 1024.0
COLUMNS = ["kind", "name", "files", "html_kib", "assets_kib", "kib", "gzip_kib", "largest"]
_ATTRS = {
    "img": ("src",),
    "script": ("src",),
    "link": ("href",),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "object": ("data",),
}
_FALLBACK_FONTS = (".ttf", ".woff", ".eot", ".otf")  # a browser takes the .woff2 beside them
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and not (
            {"stylesheet", "icon", "preload"} & set((attrs.get("rel") or "").split())
        ):
            return  # rel=next/prev/index: navigation, not a download
        for name in _ATTRS.get(tag, ()):
            value = attrs.get(name)
            if value:
                self.refs += (
                    [v.split()[0] for v in value.split(",")] if name == "srcset" else [value]
                )


def _local(base: Path, ref: str, root: Path) -> Path | None:
    """The file ``ref`` (relative to the page ``base``) names inside the site, else None."""
    url = urlparse(ref)
    if url.scheme or url.netloc or not url.path:
        return None
    path = (base.parent / unquote(url.path)).resolve()
    try:
        path.relative_to(root)
    except ValueError:
        return None
    return path if path.is_file() else None


def page_refs(page: Path, root: Path) -> set[Path]:
    """The local files a page's HTML references."""
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return {p for ref in parser.refs if (p := _local(page, ref, root)) is not None}


def css_refs(css: Path, root: Path) -> set[Path]:
    """The local files a stylesheet names with ``url(...)`` (fonts, images)."""
    text = css.read_text(encoding="utf-8", errors="replace")
    return {p for ref in _CSS_URL.findall(text) if (p := _local(css, ref, root)) is not None}


@cache
def sizes(path: Path) -> tuple[int, int]:
    """Bytes on disk and gzip-compressed bytes (level 6)."""
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=6, mtime=0))


def _group(path: Path, static: Path) -> str:
    rel = path.relative_to(static).as_posix() if path.is_relative_to(static) else path.name
    if rel == "deepnotes-vega.js":
        return "Vega bundle (pages with an interactive figure)"
    if rel.startswith("mathjax/output/") and "/fonts/" in rel:
        return "MathJax fonts (fetched on demand)"
    if rel.startswith("mathjax/"):
        return "MathJax"
    if rel.endswith(".js") or path.name == "searchindex.js":
        return "other scripts and the search index"
    return "stylesheets, their fonts and icons"


def measure(html: Path) -> tuple[list[dict], dict]:
    """Rows (one per page under ``chapters/``, then one per shared group) and totals."""
    root = html.resolve()
    static = root / "_static"
    pages = sorted((root / "chapters").glob("*.html"))
    if not pages:
        raise ValueError(f"{html}: no chapters/*.html here; is it a built book's html folder?")
    refs = {p: page_refs(p, root) for p in pages}
    everywhere = set.intersection(*refs.values())
    shared: set[Path] = set()
    rows = []
    for page, found in refs.items():
        own = sorted(p for p in found if not p.is_relative_to(static) and p not in everywhere)
        shared |= found - set(own)
        html_b, html_gz = sizes(page)
        own_b = sum(sizes(p)[0] for p in own)
        own_gz = sum(sizes(p)[1] for p in own)
        rows.append(
            {
                "kind": "page",
                "name": page.stem,
                "files": 1 + len(own),
                "html_kib": html_b / KIB,
                "assets_kib": own_b / KIB,
                "kib": (html_b + own_b) / KIB,
                "gzip_kib": (html_gz + own_gz) / KIB,
                "largest": None,  # figures' PNGs are named by a hash
            }
        )
    for css in [p for p in shared if p.suffix == ".css"]:
        shared |= css_refs(css, root)
    woff2 = {p.with_suffix("") for p in shared if p.suffix == ".woff2"}
    shared = {
        p for p in shared if p.suffix not in _FALLBACK_FONTS or p.with_suffix("") not in woff2
    }
    fonts = static / "mathjax" / "output" / "chtml" / "fonts"
    if any(p.is_relative_to(static / "mathjax") for p in shared) and fonts.is_dir():
        shared |= {p for p in fonts.rglob("*.woff*") if p.is_file()}
    groups: dict[str, list[Path]] = {}
    for p in sorted(shared):
        groups.setdefault(_group(p, static), []).append(p)
    for name in sorted(groups):
        files = groups[name]
        rows.append(
            {
                "kind": "shared",
                "name": name,
                "files": len(files),
                "html_kib": None,
                "assets_kib": sum(sizes(p)[0] for p in files) / KIB,
                "kib": sum(sizes(p)[0] for p in files) / KIB,
                "gzip_kib": sum(sizes(p)[1] for p in files) / KIB,
                "largest": max(files, key=lambda p: sizes(p)[0]).name,
            }
        )
    scripts = [p for p in shared if p.suffix in (".js", ".mjs")]
    totals = {
        "pages": len(pages),
        "shared_kib": sum(sizes(p)[0] for p in shared) / KIB,
        "shared_gzip_kib": sum(sizes(p)[1] for p in shared) / KIB,
        "shared_script_kib": sum(sizes(p)[0] for p in scripts) / KIB,
        "shared_script_gzip_kib": sum(sizes(p)[1] for p in scripts) / KIB,
        "static_folder_kib": sum(p.stat().st_size for p in static.rglob("*") if p.is_file()) / KIB,
    }
    rows.append(
        {
            "kind": "shared",
            "name": "all shared files",
            "files": len(shared),
            "html_kib": None,
            "assets_kib": totals["shared_kib"],
            "kib": totals["shared_kib"],
            "gzip_kib": totals["shared_gzip_kib"],
            "largest": None,
        }
    )
    return rows, totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=common.ROOT / "_build" / "html")
    parser.add_argument("--device", default="cpu", choices=["cpu"], help="a site has no device")
    parser.add_argument("--quick", action="store_true", help="no effect: this script is fast")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(
            f"site: no built book at {args.html} (no index.html); run `make book` first, or "
            "pass --html _build/page-NN-name/_build/html",
            file=sys.stderr,
        )
        return 2
    rows, totals = measure(args.html)
    print(f"\nsite: page weight from {args.html} (KiB; gzip as served)")
    common.print_table(rows, COLUMNS)
    print(
        f"  shared scripts {totals['shared_script_kib']:.0f} KiB "
        f"({totals['shared_script_gzip_kib']:.0f} KiB gzip); the whole _static folder holds "
        f"{totals['static_folder_kib']:.0f} KiB, most of it MathJax components no page loads"
    )
    try:
        where = str(args.html.resolve().relative_to(common.ROOT))
    except ValueError:
        where = str(args.html)
    notes = (
        "Page weight of each page under chapters/: its HTML plus the files only it references "
        "(the figures' PNGs; interactive figures carry their Vega specs inline), in KiB on "
        "disk and gzip-compressed as a server sends them. The shared rows are what pages load "
        "once and the browser caches: every _static file a page references, with what their "
        "stylesheets name, and MathJax's fonts, which it fetches on demand; the Vega bundle "
        "is loaded only by pages with an interactive figure."
    )
    if args.quick or args.no_save:
        print("not saved (--quick or --no-save)")
    else:
        common.save("site", rows, [], {"html": where, **totals}, notes=notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
