"""The static book: it builds with warnings as errors and its pages hold what they should."""

from __future__ import annotations

import re

import pytest
import yaml

pytestmark = pytest.mark.book


def _page(built_book, name: str) -> str:
    return (built_book / "chapters" / f"{name}.html").read_text(encoding="utf-8")


def test_index_and_pages_exist(built_book, root):
    assert (built_book / "index.html").exists()
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        assert (built_book / "chapters" / f"{nb.stem}.html").exists(), nb.name
    assert "The chapters" in _page(built_book, "intro")


def test_toolbox_outputs_rendered(built_book):
    page = _page(built_book, "00-toolbox")
    assert page.count("<img") >= 2, "the toolbox chapter should show its matplotlib figures"
    assert 'class="deepnotes-figure"' in page, "the explorer should render as a static figure"
    # glued numbers were substituted: no raw glue roles left in the page
    assert "{glue" not in page
    assert re.search(r"measured slopes are <span[^>]*>[-\d.]+", page) or re.search(
        r"slopes are [-\d.]+", page
    )


def test_math_is_rendered_locally(built_book):
    page = _page(built_book, "00-toolbox")
    assert re.search(r'<script[^>]+src="[^"]*_static/mathjax/tex-chtml\.js', page), (
        "MathJax must be served locally"
    )
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert "\\sigma^2" in page  # math kept for MathJax


def test_colab_button_points_at_notebook(built_book, root):
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    expected = (
        f"https://colab.research.google.com/github/{repo}/blob/{branch}/chapters/00-toolbox.ipynb"
    )
    assert expected in _page(built_book, "00-toolbox")


def test_no_script_from_the_network(built_book):
    """Every <script src> and stylesheet is served by the book itself (the book works offline)."""
    for page in built_book.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"[^>]*>', text)
        remote = [u for u in remote if not re.search(r'rel="(?:canonical|alternate)"', u)]
        scripts = re.findall(r'<script[^>]+src="(https?://[^"]+)"', text)
        styles = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="(https?://[^"]+)"', text)
        assert not scripts and not styles, (page.name, scripts, styles)


def test_vega_bundle_served_once(built_book):
    bundles = list(built_book.rglob("deepnotes-vega.js"))
    assert len(bundles) == 1, bundles
    assert "window.vegaEmbed" in bundles[0].read_text(encoding="utf-8")
    assert "deepnotes-vega.js" not in _page(built_book, "intro"), (
        "pages without figures should not load the bundle"
    )


def test_checks_appendix_lists_every_claim(built_book, root):
    """The appendix has one linked row per claim(...) call of every chapter, and each link lands."""
    from deepnotes.book import claim_ids

    page = _page(built_book, "checks")
    assert "{deepnotes-claims}" not in page and "claims in" in page
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        ids = claim_ids(nb)
        section = page.split(f"id='claims-{nb.stem}'")
        assert len(section) == 2, f"the appendix has no table for {nb.stem}"
        table = section[1].split("</table>")[0]
        linked = re.findall(rf'href="{re.escape(nb.stem)}\.html#claim-([a-z0-9-]+)"', table)
        assert sorted(linked) == sorted(ids), (nb.stem, sorted(set(ids) ^ set(linked)))
        chapter = _page(built_book, nb.stem)
        missing = [i for i in ids if f'id="claim-{i}"' not in chapter]
        assert not missing, f"{nb.stem}: no badge anchor for {missing}"


def test_ledger_tolerances_are_finite_and_meaningful(built_book):
    """No claim with an infinite tolerance, and a zero one only between exact numbers."""
    import json

    rows = [
        c
        for path in sorted((built_book.parent / "claims").glob("*.json"))
        for c in json.loads(path.read_text(encoding="utf-8"))["claims"]
    ]
    assert rows, "the build wrote no claims ledger"
    for c in rows:
        assert "inf" not in c["tolerance"] and "inf" not in c["expected"], c
        if c["tolerance"] in ("± 0", "± 0%"):
            assert re.fullmatch(r"-?\d+(/\d+)?", c["measured"]), c
        assert c["passed"] is True, c


def test_reader_ready_copies_have_no_myst_left(built_book, root, tmp_path):
    """The copies for Colab (make publish) resolve every role; their glued numbers are this build's."""
    import json

    import nbformat

    from deepnotes.publish import leftover_markup, publish

    written = publish(built_book.parent, tmp_path, root)
    assert len(written) == len(list((root / "chapters").glob("*.ipynb")))
    for path in written:
        nb = nbformat.read(path, as_version=4)
        assert leftover_markup(nb) == [], path.name
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        glue = json.loads((built_book.parent / "claims" / "glue" / f"{path.stem}.json").read_text())
        source = (root / "chapters" / path.name).read_text(encoding="utf-8")
        for key in re.findall(r"\{glue(?::\w*)?\}`([^`]+)`", source)[:5]:
            assert glue[key] in text, (path.name, key)


def test_citation_labels_match_the_bibliography(built_book):
    """Each in-text citation shows the label of the entry it links to, on its page or another."""
    entry = re.compile(
        r'<div class="citation" id="([\w-]+)"[^>]*>\s*<span class="label">'
        r'<span class="fn-bracket">\[</span>(?:<a[^>]*>)?([^<]+)<'
    )
    pages = {p.resolve(): p.read_text(encoding="utf-8") for p in built_book.rglob("*.html")}
    labels = {p: dict(entry.findall(text)) for p, text in pages.items()}
    link = re.compile(r'<a class="reference internal" href="([^"#]*)#([\w-]+)"[^>]*>([^<]+)</a>')
    checked = 0
    for page, text in pages.items():
        for href, target, shown in link.findall(text):
            where = (page.parent / href).resolve() if href else page
            if target in labels.get(where, {}):
                assert shown == labels[where][target], (page.name, shown, labels[where][target])
                checked += 1
    assert checked >= 3, "no in-text citation was found with its bibliography entry"
