"""Weight of the built pages and speed of the live explorer.

1. Page weight: for every chapter page of ``_build/html``, the HTML itself plus
   every local asset it references (scripts, stylesheets, images), split into
   per-page assets (images under ``_images``, the page) and shared ones (theme,
   MathJax, the Vega bundle, cached by the browser across pages).
2. Live redraw: the toolbox explorer's ``LiveFigure.draw`` timed on a cold and a
   warm cache (the warm one is what a reader feels when moving back and forth).

Run after ``make book``: ``.venv/bin/python benchmarks/figures.py``.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


def local_assets(page: Path) -> list[Path]:
    text = page.read_text(encoding="utf-8")
    refs = re.findall(r'<(?:script|img|link)[^>]+(?:src|href)="([^"#]+)"', text)
    out = []
    for ref in refs:
        if urlparse(ref).scheme:
            continue
        target = (page.parent / Path(urlparse(ref).path)).resolve()
        if target.is_file() and target.suffix in {
            ".js",
            ".css",
            ".png",
            ".svg",
            ".jpg",
            ".woff",
            ".woff2",
        }:
            out.append(target)
    return sorted(set(out))


def page_weights() -> None:
    if not (HTML / "index.html").exists():
        raise SystemExit("error: no _build/html; run `make book` first")
    print(
        f"{'page':<28} {'HTML kB':>8} {'own images kB':>14} {'shared assets kB':>17} {'of which Vega kB':>17}"
    )
    for page in sorted((HTML / "chapters").glob("*.html")):
        assets = local_assets(page)
        own = [a for a in assets if "_images" in a.parts]
        shared = [a for a in assets if a not in own]
        vega = [a for a in shared if a.name == "deepnotes-vega.js"]
        kb = lambda files: sum(f.stat().st_size for f in files) / 1024  # noqa: E731
        print(
            f"{page.name:<28} {page.stat().st_size / 1024:>8.1f} {kb(own):>14.1f} {kb(shared):>17.1f} {kb(vega):>17.1f}"
        )
    bundle = HTML / "_static" / "deepnotes-vega.js"
    mathjax = sum(
        f.stat().st_size for f in (HTML / "_static" / "mathjax").rglob("*") if f.is_file()
    )
    print(
        f"shared Vega bundle: {bundle.stat().st_size / 1024:.1f} kB (one file for the whole site)"
    )
    print(f"MathJax (served locally, loaded on demand): {mathjax / 1024:.1f} kB on disk")


def live_redraw() -> None:
    """Move the toolbox explorer's live slider through every setting, twice, and time each redraw."""
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt
    import numpy as np
    import sympy as sp
    import torch

    from deepnotes import linear
    from deepnotes.theory import toolbox as th
    from deepnotes.viz import Slider, explore

    # Render each frame to PNG as Jupyter's inline backend does on plt.show().
    plt.show = lambda *args, **kwargs: plt.gcf().savefig(io.BytesIO(), format="png")
    torch.set_num_threads(1)
    gains = (0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25)
    layers = np.arange(1, 25)
    gen = torch.Generator().manual_seed(0)

    def frame(gain):
        moments = linear.random_linear_chain_moment(
            128, 24, gain, batch=256, trials=16, generator=gen
        )
        return {"layer": layers.tolist(), "m": moments, "curve": ["measured"] * 24}

    theory = {
        "g^(2L)": th.depth_second_moment().subs({th.g: sp.Symbol("gain"), th.L: sp.Symbol("layer")})
    }
    box = explore(
        frame,
        [Slider("gain", gains, default=1.0)],
        x="layer",
        y="m",
        series="curve",
        theory=theory,
        logy=True,
        mode="live",
    )
    slider, live = box.controls["gain"], box.figure
    for gain in gains:  # first visit: compute + draw
        slider.value = gain
    cold = list(live.redraw_seconds[1:])
    for gain in reversed(gains):  # second visit: cached data, draw only
        slider.value = gain
    warm = live.redraw_seconds[1 + len(cold) :]
    print(
        f"live redraw, toolbox explorer ({len(cold)} + {len(warm)} slider moves): "
        f"first visit median {statistics.median(cold) * 1e3:.0f} ms, "
        f"revisit (cached) median {statistics.median(warm) * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    page_weights()
    live_redraw()
