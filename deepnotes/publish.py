"""Reader-ready notebooks: the chapters with their MyST roles resolved, for Colab and plain Jupyter.

The book's notebooks speak MyST: ``{glue:text}`slope``` for a computed number, ``{cite}`key``` for
a reference, admonitions, exercises, labelled equations.  Only the book build resolves them; opened
in Colab they show as raw markup.  After a build, ::

    python -m deepnotes.publish _build  [OUT]        # make publish

writes ``OUT/chapters/NN-name.ipynb`` (default ``_build/notebooks``) for every chapter, in which

* glue roles are the values this build computed (``_build/claims/glue/<chapter>.json``, written by
  :func:`deepnotes.glue` while the chapter executed),
* citations are author-year text, and the ``{bibliography}`` block is the list of works cited,
* ``{eq}`` references are equation numbers, with ``\\tag{n}`` on the labelled equations,
* ``{numref}`` figure references are "Figure n", ``{doc}`` links are chapter titles,
* admonitions, exercises, solutions and dropdowns are plain Markdown (``<details>`` for dropdowns),
* outputs are stripped; code cells are unchanged.

:func:`leftover_markup` lists any MyST role or directive that survived; the tests require none.
``make publish`` also commits the copies to the ``notebooks`` branch, which the Colab launch
buttons open.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat

from deepnotes.book import _existing_path, _strings

__all__ = [
    "PublishError",
    "author_year_labels",
    "bib_entries",
    "leftover_markup",
    "main",
    "publish",
    "publish_chapter",
    "reference_line",
]

ROLE = re.compile(r"\{([a-z][\w:-]*)\}`([^`]*)`")
FENCE = re.compile(r"^(`{3,}|:{3,})\{([\w-]+)\}[ \t]*(.*)$")
EQ_LABEL = re.compile(r"\$\$\s*\(([\w-]+)\)")


class PublishError(ValueError):
    """A chapter cannot be made reader-ready (an unknown glue key, an unsupported directive)."""


# --------------------------------------------------------------------------- citations


def bib_entries(bibfile: Path) -> dict:
    """The bibliography's entries by key (pybtex)."""
    from pybtex.database import parse_file

    bibfile = _existing_path("bibfile", bibfile)
    return dict(parse_file(str(bibfile)).entries)


def author_year_labels(entries: dict) -> dict[str, str]:
    """``{key: "Su, 2022a"}``: first author's surname and year, a/b/c where they collide.

    Suffixes follow the order of the entries in the file, as the book's labels do.
    """
    if not isinstance(entries, Mapping):
        raise TypeError(f"entries must map keys to entries (bib_entries), got {entries!r}")
    for key, entry in entries.items():
        _check_entry("entries", key, entry)
    base = {}
    for key, entry in entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        surname = " ".join(people[0].last_names) if people else key
        if len(people) == 2:
            surname += " and " + " ".join(people[1].last_names)
        elif len(people) > 2:
            surname += " et al."
        surname = re.sub(r"[{}\\]", "", surname)
        base[key] = f"{surname}, {entry.fields.get('year', 'n.d.')}"
    counts: dict[str, int] = {}
    for b in base.values():
        counts[b] = counts.get(b, 0) + 1
    seen: dict[str, int] = {}
    labels = {}
    for key, b in base.items():
        if counts[b] > 1:
            labels[key] = b + "abcdefghijklmnopqrstuvwxyz"[seen.get(b, 0)]
            seen[b] = seen.get(b, 0) + 1
        else:
            labels[key] = b
    return labels


def _check_entry(name: str, key, entry) -> None:
    if not isinstance(key, str) or not (hasattr(entry, "persons") and hasattr(entry, "fields")):
        raise TypeError(
            f"{name} must hold pybtex entries by key (bib_entries), got {key!r}: {entry!r}"
        )


