"""Sphinx extension for the book build (listed in ``_config.yml``).

* Marks the build: sets ``DEEPNOTES_BUILD=1`` in the environment *before* any
  notebook runs, so the kernels that myst-nb starts inherit it and
  :func:`deepnotes.viz.figure_mode` renders static figures.
* Serves the Vega, Vega-Lite and Vega-Embed scripts once for the whole site, as
  ``_static/deepnotes-vega.js`` (built offline by ``vl-convert-python``, whose
  wheel carries the libraries), and links it only from pages that hold an
  interactive figure.  No page loads anything from a CDN.
* Collects the claims ledger: it points ``DEEPNOTES_CLAIMS_DIR`` at
  ``_build/claims`` before the notebooks run (each chapter's
  :func:`deepnotes.claims.claim` calls write ``<chapter>.json`` there), and the
  ``deepnotes-claims`` directive renders those files as the appendix "What this
  book checks" once every notebook has executed (at ``doctree-resolved``, so the
  page never re-runs anything).
* Renders the Performance appendix: the ``deepnotes-benchmarks`` directive reads
  every ``benchmarks/results/*.json`` that ``make bench`` wrote and committed
  (:func:`load_results`, :func:`benchmarks_html`); the build runs no benchmark.
* Labels citations the same way in the text and in every bibliography: the
  pybtex style ``deepnotes`` (``bibtex_default_style`` in ``_config.yml``, with
  ``bibtex_reference_style: label``) gives each entry an author-year label such
  as ``Su, 2022a``, with the letter fixed over the whole bib file
  (:func:`deepnotes.publish.author_year_labels`, which the Colab copies use too),
  so the text, a chapter's own References and the book's bibliography agree.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive

__all__ = [
    "claim_calls",
    "claim_ids",
    "benchmarks_html",
    "claims_html",
    "load_ledgers",
    "load_results",
    "main",
    "notebook_python",
    "strip_outputs",
    "toc_files",
    "toc_problems",
    "vega_bundle",
]
# Sphinx's own entry points (setup, the event callbacks, the directive and node classes) take
# Sphinx's app object or are registered by setup; they are not listed: readers never call them.

BUNDLE = "deepnotes-vega.js"
MARKER = 'class="deepnotes-figure"'
STYLESHEET = "deepnotes.css"

#: Styles of the claim badges a chapter shows and of the appendix tables.
CSS = """
.deepnotes-claim { font-size: 0.85em; color: #1b4332; background: #f1f8f4; border-left: 3px solid #2d6a4f;
  padding: 0.15em 0.6em; margin: 0.2em 0; }
