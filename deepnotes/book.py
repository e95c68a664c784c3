"""Sphinx extension for the book build (listed in ``_config.yml``).

* Marks the build: sets ``DEEPNOTES_BUILD=1`` in the environment *before* any
  notebook runs, so the kernels that myst-nb starts inherit it and
  :func:`deepnotes.viz.figure_mode` renders static figures.
* Serves the Vega, Vega-Lite and Vega-Embed scripts once for the whole site, as
  ``_static/deepnotes-vega.js`` (built offline by ``vl-convert-python``, whose
  wheel carries the libraries), and links it only from pages that hold an
  interactive figure.  No page loads anything from a CDN.
"""

from __future__ import annotations

import os
from pathlib import Path

BUNDLE = "deepnotes-vega.js"
MARKER = 'class="deepnotes-figure"'


def vega_bundle() -> str:
    """The JavaScript that defines ``window.vegaEmbed`` (Vega-Lite version matched to Altair's)."""
    import altair as alt
    import vl_convert as vlc

    major_minor = ".".join(alt.VEGALITE_VERSION.split(".")[:2])
    return vlc.javascript_bundle(vl_version=f"v{major_minor}")


def _write_bundle(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / BUNDLE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(vega_bundle(), encoding="utf-8")


def _link_bundle(app, pagename, templatename, context, doctree) -> None:
    """Load the bundle, as a module (its top-level names stay private), on pages with a figure."""
    body = context.get("body", "")
    if MARKER in body:
        src = context["pathto"](f"_static/{BUNDLE}", 1)
        context["body"] = body + f'\n<script type="module" src="{src}"></script>\n'


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Drop repeated ``<script>`` entries.

    Some theme extensions (sphinx-thebe, sphinx-togglebutton) register their
    inline snippets again from ``html-page-context``, so a page can declare
    ``const THEBE_JS_URL`` twice, which the browser reports as an error.
    """
    seen, kept = set(), []
    for script in context.get("script_files", []):
        filename = str(getattr(script, "filename", script) or "")  # an inline script has None or ""
        attributes = getattr(script, "attributes", None) or {}
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    os.environ["DEEPNOTES_BUILD"] = "1"
    app.connect("html-page-context", _link_bundle)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _write_bundle)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------- checks


def toc_files(root: Path) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (and its root), as repository-relative paths without suffix."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return found


def toc_problems(root: Path) -> list[str]:
    """Differences between ``_toc.yml`` and the notebooks in ``chapters/`` (empty when they agree)."""
    root = Path(root)
    listed = {
        f for f in toc_files(root) if not (root / f"{f}.md").exists()
    }  # non-markdown entries are notebooks
    notebooks = {
        str(p.relative_to(root).with_suffix("")) for p in (root / "chapters").glob("*.ipynb")
    }
    problems = [f"{nb}.ipynb is not listed in _toc.yml" for nb in sorted(notebooks - listed)]
    problems += [
        f"_toc.yml lists {f}, but {f}.ipynb does not exist" for f in sorted(listed - notebooks)
    ]
    return problems


def strip_outputs(path: Path) -> bool:
    """Remove outputs and execution counts from a notebook in place; True if it changed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            cell.outputs, cell.execution_count, changed = [], None, True
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m deepnotes.book check | strip NOTEBOOK...``.

    ``check`` fails loudly before a build that would be incomplete (a notebook
    missing from ``_toc.yml``); ``strip`` removes outputs before a commit.
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["strip"] and len(args) > 1:
        for name in args[1:]:
            if strip_outputs(Path(name)):
                print(f"stripped {name}")
        return 0
    if args != ["check"]:
        print("usage: python -m deepnotes.book check | strip NOTEBOOK...", file=sys.stderr)
        return 2
    problems = toc_problems(Path.cwd())
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
