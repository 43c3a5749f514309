#!/usr/bin/env python3
"""Tests of the site build (tools/book.py) on small notebooks made here; no kernel, no browser.

    .venv/bin/python tests/book/test_book_build.py      (run by ./workbook.sh test)

What a reader must be able to trust: a notebook whose run failed, or that never ran, is named
on stderr, makes the build fail and is not published as a complete chapter; titles and seed
sections come from the metadata or the headings; prev/next skip incomplete chapters and work
from nested folders; figures (plotly's JSON MIME type) are drawn with one shared local plotly.js.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import unittest
from html.parser import HTMLParser

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import book  # noqa: E402

# A stand-in for plotly.min.js: the real header.
BUNDLE = "/**\n* plotly.js v4.1.1\n* Copyright 2012-2026, Plotly, Inc.\n*/\nwindow.Plotly = {};"
# A figure as `plot::show` displays it; a title that would end a <script> if pasted raw.
FIGURE = {"data": [{"type": "scatter", "x": [0, 1], "y": [1, 0]}],
          "layout": {"title": {"text": "a </script> b"}}, "config": {}}


def figure_output(count: int):
    return new_output("execute_result", data={"application/vnd.plotly.v1+json": FIGURE},
                      execution_count=count)


def notebook(title: str, seeds=None, heading_seeds: str = "", with_plotly: bool = False):
    cells = [new_markdown_cell(f"# {title}\n\nIntro."),
             new_code_cell(":dep diffusion_sde = { path = \"..\" }"),
             new_code_cell("use diffusion_sde::prelude::*;"),
             new_markdown_cell(f"## 1.1 Part one{heading_seeds}\n\n$x^2$"),
             new_code_cell("plot::show(&p)")]
    nb = new_notebook(cells=cells)
    if seeds is not None:
        nb.metadata["workbook"] = {"title": title.upper(), "seeds": seeds}
    return nb


def executed(nb, status="passed", failure=None, run_all=True):
    ex = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    count = 0
    for cell in ex.cells:
        if cell.cell_type != "code":
            continue
        if not run_all and count >= 1:
            break
        count += 1
        cell.execution_count = count
        if "plot::show" in cell.source:
            cell.outputs = [figure_output(count)]
    result = {"status": status, "quick": False}
    if failure:
        result["failure"] = failure
    ex.metadata["nbrun_result"] = result
    return ex


class Tags(HTMLParser):
    """The <a rel=...> links and <script src=...> of a page (attribute order does not matter)."""

    def __init__(self, text):
        super().__init__()
        self.links, self.scripts = {}, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("rel"):
            self.links[a["rel"]] = a.get("href")
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])


class BookBuild(unittest.TestCase):
    maxDiff = 2000

    def assertContains(self, text, part):
        if part not in text:
            self.fail(f"{part!r} not in the page/output ({len(text)} chars)")

    def assertLacks(self, text, part):
        if part in text:
            self.fail(f"{part!r} unexpectedly in the page/output")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = self.tmp.name
        self.src, self.exe, self.out, mj = (os.path.join(root, d) for d in ("nb", "ex", "book", "mathjax"))
        for d in (self.src, self.exe, mj):
            os.makedirs(d)
        with open(os.path.join(mj, "MathJax.js"), "w") as f:
            f.write("// stand-in\n")
        self.mathjax = mj
        self.plotly_js = os.path.join(root, "plotly.min.js")
        with open(self.plotly_js, "w") as f:
            f.write(BUNDLE)

    def tearDown(self):
        self.tmp.cleanup()

    def put(self, rel, source, run=None):
        for base, nb in ((self.src, source), (self.exe, run)):
            if nb is None:
                continue
            path = os.path.join(base, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            nbformat.write(nb, path)

    def build(self):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = book.main(["--notebooks", self.src, "--executed", self.exe, "--out", self.out,
                              "--mathjax", self.mathjax, "--plotly-js", self.plotly_js])
        return code, err.getvalue()

    def page(self, rel):
        with open(os.path.join(self.out, rel), encoding="utf-8") as f:
            return f.read()

    def test_complete_book(self):
        a = notebook("0 · Quickstart", seeds="seed 001 §3.3")
        b = notebook("SDE basics", heading_seeds=" (seed 000 §1.1, seed 003)")
        e = notebook("Exercise one", seeds=["seed 000 §一", "seed 003"])
        self.put("00_a.ipynb", a, executed(a))
        self.put("01_b.ipynb", b, executed(b))
        self.put("exercises/ex1.ipynb", e, executed(e))
        code, err = self.build()
        self.assertEqual(code, 0, err)
        index = self.page("index.html")
        # Titles and seeds: metadata first, else the first heading and the headings' seed refs.
        self.assertIn('<a href="00_a.html">0 · QUICKSTART</a>', index)
        self.assertIn("seed 001 §3.3", index)
        self.assertIn('<a href="01_b.html">SDE basics</a>', index)
        self.assertIn("seed 000 §1.1 · seed 003", index)
        self.assertIn('<a href="exercises/ex1.html">EXERCISE ONE</a>', index)
        self.assertIn("seed 000 §一, seed 003", index)
        self.assertIn("<h2>exercises/</h2>", index)
        # prev/next, relative from a nested folder; MathJax and plotly.js relative too.
        a_html, ex_html = self.page("00_a.html"), self.page("exercises/ex1.html")
        a_tags, ex_tags = Tags(a_html), Tags(ex_html)
        self.assertEqual(a_tags.links, {"next": "01_b.html"})
        self.assertEqual(ex_tags.links, {"prev": "../01_b.html"})
        self.assertEqual(Tags(self.page("01_b.html")).links, {"prev": "00_a.html", "next": "exercises/ex1.html"})
        self.assertIn("../mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe", ex_tags.scripts)
        self.assertIn("../assets/plotly.min.js", ex_tags.scripts)
        self.assertIn("assets/plotly.min.js", a_tags.scripts)
        # Each figure: a div and its newPlot call with the figure's JSON; plotly.js is one file.
        for html in (a_html, ex_html):
            self.assertLacks(html, "window.Plotly = {}")
            m = re.search(r'Plotly\.newPlot\("(fig-\d+)", \{', html)
            self.assertIsNotNone(m, "no Plotly.newPlot call")
            self.assertRegex(html, rf'<div class="plotly-graph-div" id="{m.group(1)}"')
            self.assertContains(html, '"a <\\/script> b"')
            self.assertLacks(html, "application/vnd.plotly.v1+json")
        with open(os.path.join(self.out, "assets", "plotly.min.js"), encoding="utf-8") as f:
            self.assertEqual(f.read(), BUNDLE)
        self.assertEqual(sorted(os.listdir(os.path.join(self.out, "assets"))), ["plotly.min.js"])
        self.assertTrue(os.path.isfile(os.path.join(self.out, "mathjax", "MathJax.js")))
        self.assertLacks(a_html, "data-workbook-status")  # the failure banner

    def test_failed_and_unexecuted_notebooks_are_named_and_not_published_as_complete(self):
        ok1, bad, never, stale, partial, ok2 = (notebook(f"Chapter {i}") for i in range(6))
        self.put("00_ok.ipynb", ok1, executed(ok1))
        self.put("01_bad.ipynb", bad, executed(bad, "failed", "cell 4 `plot::show(&p)`: panic: boom"))
        self.put("02_never.ipynb", never)  # no executed copy
        run = executed(stale)
        del run.metadata["nbrun_result"]  # e.g. copied from JupyterLab, not written by the runner
        self.put("03_stale.ipynb", stale, run)
        self.put("04_partial.ipynb", partial, executed(partial, run_all=False))
        self.put("05_ok.ipynb", ok2, executed(ok2))
        self.put("06_garbled.ipynb", notebook("Chapter 6"))
        with open(os.path.join(self.exe, "06_garbled.ipynb"), "w") as f:
            f.write('{"cells": [')  # a run cut off while writing
        code, err = self.build()
        self.assertEqual(code, 1)
        for name in ("01_bad", "02_never", "03_stale", "04_partial", "06_garbled"):
            self.assertIn(os.path.join(self.src, f"{name}.ipynb"), err)
        self.assertIn("panic: boom", err)
        self.assertNotIn("00_ok", err)
        index = self.page("index.html")
        # A failed run: its page exists (to show where it stopped), bannered, marked in the index.
        self.assertRegex(index, r'01_bad</td><td><a href="01_bad.html">Chapter 1</a><div class=state>'
                                r'<span class="bad">FAILED</span> cell 4')
        self.assertContains(self.page("01_bad.html"), 'data-workbook-status="failed"')
        self.assertContains(self.page("01_bad.html"), "panic: boom")
        self.assertRegex(index, r'04_partial</td><td><a href="04_partial.html">Chapter 4</a><div class=state>'
                                r'<span class="bad">FAILED</span> cell 2 was never executed')
        # Never executed (or not by the runner): no page, no link.
        for name, title in (("02_never", "Chapter 2"), ("03_stale", "Chapter 3"), ("06_garbled", "Chapter 6")):
            self.assertFalse(os.path.exists(os.path.join(self.out, f"{name}.html")))
            self.assertNotIn(f'href="{name}.html"', index)
            self.assertRegex(index, rf'{name}</td><td>{title}<div class=state><span class="bad">NOT EXECUTED')
        self.assertIn("5 of 7 notebook(s) are not complete", index)
        self.assertIn("executed copy unreadable", index)
        # The chain of chapters skips all of them.
        self.assertEqual(Tags(self.page("00_ok.html")).links, {"next": "05_ok.html"})
        self.assertEqual(Tags(self.page("05_ok.html")).links, {"prev": "00_ok.html"})
        self.assertEqual(Tags(self.page("01_bad.html")).links, {})

    def test_pages_without_figures_load_no_plotly(self):
        a = notebook("A")
        run = executed(a)
        run.cells[4].outputs = []
        self.put("a.ipynb", a, run)
        code, err = self.build()
        self.assertEqual(code, 0, err)
        self.assertFalse(os.path.exists(os.path.join(self.out, "assets")))
        self.assertEqual([s for s in Tags(self.page("a.html")).scripts if "plotly" in s], [])

if __name__ == "__main__":
    unittest.main(verbosity=2)
