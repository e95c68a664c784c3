# deepnotes: two commands do everything.
#   make book   install the toolchain into .venv and build the static book (every notebook executed)
#   make test   install the toolchain and run every check (unit, notebooks, book build, browser)
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
PORT   ?= 8000

.PHONY: bench gpu-check publish colab-check help venv book page test lint serve clean strip check-python check-toc browser-deps

help:
	@echo "make book   build the static book into _build/html (creates .venv first)"
	@echo "make test   run every check: unit tests, notebooks (nbval), book build, browser test"
	@echo "make page NB=chapters/NN-name.ipynb   build one chapter alone (for writing it)"
	@echo "make publish      reader-ready notebooks (roles resolved) on the notebooks branch"
	@echo "make colab-check  run every chapter in a Colab-pinned environment with live widgets"
	@echo "make bench  every benchmark (speed, memory, page weight; CUDA too if present) -> benchmarks/results"
	@echo "make gpu-check  every chapter at a GPU SCALE on CUDA, with the GPU benchmarks"
	@echo "make serve  serve _build/html on http://localhost:$(PORT)"
	@echo "make lint   ruff on the package, tests and notebooks"
	@echo "make strip  remove outputs from chapters/*.ipynb"
	@echo "make clean  remove _build, caches and .venv"

check-python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or newer (or run make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); the book needs Python 3.11 or newer (make PYTHON=...)" >&2; exit 1; }

$(STAMP): requirements.txt pyproject.toml
	$(MAKE) --no-print-directory check-python
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip || { echo "error: pip could not reach the package registry (PyPI); check the network or a proxy" >&2; exit 1; }
	# requirements.txt is a complete lock (every package pinned), so no resolver run is needed
	$(BIN)/python -m pip install --no-deps -r requirements.txt || { echo "error: installing requirements.txt failed (see above); is the package registry reachable?" >&2; exit 1; }
	touch $(STAMP)

venv: $(STAMP)

check-toc: venv
	$(BIN)/python -m deepnotes.book check || { echo "error: _toc.yml and chapters/*.ipynb disagree (see above); fix _toc.yml before building" >&2; exit 1; }

book: venv check-toc
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --builder html -n -W --keep-going
	test -f _build/html/index.html || { echo "error: the build produced no _build/html/index.html" >&2; exit 1; }
	@echo "book: _build/html/index.html"

# One chapter alone, for looking at it while writing it: make page NB=chapters/01-deepnet.ipynb
# builds intro + that notebook + the back matter into _build/page-<stem>/html (only it is executed).
page: venv
	test -n "$(NB)" || { echo "usage: make page NB=chapters/NN-name.ipynb" >&2; exit 1; }
	stem=$$(basename "$(NB)" .ipynb)
	out=_build/page-$$stem
	mkdir -p $$out
	printf 'format: jb-book\nroot: chapters/intro\nchapters:\n  - file: chapters/%s\n  - file: chapters/checks\n  - file: chapters/performance\n  - file: chapters/bibliography\n' "$$stem" > $$out/_toc.yml
	$(BIN)/jupyter-book build . --toc $$out/_toc.yml --path-output $$out --builder html
	@echo "page: $$out/_build/html/chapters/$$stem.html"

# Reader-ready copies of the chapters (MyST roles resolved) from the last book build, written to
# _build/notebooks and committed to the local `notebooks` branch, which the Colab buttons open
# (push it to publish). Needs a build: make book (or make test) first.
publish: venv
	test -f _build/html/index.html || { echo "error: no built book; run make book first" >&2; exit 1; }
	$(BIN)/python -m deepnotes.publish _build _build/notebooks
	idx=$$(mktemp); rm -f $$idx
	GIT_INDEX_FILE=$$idx git --work-tree=_build/notebooks add -A chapters
	tree=$$(GIT_INDEX_FILE=$$idx git write-tree); rm -f $$idx
	parent=$$(git rev-parse -q --verify refs/heads/notebooks || true)
	commit=$$(git commit-tree $$tree $${parent:+-p $$parent} -m "Reader-ready notebooks built from main $$(git rev-parse --short HEAD)")
	git update-ref refs/heads/notebooks $$commit
	@echo "publish: branch notebooks at $$(git rev-parse --short notebooks) (git push origin notebooks)"

# The Colab contract (tests/colab/contract.py): Colab's package set, the install cell, every
# reader-ready chapter executed with live widgets. Needs a build (it publishes the copies first).
colab-check: venv
	test -f _build/html/index.html || { echo "error: no built book; run make test or make book first" >&2; exit 1; }
	$(BIN)/python -m deepnotes.publish _build _build/notebooks
	$(BIN)/python tests/colab/contract.py --notebooks _build/notebooks/chapters

browser-deps:
	@if [ ! -x $(CHROMIUM) ]; then
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	    echo "installing Debian's chromium for the browser test"
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	  else
	    echo "error: the browser test needs Chromium at $(CHROMIUM); install it (Debian: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium" >&2; exit 1
	  fi
	fi

test: venv check-toc browser-deps
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest

# Benchmarks (benchmarks/run_all.py): tables printed, results saved to benchmarks/results/*.json,
# which the book's Performance appendix renders. Build the book first for the page-weight part.
bench: venv
	$(BIN)/python benchmarks/run_all.py

# Every chapter at a GPU SCALE with DEEPNOTES_DEVICE=cuda, and the GPU benchmarks; exit 2 without CUDA.
gpu-check: venv
	$(BIN)/python benchmarks/gpu_check.py

lint: venv
	$(BIN)/ruff check deepnotes tests benchmarks chapters conftest.py
	$(BIN)/ruff format --check deepnotes tests benchmarks chapters conftest.py

serve:
	test -f _build/html/index.html || { echo "error: no built book; run make book first" >&2; exit 1; }
	$(PYTHON) -m http.server $(PORT) --directory _build/html

strip: venv
	$(BIN)/python -m deepnotes.book strip chapters/*.ipynb

clean:
	rm -rf _build .pytest_cache .ruff_cache .jupyter_cache $(VENV)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
