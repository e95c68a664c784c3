"""make test, part by part (issue 16, item 1), from the JUnit XML of one run.

pytest's JUnit report (``pytest --junitxml=FILE``) gives each test's seconds, setup and teardown
included, in the order the tests ran.  This script sorts them into the parts of ``make test``:

* **unit tests**: ``tests/test_*.py`` except the files below;
* **nbval**: the cells of ``chapters/*.ipynb`` (each notebook executed once, in a kernel of its
  own; a notebook's kernel start falls in its first cell's setup);
* **book build**: the session fixture ``built_book`` (``tests/conftest.py``) builds the whole
  book, executing every notebook a second time; its setup is counted in the first test that
  asks for it, the first test of ``tests/test_book.py``, ``test_browser.py``,
  ``test_determinism.py`` or ``test_site.py`` in run order.  The build's seconds are that
  test's time less the median of the other tests of its file (``--book-build-seconds``
  overrides the estimate);
* **book, browser and site checks**: the rest of those files but determinism;
* **determinism**: ``tests/test_determinism.py`` (nbval's ledger against the book build's);
* **install**: ``--install-seconds`` (creating ``.venv`` from ``requirements.txt``, timed apart);
* **collection and other**: what the report's total holds beyond its tests (or, with
  ``--make-seconds``, the wall time of the ``make test`` command run after the install,
  everything it took beyond pytest's report: the toc check, Chromium's check).

The notebooks are executed twice (nbval, then the book build): the cost of the second
execution is reported as nbval's total and its share of ``make test``.  Target: ``make test``
<= 15 minutes from a fresh clone.  It reads a report; it runs nothing (seconds).

    /usr/bin/time -f "%e s %M KiB" make venv                    # install, from a fresh clone
    PYTEST_ADDOPTS=--junitxml=_build/junit.xml /usr/bin/time -f "%e s %M KiB" make test
    .venv/bin/python benchmarks/suite.py _build/junit.xml --install-seconds 95 \
        --make-seconds 800 --make-peak-kib 2500000

``%M`` is the peak resident memory of the largest single process the command ran (a kernel,
the Sphinx build), not of the whole tree; ``--make-book-seconds`` and ``--make-book-peak-kib``
(a separate ``make book`` run, timed the same way) add make book's row.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/common.py)

MAKE_TEST_SECONDS = 15 * 60.0
BOOK_FILES = ("test_book", "test_browser", "test_site", "test_determinism")
PARTS = (
    "install",
    "unit tests",
    "nbval",
    "book build",
    "book, browser and site checks",
    "determinism",
    "collection and other",
)


def read_junit(path: Path) -> tuple[list[dict], dict]:
    """The test cases, in run order (``classname``, ``name``, ``seconds``, ``outcome``), and
    the report's totals (``seconds``, ``tests``, ``failures``, ``errors``, ``skipped``)."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        raise ValueError(f"{path}: no <testsuite> in this file; is it pytest's --junitxml?")
    cases, totals = [], {"seconds": 0.0, "tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        totals["seconds"] += float(suite.get("time", 0))
        for key in ("tests", "failures", "errors", "skipped"):
            totals[key] += int(suite.get(key, 0))
        for case in suite.iter("testcase"):
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if case.find(tag) is not None:
                    outcome = tag
            cases.append(
                {
                    "classname": case.get("classname", ""),
                    "name": case.get("name", ""),
                    "seconds": float(case.get("time", 0)),
                    "outcome": outcome,
                }
            )
    return cases, totals


def part_of(classname: str) -> str:
    """Which part of make test a test case belongs to, from its JUnit ``classname``."""
    if classname.startswith("chapters.") and ".ipynb" in classname:
        return "nbval"
    module = classname.split(".")[1] if classname.startswith("tests.") else ""
    if module == "test_determinism":
        return "determinism"
    if module in BOOK_FILES:
        return "book, browser and site checks"
    return "unit tests"


def notebook_of(classname: str) -> str:
    """``chapters.00-toolbox.ipynb`` -> ``00-toolbox``."""
    return classname.removeprefix("chapters.").split(".ipynb")[0]


def breakdown(
    cases: list[dict],
    totals: dict,
    install_seconds: float | None = None,
    make_seconds: float | None = None,
    book_build_seconds: float | None = None,
) -> tuple[list[dict], dict]:
    """Rows (one per part, then one per notebook's nbval run) and the summary figures."""
    seconds = dict.fromkeys(PARTS, 0.0)
    counts = dict.fromkeys(PARTS, 0)
    for case in cases:
        part = part_of(case["classname"])
        seconds[part] += case["seconds"]
        counts[part] += 1
    book_cases = [c for c in cases if part_of(c["classname"]) != "unit tests"]
    book_cases = [c for c in book_cases if part_of(c["classname"]) != "nbval"]
    if book_build_seconds is None and book_cases:
        first = book_cases[0]
        rest = [c["seconds"] for c in book_cases[1:] if c["classname"] == first["classname"]] or [
            0.0
        ]
        book_build_seconds = max(first["seconds"] - statistics.median(rest), 0.0)
        first_part = part_of(first["classname"])
        seconds[first_part] -= book_build_seconds
    elif book_build_seconds is not None and book_cases:
        seconds[part_of(book_cases[0]["classname"])] -= book_build_seconds
    seconds["book build"] = book_build_seconds or 0.0
    seconds["install"] = install_seconds or 0.0
    in_tests = sum(c["seconds"] for c in cases)
    seconds["collection and other"] = max(totals["seconds"] - in_tests, 0.0)
    total = (install_seconds or 0.0) + totals["seconds"]
    if make_seconds is not None:  # the make test command, after the install
        seconds["collection and other"] += max(make_seconds - totals["seconds"], 0.0)
        total = (install_seconds or 0.0) + max(make_seconds, totals["seconds"])
    rows = [
        {
            "part": p,
            "seconds": seconds[p],
            "minutes": seconds[p] / 60,
            "percent": 100 * seconds[p] / total if total else 0.0,
            "tests": None if p in ("install", "book build", "collection and other") else counts[p],
        }
        for p in PARTS
    ]
    per_nb: dict[str, list[float]] = {}
    for case in cases:
        if part_of(case["classname"]) == "nbval":
            per_nb.setdefault(notebook_of(case["classname"]), []).append(case["seconds"])
    for nb, times in per_nb.items():
        rows.append(
            {
                "part": f"nbval {nb}",
                "seconds": sum(times),
                "minutes": sum(times) / 60,
                "percent": 100 * sum(times) / total if total else 0.0,
                "tests": len(times),
            }
        )
    rows.append(
        {
            "part": "make test",
            "seconds": total,
            "minutes": total / 60,
            "percent": 100.0,
            "tests": None,
        }
    )
    figures = {
        "total_seconds": total,
        "pytest_seconds": totals["seconds"],
        "nbval_seconds": seconds["nbval"],
        "book_build_seconds": seconds["book build"],
        "double_execution_share": seconds["nbval"] / total if total else 0.0,
        "install_included": install_seconds is not None,
    }
    return rows, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("junit", type=Path, help="pytest --junitxml report of a make test run")
    parser.add_argument("--install-seconds", type=float, help="time of creating .venv")
    parser.add_argument(
        "--make-seconds", type=float, help="wall time of make test, after make venv"
    )
    parser.add_argument("--make-book-seconds", type=float, help="wall time of make book (a row)")
    parser.add_argument("--make-peak-kib", type=float, help="make test's %%M of /usr/bin/time")
    parser.add_argument("--make-book-peak-kib", type=float, help="make book's %%M")
    parser.add_argument("--book-build-seconds", type=float, help="override the estimate")
    parser.add_argument("--device", default="cpu", choices=["cpu"], help="make test is CPU")
    parser.add_argument("--quick", action="store_true", help="no effect: this script is fast")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not args.junit.is_file():
        parser.error(f"{args.junit}: no such file; run pytest --junitxml={args.junit} first")
    cases, totals = read_junit(args.junit)
    rows, fig = breakdown(
        cases, totals, args.install_seconds, args.make_seconds, args.book_build_seconds
    )
    if args.make_book_seconds is not None:  # measured apart: not a part of make test
        rows.append(
            {
                "part": "make book (its own run, after make venv)",
                "seconds": args.make_book_seconds,
                "minutes": args.make_book_seconds / 60,
                "percent": None,
                "tests": None,
            }
        )
    peaks = {"make test": args.make_peak_kib, "make book": args.make_book_peak_kib}
    for row in rows:
        kib = next((v for k, v in peaks.items() if row["part"].startswith(k)), None)
        if kib is not None:
            row["peak_mib"] = kib / 1024
    targets = [
        common.target(
            "make test" + ("" if fig["install_included"] else " (install not included)"),
            fig["total_seconds"] / 60,
            MAKE_TEST_SECONDS / 60,
            "lower",
            " min",
        ),
        common.target(
            "failed or erroring tests", totals["failures"] + totals["errors"], 0, "lower"
        ),
    ]
    print(f"\nsuite: make test from {args.junit} ({totals['tests']} tests)")
    columns = ["part", "seconds", "minutes", "percent", "tests"]
    common.print_table(rows, columns + (["peak_mib"] if any("peak_mib" in r for r in rows) else []))
    if not fig["book_build_seconds"]:
        print("  this report has no book build (no test of tests/test_book.py and the like)")
    print(
        f"  the notebooks run twice: nbval {fig['nbval_seconds']:.0f} s and the book build "
        f"{fig['book_build_seconds']:.0f} s; dropping nbval's run would save "
        f"{100 * fig['double_execution_share']:.0f}% of make test"
    )
    common.print_targets(targets)
    notes = (
        "make test part by part, from pytest's JUnit report of one run (each test's time "
        "includes its setup). The book build is the setup of the session fixture built_book, "
        "counted in the first test that uses it (that test's time less the median of the "
        "rest of its file). Every notebook is executed twice, by nbval and by the book build: "
        f"nbval's {fig['nbval_seconds']:.0f} s ({100 * fig['double_execution_share']:.0f}% "
        "of make test) is the cost of the second execution."
        + ("" if fig["install_included"] else " Install time was not given, so not included.")
    )
    if not args.no_save:
        common.save(
            "suite",
            rows,
            targets,
            {
                "junit": str(args.junit),
                "install_seconds": args.install_seconds,
                "make_seconds": args.make_seconds,
                "make_book_seconds": args.make_book_seconds,
                "make_peak_kib": args.make_peak_kib,
                "make_book_peak_kib": args.make_book_peak_kib,
                "tests": totals["tests"],
                "failures": totals["failures"],
                "errors": totals["errors"],
                "skipped": totals["skipped"],
                **{k: v for k, v in fig.items() if k != "install_included"},
            },
            notes=notes,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