def reference_line(key: str, entry, label: str) -> str:
    """One line of the reference list: label, authors, year, title, venue, link."""
    _check_entry("entry", key, entry)
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    people = entry.persons.get("author") or []
    names = ", ".join(" ".join(p.first_names + p.middle_names + p.last_names) for p in people)
    f = entry.fields
    venue = (
        f.get("journal") or f.get("booktitle") or f.get("howpublished") or f.get("publisher", "")
    )
    url = f.get("url", "")
    text = f"- [{label}] {names}. {f.get('title', '')}. {venue} ({f.get('year', '')})."
    text = re.sub(r"[{}]", "", text)
    return text + (f" <{url}>" if url else "")


# --------------------------------------------------------------------------- one chapter


def _titles(chapters: Path) -> dict[str, str]:
    titles = {}
    for path in chapters.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        heading = next(
            (
                line[2:].strip()
                for c in nb.cells
                if c.cell_type == "markdown"
                for line in c.source.splitlines()
                if line.startswith("# ")
            ),
            path.stem,
        )
        titles[path.stem] = heading
    for path in chapters.glob("*.md"):
        first = next((x for x in path.read_text().splitlines() if x.startswith("# ")), path.stem)
        titles[path.stem] = first.lstrip("# ").strip()
    return titles


def _quote(lines: list[str]) -> list[str]:
    return [f"> {line}" if line.strip() else ">" for line in lines]


def _directives(text: str, state: dict) -> str:
    """Rewrite fenced directives into plain Markdown (nested fences handled by a stack)."""
    out: list[str] = []
    stack: list[tuple[str, str, list[str]]] = []  # (fence, name, body lines incl. title)
    lines = text.splitlines()
    raw_fence = None  # inside a plain code block (```python ... ```): copy lines as they are
    i = 0
    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        closing = stack and line.strip() == stack[-1][0]
        plain = re.match(r"^(`{3,}|~{3,})[\w+-]*\s*$", line)
        if raw_fence is not None:
            (stack[-1][2] if stack else out).append(line)
            if line.strip() == raw_fence:
                raw_fence = None
        elif plain and not closing:
            raw_fence = plain.group(1)
            (stack[-1][2] if stack else out).append(line)
        elif closing:
            fence, name, body = stack.pop()
            rendered = _render_directive(name, body, state)
            (stack[-1][2] if stack else out).extend(rendered)
        elif m:
            fence, name, arg = m.group(1), m.group(2), m.group(3).strip()
            options = []
            while (
                i + 1 < len(lines)
                and lines[i + 1].startswith(":")
                and not FENCE.match(lines[i + 1])
            ):
                i += 1
                options.append(lines[i])
            body = [f"\x00arg {arg}"] + [f"\x00opt {o}" for o in options]
            if name in ("solution-start", "solution-end", "exercise-start", "exercise-end"):
                # gated directives have no body: they open or close the span of cells between
                (stack[-1][2] if stack else out).extend(_render_directive(name, body, state))
                # their closing fence follows at once
                if i + 1 < len(lines) and lines[i + 1].strip() == fence:
                    i += 1
            else:
                stack.append((fence, name, body))
        else:
            (stack[-1][2] if stack else out).append(line)
        i += 1
    if stack:
        raise PublishError(f"unclosed directive {stack[-1][1]!r}")
    return "\n".join(out)


def _split(body: list[str]) -> tuple[str, dict[str, str], list[str]]:
    arg, options, rest = "", {}, []
    for line in body:
        if line.startswith("\x00arg "):
            arg = line[5:]
        elif line.startswith("\x00opt "):
            k, _, v = line[5:].lstrip(":").partition(":")
            options[k.strip()] = v.strip()
        else:
            rest.append(line)
    return arg, options, rest


ADMONITIONS = {"note", "tip", "important", "warning", "attention", "caution", "hint", "seealso"}


