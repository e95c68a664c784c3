"""Screenshot built pages in headless Chromium (not a test; a tool for looking at what we make).

    .venv/bin/python tests/screenshot.py _build/html/chapters/01-deepnet.html /tmp/ch1.png [--width 1280]

Serves the page's HTML folder on 127.0.0.1, blocks every other host, and writes one full-page PNG
(``--clip-height`` cuts it into several PNGs of that height, ``out-0.png``, ``out-1.png``, ... so a
long page can be read in the file viewer).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

from chromium import ARGS, CHROMIUM  # noqa: E402  (tests/chromium.py)
from playwright.sync_api import sync_playwright


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("page", type=Path, help="an HTML file inside a built book")
    p.add_argument("out", type=Path)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--clip-height", type=int, default=0)
    p.add_argument("--root", type=Path, default=None, help="the site root (default: _build/html)")
    a = p.parse_args()
    page = a.page.resolve()
    root = (a.root or next(q for q in page.parents if (q / "_static").is_dir())).resolve()
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{page.relative_to(root).as_posix()}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": a.width, "height": 900})
        tab.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
        tab.on("console", lambda m: m.type == "error" and print("console error:", m.text))
        tab.goto(url, wait_until="networkidle")
        tab.wait_for_timeout(1500)
        if a.clip_height:
            total = tab.evaluate("document.documentElement.scrollHeight")
            for i, top in enumerate(range(0, total, a.clip_height)):
                out = a.out.with_name(f"{a.out.stem}-{i}{a.out.suffix}")
                h = min(a.clip_height, total - top)
                tab.screenshot(
                    path=str(out),
                    full_page=True,
                    clip={"x": 0, "y": top, "width": a.width, "height": h},
                )
                print(out)
        else:
            tab.screenshot(path=str(a.out), full_page=True)
            print(a.out)
        browser.close()
    httpd.shutdown()


if __name__ == "__main__":
    main()
