#!/usr/bin/env python3
"""Remake docs/screenshot-quickstart.png, the README's picture of a chapter page.

    .venv/bin/python tools/readme_screenshot.py [--book target/book] [--out docs/screenshot-quickstart.png]

Needs a built book (./workbook.sh book). Opens the quickstart page in the same headless
Chromium as tools/bookcheck.py, lets MathJax and the plots finish, and captures the part of
the page from the heading of section 0.2 (maths, a code cell, its plot) at 80 % scale.
"""
from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bookcheck  # noqa: E402

HEIGHT = 800  # css px below the heading: its maths, the code cell, the whole plot, the next heading
SCALE = 0.8


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--book", default="target/book")
    p.add_argument("--out", default="docs/screenshot-quickstart.png")
    p.add_argument("--heading", default="0.2", help="capture from the first h2 starting with this")
    args = p.parse_args(argv)
    page = Path(args.book) / "00_quickstart.html"
    if not page.is_file():
        p.error(f"{page} not found: run ./workbook.sh book first")
    profile = tempfile.mkdtemp(prefix="readme-shot-")
    try:
        driver = bookcheck.start_browser(profile)
        try:
            driver.get(page.resolve().as_uri())
            info = driver.execute_async_script(bookcheck.INSPECT)
            top = driver.execute_script(
                "var want = arguments[0];"
                "var h = Array.prototype.find.call(document.querySelectorAll('h2'),"
                "  function (e) { return e.textContent.trim().indexOf(want) === 0; });"
                "return h ? h.getBoundingClientRect().top + window.scrollY - 12 : null;", args.heading)
            if top is None:
                p.error(f"no h2 starting with {args.heading!r} in {page}")
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": top, "width": bookcheck.WIDTH, "height": HEIGHT, "scale": SCALE}})
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    data = base64.b64decode(shot["data"])
    Path(args.out).write_bytes(data)
    print(f"{args.out}: {len(data) / 1024:.0f} KiB; page: {len(info['plots'])} plots, {info['maths']} maths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