.deepnotes-claim-mark { color: #2d6a4f; font-weight: bold; }
.deepnotes-claim-numbers { color: #40534a; }
.deepnotes-claims-table td, .deepnotes-claims-table th { font-size: 0.85em; vertical-align: top; }
.deepnotes-bench-machine { font-size: 0.85em; color: #40534a; }
.deepnotes-bench-missed { color: #9b2226; }
.deepnotes-bench-scroll { overflow-x: auto; }
.deepnotes-bench-scroll td, .deepnotes-bench-scroll th { font-size: 0.8em; padding: 0.3em 0.45em; }
/* Code at 13 px: 79 columns (the notebooks' ruff line length) fit the 690 px text column,
   solution boxes included, so no code block scrolls sideways (tests/test_browser.py). */
div.cell_input pre, div.highlight pre { font-size: 13px; }
/* Inside exercise solutions and other boxes the column is ~590 px: 12 px fits 79 columns. */
.admonition div.cell_input pre, .admonition div.highlight pre, details div.highlight pre,
div.solution div.highlight pre, div.exercise div.highlight pre { font-size: 12px; }
"""


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


# --------------------------------------------------------------------------- claims appendix


def _existing_path(name: str, value, kind: str = "file") -> Path:
    """``value`` as a :class:`~pathlib.Path` to an existing file (or directory, ``kind="dir"``);
    ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or PathLike), got {type(value).__name__}")
    path = Path(value)
    if not (path.is_dir() if kind == "dir" else path.is_file()):
        raise ValueError(f"{name} must be an existing {kind}, got {str(path)!r}")
    return path


def _strings(name: str, value) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__}")
    if not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of strings, got {value!r}")
    return list(value)


def claims_dir(app) -> Path:
    """Where the chapters' ledgers are written during this build: ``<outdir>/../claims``."""
    return Path(app.outdir).parent / "claims"


def load_ledgers(folder: Path, chapters: list[str] | None = None) -> dict[str, list[dict]]:
    """``{chapter: [claim, ...]}`` from the JSON files in ``folder``, in chapter order.

    ``chapters`` (file stems) restricts the result to chapters that are still in the book.
    """
    folder = _existing_path("folder", folder, "dir")
    if chapters is not None:
        chapters = _strings("chapters", chapters)
    found = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if chapters is None or data["chapter"] in chapters:
            found[data["chapter"]] = data["claims"]
    return found


def _margin_text(margin) -> str:
    return "exact" if margin is None else f"{100 * margin:.0f}%"


def claims_html(ledgers: dict[str, list[dict]], link, titles: dict[str, str]) -> str:
    """The appendix body: counts, the claims closest to failing, one table per chapter.

    ``link(chapter, claim_id)`` gives the URL of the cell that checks a claim.
    """
    from collections import Counter
    from collections.abc import Mapping

    if not isinstance(ledgers, Mapping) or not all(
        isinstance(claims, list) and all(isinstance(c, Mapping) for c in claims)
        for claims in ledgers.values()
    ):
        raise TypeError("ledgers must map each chapter to its list of claims (dicts)")
    if not callable(link):
        raise TypeError(f"link must be a function (chapter, claim_id) -> URL, got {link!r}")
    if not isinstance(titles, Mapping) or not all(isinstance(t, str) for t in titles.values()):
        raise TypeError(f"titles must map chapters to their titles (str), got {titles!r}")

    from .claims import KINDS

    esc = html.escape
    rows = [(ch, c) for ch, claims in ledgers.items() for c in claims]
    chapters = "chapter" if len(ledgers) == 1 else "chapters"
    out = [
        f"<p>{len(rows)} claims in {len(ledgers)} {chapters}, each checked when its chapter runs.</p>"
    ]
    by_kind = Counter((ch, c["kind"]) for ch, c in rows)
    head = "".join(f"<th>{k}</th>" for k in KINDS)
    body = "".join(
        f"<tr><td><a href='#claims-{esc(ch)}'>{esc(titles.get(ch, ch))}</a></td>"
        + "".join(f"<td>{by_kind[(ch, k)]}</td>" for k in KINDS)
        + f"<td>{len(ledgers[ch])}</td></tr>"
        for ch in ledgers
    )
    out.append(
        '<table class="table deepnotes-claims-table" id="claims-counts"><thead><tr><th>chapter</th>'
        f"{head}<th>all</th></tr></thead><tbody>{body}</tbody></table>"
    )
    close = sorted(  # key: equal margins must not fall through to comparing dicts
        ((c["margin"], ch, c) for ch, c in rows if c["margin"] is not None),
        key=lambda t: (t[0], t[1]),
    )[:10]
    out.append("<h2 id='closest-to-failing'>Closest to failing</h2>")
    out.append(
        "<p>The ten claims with the least margin: the fraction of its allowance that a measurement "
        "leaves unused (100% is dead centre, 0% is on the edge).</p>"
    )
    out.append(_table(close and [(ch, c) for _, ch, c in close], link, titles, show_chapter=True))
    for ch, claims in ledgers.items():
        out.append(f"<h2 id='claims-{esc(ch)}'>{esc(titles.get(ch, ch))}</h2>")
        out.append(_table([(ch, c) for c in claims], link, titles, show_chapter=False))
    return "\n".join(out)


def _table(rows, link, titles, show_chapter: bool) -> str:
    esc = html.escape
    cols = ["claim", "kind", "expected", "measured", "tolerance", "margin"]
    if show_chapter:
        cols.insert(0, "ch.")
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = []
    for ch, c in rows or []:
        cells = []
        if show_chapter:  # the chapter's number, its title on hover
            number = str(int(ch[:2])) if ch[:2].isdigit() else ch
            cells.append(
                f'<a href="#claims-{esc(ch)}" title="{esc(titles.get(ch, ch))}">{number}</a>'
            )
        symbolic = c["tolerance"] == "exact"
        cells += [
            f'<a href="{esc(link(ch, c["id"]))}">{esc(c["statement"])}</a>',
            esc(c["kind"]),
            "—" if symbolic else esc(str(c["expected"])),
            "proved" if symbolic else esc(str(c["measured"])),
            "symbolic" if symbolic else esc(str(c["tolerance"])),
            "—" if c["margin"] is None else _margin_text(c["margin"]),
        ]
        body.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return (
        f'<table class="table deepnotes-claims-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


class claims_placeholder(nodes.General, nodes.Element):
    """Where the appendix table goes; replaced at ``doctree-resolved``."""


class ClaimsDirective(Directive):
    """``deepnotes-claims``: the ledger of every chapter, rendered once they have all executed."""

    has_content = False

    def run(self):
        return [claims_placeholder()]


_PLACEHOLDER, _DIRECTIVE = claims_placeholder, ClaimsDirective


def _render_claims(app, doctree, docname) -> None:
    placeholders = list(doctree.findall(_PLACEHOLDER))
    if not placeholders:
        return
    env = app.builder.env
    chapters = {Path(d).name: d for d in env.found_docs if d.startswith("chapters/")}
    ledgers = load_ledgers(claims_dir(app), list(chapters))
    titles = {ch: env.titles[d].astext() for ch, d in chapters.items() if d in env.titles}

    def link(ch, claim_id):
        return app.builder.get_relative_uri(docname, chapters[ch]) + f"#claim-{claim_id}"

    body = claims_html(ledgers, link, titles)
    for node in placeholders:
        node.replace_self(nodes.raw("", body, format="html"))


# --------------------------------------------------------------------------- performance appendix

#: Where ``make bench`` saves its results (``benchmarks/common.py``), under the book's root.
RESULTS = Path("benchmarks") / "results"
_BENCH_KEYS = ("benchmark", "machine", "params", "notes", "targets", "rows")
_MACHINE_KEYS = ("date", "device", "cpu", "cores", "torch", "python", "commit")
_TARGET_KEYS = ("target", "measured", "threshold", "better", "unit", "met")
#: The order of issue 16's items; other benchmarks follow by name.
_BENCH_ORDER = ("book", "suite", "vq_attention", "lru_scan", "amos_step", "ode_nfe", "site")
_BENCH_TITLES = {
    "book": "Executing the chapters",
    "suite": "make test, part by part",
    "vq_attention": "Transformer-VQ attention at long lengths",
    "lru_scan": "LRU scans",
    "amos_step": "The Amos step",
    "ode_nfe": "ODE samplers: network evaluations",
    "site": "The static site: page weight",
    "gpu_check": "Every chapter at a GPU scale",
}


def _result_problems(data) -> list[str]:
    """What a results file lacks for the appendix (empty when it is complete)."""
    from collections.abc import Mapping

    if not isinstance(data, Mapping):
        return ["is not a JSON object"]
    problems = [f"has no {k!r}" for k in _BENCH_KEYS if k not in data]
    machine = data.get("machine", {})
    if not isinstance(machine, Mapping):
        problems.append("has a 'machine' that is not an object")
    else:
        problems += [f"has no machine[{k!r}]" for k in _MACHINE_KEYS if k not in machine]
    for key, fields in (("targets", _TARGET_KEYS), ("rows", ())):
        items = data.get(key, [])
        if not isinstance(items, list) or not all(isinstance(x, Mapping) for x in items):
            problems.append(f"has {key!r} that is not a list of objects")
        else:
            problems += [
                f"has a target without {f!r}" for f in fields if any(f not in x for x in items)
            ]
    return problems


def load_results(folder) -> list[dict]:
    """Every benchmark result in ``folder`` (``benchmarks/results``), checked, in page order.

    Each is the object ``benchmarks/common.py``'s ``save`` wrote (benchmark, machine, params,
    notes, targets, rows) with ``file``, its name, added.  A file the appendix could not show
    in full is a ``ValueError`` naming it.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path (str or PathLike), got {type(folder).__name__}")
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing directory, got {str(folder)!r}")
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"folder holds {path.name}, which is not JSON: {err}") from None
        problems = _result_problems(data)
        if problems:
            raise ValueError(f"folder holds {path.name}, which {'; '.join(problems)}")
        found.append({**data, "file": path.name})

    def order(r):
        name = r["benchmark"]
        rank = _BENCH_ORDER.index(name) if name in _BENCH_ORDER else len(_BENCH_ORDER)
        return (rank, name, r["machine"]["device"] != "cpu", r["file"])

    return sorted(found, key=order)


def _bench_value(v) -> str:
    """A table cell: floats to 4 significant digits, large numbers with separators."""
    import math

    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v) or v == 0:
            return str(v) if v else "0"
        if 1e4 <= abs(v) < 1e15:
            return f"{v:,.0f}"
        return f"{v:.4g}" if abs(v) >= 1e-3 else f"{v:.3e}"
    if isinstance(v, (list, dict)):
        text = json.dumps(v)
        return text if len(text) <= 60 else text[:57] + "..."
    return str(v)


def _param_text(v) -> str:
    """A setting as the page shows it; "" for one too long to show (the JSON keeps it)."""
    if isinstance(v, (list, tuple)) and all(not isinstance(x, (list, dict)) for x in v):
        text = "[" + ", ".join(_bench_value(x) for x in v) + "]"
    elif isinstance(v, dict):
        return ""
    else:
        text = _bench_value(v)
    return text if len(text) <= 80 else ""


def _bench_anchor(r) -> str:
    import re

    return "perf-" + re.sub(
        r"[^a-z0-9]+", "-", f"{r['benchmark']}-{r['machine']['device']}".lower()
    )


def _bench_title(r) -> str:
    device = str(r["machine"]["device"])
    title = _BENCH_TITLES.get(r["benchmark"], str(r["benchmark"]))
    return f"{title} ({device.upper() if device in ('cpu', 'cuda') else device})"


def _machine_line(m) -> str:
    date = str(m["date"]).replace("T", " ").replace("Z", " UTC")
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
    threads = f" (torch threads {m['torch_threads']})" if m.get("torch_threads") else ""
    load = m.get("load_average")
    load = f"; load average {', '.join(f'{x:.2f}' for x in load)} at the start" if load else ""
    return (
        f"Measured {date} on {m['cpu']}, {m['cores']} cores{threads}{gpu}; torch {m['torch']}, "
        f"Python {m['python']}, commit {m['commit'] or 'unknown'}{load}."
    )


def _bench_targets(targets) -> str:
    esc = html.escape
    if not targets:
        return "<p>No targets: these are figures to read.</p>"
    body = []
    for t in targets:
        sign = "≥" if t["better"] == "higher" else "≤"
        unit = esc(str(t["unit"] or ""))
        mark = "met" if t["met"] else "<strong class='deepnotes-bench-missed'>missed</strong>"
        body.append(
            f"<tr><td>{esc(str(t['target']))}</td><td>{_bench_value(t['measured'])}{unit}</td>"
            f"<td>{sign} {_bench_value(t['threshold'])}{unit}</td><td>{mark}</td></tr>"
        )
    return (
        '<div class="deepnotes-bench-scroll"><table class="table deepnotes-claims-table">'
        "<thead><tr><th>target</th><th>measured</th><th>threshold</th><th>met?</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _bench_rows(rows) -> str:
    esc = html.escape
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    nested = [
        c
        for c in columns
        if all(isinstance(r.get(c), (list, dict)) for r in rows if r.get(c) is not None)
        and any(r.get(c) is not None for r in rows)
    ]
    columns = [c for c in columns if c not in nested]
    if not rows:
        return "<p>No rows.</p>"
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(_bench_value(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    more = f"<p>The JSON also holds, per row: {esc(', '.join(nested))}.</p>" if nested else ""
    return (
        '<div class="deepnotes-bench-scroll"><table class="table deepnotes-claims-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"
    )


def benchmarks_html(results) -> str:
    """The Performance appendix body from :func:`load_results`'s list: a summary table, then
    per result its notes, machine, settings, targets (met or missed) and rows."""
    from collections.abc import Mapping

    if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, (list, tuple)):
        raise TypeError(
            f"results must be a list of benchmark results, got {type(results).__name__}"
        )
    for r in results:
        problems = _result_problems(r)
        if problems:
            raise ValueError(f"results holds an entry that {'; '.join(problems)}")
    esc = html.escape
    if not results:
        return (
            "<p>No benchmark results are committed yet: <code>make bench</code> writes them to "
            "<code>benchmarks/results/</code>.</p>"
        )
    targets = [t for r in results for t in r["targets"]]
    met = sum(bool(t["met"]) for t in targets)
    out = [f"<p>{len(results)} results; {met} of {len(targets)} targets met.</p>"]
    summary = "".join(
        f"<tr><td><a href='#{_bench_anchor(r)}'>{esc(_bench_title(r))}</a></td>"
        f"<td>{esc(str(r['machine']['date'])[:10])}</td>"
        f"<td>{sum(bool(t['met']) for t in r['targets'])} of {len(r['targets'])}</td></tr>"
        for r in results
    )
    out.append(
        '<table class="table deepnotes-claims-table" id="perf-summary"><thead><tr><th>benchmark'
        f"</th><th>measured</th><th>targets met</th></tr></thead><tbody>{summary}</tbody></table>"
    )
    for r in results:
        out.append(f"<h2 id='{_bench_anchor(r)}'>{esc(_bench_title(r))}</h2>")
        if r["notes"]:
            out.append(f"<p>{esc(str(r['notes']))}</p>")
        out.append(f"<p class='deepnotes-bench-machine'>{esc(_machine_line(r['machine']))}</p>")
        params = r["params"] if isinstance(r["params"], Mapping) else {}
        shown = [f"{k} = {_param_text(v)}" for k, v in params.items() if _param_text(v)]
        if shown:
            out.append(f"<p class='deepnotes-bench-machine'>Settings: {esc(', '.join(shown))}.</p>")
        out.append(_bench_targets(r["targets"]))
        out.append(_bench_rows(r["rows"]))
    return "\n".join(out)


class BenchmarksDirective(Directive):
    """``deepnotes-benchmarks``: every committed result of ``make bench``, read at build time
    (the page depends on each file, so a changed result rebuilds it); nothing is run."""

    has_content = False

    def run(self):
        env = self.state.document.settings.env
        folder = Path(env.srcdir) / RESULTS
        for path in sorted(folder.glob("*.json")):
            env.note_dependency(str(path))
        try:
            body = benchmarks_html(load_results(folder) if folder.is_dir() else [])
        except ValueError as err:
            raise self.error(f"deepnotes-benchmarks: {err}") from None
        return [nodes.raw("", body, format="html")]


def _write_css(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / STYLESHEET
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(CSS, encoding="utf-8")


def _start_ledger(app) -> None:
    os.environ["DEEPNOTES_CLAIMS_DIR"] = str(claims_dir(app))


# --------------------------------------------------------------------------- citations

#: ``key -> label`` over every bib file of the book, set when the builder starts.
_CITATION_LABELS: dict[str, str] = {}


def _load_citation_labels(app) -> None:
    """The labels of :func:`deepnotes.publish.author_year_labels`, so Colab copies match."""
    from deepnotes.publish import author_year_labels, bib_entries

    entries = {}
    for bibfile in app.config.bibtex_bibfiles:
        entries.update(bib_entries(Path(app.srcdir) / bibfile))
    _CITATION_LABELS.clear()
    _CITATION_LABELS.update(author_year_labels(entries))


def _register_citation_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.alpha import Style as AlphaStyle
    from pybtex.style.labels.alpha import LabelStyle as AlphaLabels
    from pybtex.style.sorting import BaseSortingStyle

    class LabelStyle(AlphaLabels):
        """The book-wide labels of ``_CITATION_LABELS`` (alpha labels for unknown keys)."""

        def format_labels(self, sorted_entries):
            sorted_entries = list(sorted_entries)
            fallback = list(super().format_labels(sorted_entries))
            for entry, other in zip(sorted_entries, fallback, strict=True):
                yield _CITATION_LABELS.get(entry.key, other)

    class SortingStyle(BaseSortingStyle):
        """Bibliographies in label order, so Su 2022a comes before Su 2022b."""

        def sorting_key(self, entry):
            return (_CITATION_LABELS.get(entry.key, entry.key).lower(), entry.key)

    class Style(AlphaStyle):
        default_label_style = "deepnotes"
        default_sorting_style = "deepnotes"

    register_plugin("pybtex.style.labels", "deepnotes", LabelStyle, force=True)
    register_plugin("pybtex.style.sorting", "deepnotes", SortingStyle, force=True)
    register_plugin("pybtex.style.formatting", "deepnotes", Style, force=True)


def setup(app):
    os.environ["DEEPNOTES_BUILD"] = "1"
    _register_citation_style()
    app.connect("builder-inited", _load_citation_labels)
    app.add_node(_PLACEHOLDER)
    app.add_directive("deepnotes-claims", _DIRECTIVE)
    app.add_directive("deepnotes-benchmarks", BenchmarksDirective)
    app.add_css_file(STYLESHEET)
    app.connect("builder-inited", _start_ledger)
    app.connect("doctree-resolved", _render_claims)
    app.connect("build-finished", _write_css)
    app.connect("html-page-context", _link_bundle)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _write_bundle)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}


# --------------------------------------------------------------------------- checks


def toc_files(root: Path) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` (and its root), as repository-relative paths without suffix."""
    import yaml

    root = _existing_path("root", root, "dir")
    if not (root / "_toc.yml").is_file():
        raise ValueError(f"root must be the book's folder, with a _toc.yml; {str(root)!r} has none")
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
    root = _existing_path("root", root, "dir")
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


def notebook_python(source: str):
    """Parse a code cell with ``ast``, blanking IPython magics (``%pip``) and shell lines."""
    import ast

    if not isinstance(source, str):
        raise TypeError(f"source must be a cell's source text (str), got {type(source).__name__}")
    lines = [
        line[: len(line) - len(line.lstrip())] + "pass"
        if line.lstrip().startswith(("%", "!"))
        else line
        for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError as err:
        raise ValueError(f"source is not valid Python: {err}") from None


def claim_calls(tree) -> list:
    """Every ``claim(...)`` / ``x.claim(...)`` call node under ``tree``."""
    import ast

    if not isinstance(tree, ast.AST):
        raise TypeError(f"tree must be an ast node (notebook_python's result), got {tree!r}")

    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and (
            (isinstance(n.func, ast.Name) and n.func.id == "claim")
            or (isinstance(n.func, ast.Attribute) and n.func.attr == "claim")
        )
    ]


def claim_ids(path: Path) -> list:
    """The literal ids of a notebook's ``claim(...)`` calls, in order (``None`` for a non-literal)."""
    import ast

    import nbformat

    path = _existing_path("path", path)
    ids = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for call in claim_calls(notebook_python(cell.source)):
            first = call.args[0] if call.args else None
            ids.append(first.value if isinstance(first, ast.Constant) else None)
    return ids


def strip_outputs(path: Path) -> bool:
    """Remove outputs and execution counts from a notebook in place; True if it changed."""
    import nbformat

    path = _existing_path("path", path)
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

    args = sys.argv[1:] if argv is None else _strings("argv", argv)
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