def _render_directive(name: str, body: list[str], state: dict) -> list[str]:
    arg, options, rest = _split(body)
    if name == "admonition":
        return _quote([f"**{arg}**", "", *rest]) + [""]
    if name in ADMONITIONS:
        title = arg or name.capitalize()
        return _quote([f"**{title}**", "", *rest]) + [""]
    if name == "dropdown":
        return [
            "<details>",
            f"<summary>{arg or 'Details'}</summary>",
            "",
            *rest,
            "",
            "</details>",
            "",
        ]
    if name in ("exercise", "exercise-start"):
        state["exercise"] += 1
        n = state["exercise"]
        if "label" in options:
            state["exercises"][options["label"]] = n
        title = f"**Exercise {n}**" + (f" ({arg})" if arg else "")
        return [title, "", *rest, ""]
    if name in ("exercise-end", "solution-end"):
        return []
    if name == "solution-start":
        n = state["exercises"].get(arg, "?")
        return [f"**Solution to exercise {n}** (the code cells below compute it)", ""]
    if name == "bibliography":
        state["bibliography"] = True
        return ["\x00BIBLIOGRAPHY"]
    if name == "math":
        label = options.get("label")
        tag = ""
        if label:
            state["eq"] += 1
            state["equations"][label] = state["eq"]
            tag = f" \\tag{{{state['eq']}}}"
        return ["$$", *rest, f"{tag}$$"] if tag else ["$$", *rest, "$$"]
    if name in ("figure", "image"):
        return [f"![{options.get('alt', '')}]({arg})", *rest]
    if name in ("code-cell", "code-block", "code"):
        return [f"```{arg}", *rest, "```"]
    if name == "deepnotes-claims":
        return ["(The table of checked claims is on the book's web page.)"]
    raise PublishError(f"directive {name!r} has no plain-Markdown form yet")


def _number_equations(text: str, state: dict) -> str:
    def tag(m):
        state["eq"] += 1
        state["equations"][m.group(1)] = state["eq"]
        return f"\\tag{{{state['eq']}}}$$"

    return EQ_LABEL.sub(tag, text)


def _roles(text: str, state: dict) -> str:
    def resolve(m):
        role, content = m.group(1), m.group(2)
        if role.startswith("glue"):
            key = content.strip()
            if key not in state["glue"]:
                raise PublishError(f"{state['chapter']}: no glued value for {key!r}")
            return state["glue"][key]
        if role.startswith("cite"):
            keys = [k.strip() for k in content.split(",")]
            unknown = [k for k in keys if k not in state["labels"]]
            if unknown:
                raise PublishError(f"{state['chapter']}: citation keys without labels {unknown}")
            state["cited"].extend(k for k in keys if k not in state["cited"])
            return "[" + "; ".join(state["labels"][k] for k in keys) + "]"
        if role == "eq":
            label = content.strip()
            return f"({state['equations'].get(label, label)})"
        if role == "numref":
            label = re.sub(r".*<(.+)>", r"\1", content).strip()
            return f"Figure {state['figures'].get(label, '?')}"
        if role in ("doc", "ref"):
            m2 = re.match(r"(.+?)\s*<(.+)>$", content)
            if m2:
                return m2.group(1)
            stem = Path(content.strip()).name
            return state["titles"].get(stem, content)
        if role == "math":
            return f"${content}$"
        if role in ("code", "command", "file", "kbd"):
            return f"`{content}`"
        return m.group(0)  # left for leftover_markup to report

    return ROLE.sub(resolve, text)


def publish_chapter(source: Path, glue: dict[str, str], entries: dict, labels: dict, titles: dict):
    """The reader-ready copy of one chapter notebook."""
    source = _existing_path("source", source)
    if source.suffix != ".ipynb":
        raise ValueError(f"source must be a notebook (.ipynb), got {str(source)!r}")
    for name, value in (
        ("glue", glue),
        ("entries", entries),
        ("labels", labels),
        ("titles", titles),
    ):
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
        if name != "entries" and not all(isinstance(v, str) for v in value.values()):
            raise TypeError(f"{name} must map names to text (str values), got {value!r}")
    for key, entry in entries.items():
        _check_entry("entries", key, entry)
    nb = nbformat.read(source, as_version=4)
    state = {
        "chapter": source.stem,
        "glue": glue,
        "labels": labels,
        "titles": titles,
        "cited": [],
        "eq": 0,
        "equations": {},
        "exercise": 0,
        "exercises": {},
        "figures": {},
        "bibliography": False,
    }
    figure = 0
    for cell in nb.cells:  # figures are numbered in order, as the book does within a page
        name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
        if cell.cell_type == "code" and name:
            figure += 1
            state["figures"][name] = figure
    for cell in nb.cells:  # equations first, so a reference may come before its equation
        if cell.cell_type == "markdown":
            cell.source = _number_equations(cell.source, state)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _roles(_directives(cell.source, state), state)
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption")
            if caption:
                cell.metadata["caption"] = caption
    missing = [k for k in state["cited"] if k not in entries]
    if missing:
        raise PublishError(f"{source.stem}: cited keys missing from entries: {missing}")
    refs = [reference_line(k, entries[k], labels[k]) for k in state["cited"]]
    listing = "\n".join(refs) if refs else "(no works cited)"
    placed = False
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "\x00BIBLIOGRAPHY" in cell.source:
            cell.source = cell.source.replace("\x00BIBLIOGRAPHY", listing)
            placed = True
    if refs and not placed:
        nb.cells.append(nbformat.v4.new_markdown_cell("## References\n\n" + listing))
    nb.metadata["deepnotes"] = {"reader_ready": True, "source": f"chapters/{source.name}"}
    return nb


def leftover_markup(nb) -> list[str]:
    """MyST roles and directives left in a notebook's Markdown (empty for a reader-ready copy)."""
    if not isinstance(getattr(nb, "cells", None), list):
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), got {type(nb).__name__}")
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for m in ROLE.finditer(cell.source):
            found.append(f"cell {i}: role {m.group(0)[:60]}")
        for line in cell.source.splitlines():
            if FENCE.match(line):
                found.append(f"cell {i}: directive {line[:60]}")
            if EQ_LABEL.search(line):
                found.append(f"cell {i}: labelled equation {line[:60]}")
        if "\x00" in cell.source:
            found.append(f"cell {i}: internal marker left")
    return found


def publish(build: Path, out: Path, root: Path | None = None) -> list[Path]:
    """Write the reader-ready copy of every chapter; return their paths."""
    build = _existing_path("build", build, "dir")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path (str or PathLike), got {type(out).__name__}")
    root = Path.cwd() if root is None else _existing_path("root", root, "dir")
    chapters = root / "chapters"
    if not (chapters / "references.bib").is_file():
        raise ValueError(
            f"root must be the book's folder (chapters/references.bib), got {str(root)!r}"
        )
    entries = bib_entries(chapters / "references.bib")
    labels = author_year_labels(entries)
    titles = _titles(chapters)
    written = []
    for source in sorted(chapters.glob("*.ipynb")):
        glue_file = Path(build) / "claims" / "glue" / f"{source.stem}.json"
        if not glue_file.exists():
            raise PublishError(
                f"no glued values for {source.stem}: build the book first ({glue_file})"
            )
        glue = json.loads(glue_file.read_text(encoding="utf-8"))
        nb = publish_chapter(source, glue, entries, labels, titles)
        left = leftover_markup(nb)
        if left:
            raise PublishError(f"{source.name}: MyST markup left:\n  " + "\n  ".join(left))
        target = Path(out) / "chapters" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else _strings("argv", argv)
    if not args or len(args) > 2:
        print("usage: python -m deepnotes.publish BUILD_DIR [OUT_DIR]", file=sys.stderr)
        return 2
    build = Path(args[0])
    out = Path(args[1]) if len(args) > 1 else build / "notebooks"
    try:
        for path in publish(build, out):
            print(f"wrote {path}")
    except ValueError as err:  # a PublishError, or a build folder that does not exist
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
