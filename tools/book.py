#!/usr/bin/env python3
"""Build the workbook's static site (target/book/) from notebooks the runner executed.

    book.py --notebooks notebooks --executed target/executed --out target/book --mathjax DIR

One site build for `./workbook.sh book` (full size) and `./workbook.sh test` (WORKBOOK_QUICK=1):
both first run tools/nbrun.py with --output-dir, then this, then tools/bookcheck.py over the
result. Nothing here executes a notebook.

  * Every notebook under --notebooks (nested folders too, e.g. exercises/) is one entry, in the
    runner's order (paths sorted bytewise). Its executed copy is --executed/<same path>.
  * Title and seed sections: the notebook's metadata
        "workbook": {"title": "...", "seeds": "seed 000 §一, seed 003"}
    ("seeds" may also be a list of strings); without it the title is the first markdown
    heading and the seeds are the "seed NNN §x.y" references found in the headings.
  * Pages: nbconvert HTML (tools/book.html.j2) with a bar of previous/next/contents links,
    MathJax 2 from the local copy in mathjax/, and the figures (`plot::show`: plotly's JSON
    MIME type, no plotly.js in the notebook) drawn by one shared assets/plotly.min.js, a copy
    of --plotly-js (default: the `plotly` Python package's, the version JupyterLab draws with).
    Everything is referenced relatively: the folder works offline, from file:// or any server.
  * Bad input. Only a run that passed (metadata "nbrun_result" written by nbrun.py, status
    "passed", every code cell executed) is published as a chapter. A run that failed gets its
    page (to show where it stopped) under a red banner naming the failure, is listed in the
    index as FAILED and left out of the previous/next chain. A notebook with no executed copy,
    or a copy without a recorded run, gets no page and is listed as NOT EXECUTED. Each is
    reported by name on stderr and the exit status is 1.
  * book.json beside index.html lists the pages and their status (read by bookcheck.py).
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field

import nbformat
from nbconvert import HTMLExporter

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
RESULT_KEY = "nbrun_result"  # written by nbrun.py --output-dir
META_KEY = "workbook"  # {"title": ..., "seeds": ...} in a notebook's metadata
PLOTLY_ASSET = "assets/plotly.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"  # a figure as plot::show displays it
SITE_TITLE = "Diffusion models through SDEs and ODEs — the workbook"

# plotly.min.js starts with its licence header "/** * plotly.js v4.1.1 ...".
PLOTLY_HEADER = re.compile(r"\s*/\*[\s*]*plotly\.js v(\d[\w.+-]*)")

HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.M)
SEED_REF = re.compile(r"seeds?\s+(\d{3})((?:\s*(?:§|appendix\s+)\s*[^\s,;)()]+)?)", re.I)


@dataclass
class Entry:
    rel: str  # path under notebooks/, e.g. "exercises/ex01.ipynb"
    title: str
    seeds: str
    status: str  # "complete" | "failed" | "not executed"
    reason: str = ""
    quick: bool = False
    page: str | None = None  # site-relative .html path when a page is written
    prev: "Entry | None" = field(default=None, repr=False)
    next: "Entry | None" = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.rel[: -len(".ipynb")]


# ---------------------------------------------------------------- titles and seeds
def plain(md: str) -> str:
    """A markdown heading as plain text."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", md)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return re.sub(r"\s+", " ", text).strip()


def headings(nb) -> list[tuple[int, str]]:
    out = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            out += [(len(m.group(1)), plain(m.group(2))) for m in HEADING.finditer(cell.source)]
    return out


def seeds_from_headings(heads: list[tuple[int, str]]) -> str:
    """'seed 000 §2.1, §2.2 · seed 001 §3.3' from the seed references in the headings."""
    by_seed: dict[str, list[str]] = {}
    for _, text in heads:
        for m in SEED_REF.finditer(text):
            sections = by_seed.setdefault(m.group(1), [])
            sec = re.sub(r"\s+", " ", m.group(2)).strip()
            if sec and sec not in sections:
                sections.append(sec)
    parts = []
    for seed, sections in by_seed.items():
        shown = sections[:4] + (["…"] if len(sections) > 4 else [])
        parts.append(f"seed {seed}" + (" " + ", ".join(shown) if shown else ""))
    return " · ".join(parts)


def describe(nb, rel: str) -> tuple[str, str]:
    """(title, seeds) of a notebook: its metadata, else its headings, else its file name."""
    meta = nb.metadata.get(META_KEY) if nb is not None else None
    meta = meta if isinstance(meta, dict) else {}
    heads = headings(nb) if nb is not None else []
    title = meta.get("title") or (heads[0][1] if heads else "") or os.path.basename(rel)[: -len(".ipynb")]
    seeds = meta.get("seeds") or ""
    if isinstance(seeds, list):
        seeds = ", ".join(str(s) for s in seeds)
    return str(title), str(seeds) or seeds_from_headings(heads)


# ---------------------------------------------------------------- status of a run
def run_status(executed) -> tuple[str, str, bool]:
    """('complete' | 'failed' | 'not executed', reason, quick) of an executed copy."""
    if executed is None:
        return "not executed", "no executed copy (the runner did not reach it)", False
    result = executed.metadata.get(RESULT_KEY)
    if not isinstance(result, dict):
        return "not executed", f"no '{RESULT_KEY}' in its metadata: not a copy written by tools/nbrun.py", False
    quick = bool(result.get("quick"))
    if result.get("status") != "passed":
        return "failed", str(result.get("failure") or "execution failed"), quick
    missing = [i for i, c in enumerate(executed.cells)
               if c.cell_type == "code" and c.source.strip() and c.get("execution_count") is None]
    if missing:
        return "failed", f"cell {missing[0]} was never executed ({len(missing)} code cell(s) without a run)", quick
    return "complete", "", quick


# ---------------------------------------------------------------- figures
def default_plotly_js() -> str | None:
    """plotly.min.js of the `plotly` Python package (the one JupyterLab's renderer bundles)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(spec.submodule_search_locations[0], "package_data", "plotly.min.js")


class PlotlyFigures:
    """Draws the notebooks' figures on the pages with one shared, local plotly.js.

    `plot::show` displays a figure as its JSON under PLOTLY_MIME (what JupyterLab's plotly
    renderer draws). Here each such output becomes HTML: a `.plotly-graph-div` and a
    `Plotly.newPlot` call; the page loads assets/plotly.min.js (a copy of --plotly-js), once.
    """

    def __init__(self, out: str, plotly_js: str):
        self.out, self.plotly_js = out, plotly_js
        self.version: str | None = None  # set once the asset is written
        self.figures = 0

    def asset(self) -> str:
        if self.version is None:
            path = os.path.join(self.out, PLOTLY_ASSET)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copyfile(self.plotly_js, path)
            with open(path, encoding="utf-8", errors="replace") as f:
                m = PLOTLY_HEADER.match(f.read(200))
            self.version = m.group(1) if m else "unknown version"
        return PLOTLY_ASSET

    def figure_html(self, figure) -> str:
        self.figures += 1
        if isinstance(figure, str):
            figure = json.loads(figure)
        div = f"fig-{self.figures}"
        # Inside <script>, "</" must not end the element: JSON allows "<\/" for it.
        data = json.dumps(figure, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        return (f'<div id="{div}" class="plotly-graph-div" style="height:100%; width:100%;"></div>\n'
                f'<script type="text/javascript">Plotly.newPlot("{div}", {data});</script>')

    def rewrite_notebook(self, nb) -> int:
        """Replaces every figure output of `nb` by its HTML; returns how many there were."""
        count = 0
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                data = out.get("data") or {}
                if PLOTLY_MIME not in data:
                    continue
                data["text/html"] = self.figure_html(data.pop(PLOTLY_MIME))
                count += 1
        return count


# ---------------------------------------------------------------- pages
def up_for(page: str) -> str:
    """'../' for each folder level of a site-relative page path."""
    return "../" * page.count("/")


def link(entry: Entry | None, page_from: str) -> dict | None:
    if entry is None or entry.page is None:
        return None
    href = os.path.relpath(entry.page, os.path.dirname(page_from) or ".")
    return {"href": href, "title": entry.title}


def render_page(exporter: HTMLExporter, entry: Entry, executed, plotly: PlotlyFigures, quick_note: str):
    up = up_for(entry.page)
    figures = plotly.rewrite_notebook(executed)
    executed.metadata["title"] = entry.title  # the <title> of nbconvert's template
    exporter.mathjax_url = f"{up}mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    resources = {
        "workbook": {
            "index": f"{up}index.html",
            "prev": link(entry.prev, entry.page),
            "next": link(entry.next, entry.page),
            "title": entry.title,
            "seeds": entry.seeds,
            "status": entry.status,
            "reason": entry.reason,
            "quick_note": quick_note,
            "site_title": SITE_TITLE,
            "plotly_js": f"{up}{plotly.asset()}" if figures else None,
        }
    }
    body, _ = exporter.from_notebook_node(executed, resources=resources)
    return body, figures


def render_docs(exporter: HTMLExporter, out: str, docs: str, pages: list[str], quick_note: str) -> None:
    """docs/SOURCES.md and docs/GLOSSARY.md as pages of the book (docs/*.html, rendered like a
    chapter's markdown, maths included); the chapters' links to ../docs/*.md, and to notebooks that
    have a page (e.g. exercises/…ipynb), pointed at those pages."""
    names = [n for n in ("SOURCES", "GLOSSARY") if os.path.isfile(os.path.join(docs, n + ".md"))]
    to_html = lambda text, up: re.sub(r'(\]\(|href=")(?:\.\./docs/|)(' + "|".join(names) + r')\.md',
                                      lambda m: f"{m.group(1)}{up}docs/{m.group(2)}.html", text)
    for name in names:
        with open(os.path.join(docs, name + ".md"), encoding="utf-8") as f:
            text = to_html(f.read(), "../")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)], metadata={"title": name.title()})
        exporter.mathjax_url = f"../mathjax/MathJax.js?config={MATHJAX_CONFIG}"
        wb = {"index": "../index.html", "prev": None, "next": None, "title": name.title(), "seeds": "",
              "status": "complete", "reason": "", "quick_note": quick_note, "site_title": SITE_TITLE}
        body, _ = exporter.from_notebook_node(nb, resources={"workbook": wb})
        os.makedirs(os.path.join(out, "docs"), exist_ok=True)
        with open(os.path.join(out, "docs", name + ".html"), "w", encoding="utf-8") as f:
            f.write(body)
    for page in pages:
        path = os.path.join(out, page)
        with open(path, encoding="utf-8") as f:
            body = f.read()
        new = re.sub(r'href="(?:\.\./)+docs/(' + "|".join(names) + r')\.md"',
                     lambda m: f'href="{up_for(page)}docs/{m.group(1)}.html"', body) if names else body
        here = os.path.dirname(page)
        new = re.sub(r'href="([^":#]+)\.ipynb"', lambda m: f'href="{m.group(1)}.html"'
                     if os.path.normpath(os.path.join(here, m.group(1) + ".html")) in pages else m.group(0), new)
        if new != body:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)


# ---------------------------------------------------------------- index
def render_index(entries: list[Entry], quick_note: str) -> str:
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(os.path.dirname(e.rel), []).append(e)
    esc = html.escape
    parts = []
    for folder, items in groups.items():
        heading = "Chapters" if folder == "" else f"{folder}/"
        rows = []
        for e in items:
            if e.status == "complete":
                name = f'<a href="{esc(e.page)}">{esc(e.title)}</a>'
                state = ""
            elif e.page:
                name = f'<a href="{esc(e.page)}">{esc(e.title)}</a>'
                state = f'<span class="bad">FAILED</span> {esc(e.reason)} (partial page)'
            else:
                name = esc(e.title)
                state = f'<span class="bad">NOT EXECUTED</span> {esc(e.reason)}'
            rows.append(
                f'<tr class="{e.status.replace(" ", "-")}"><td class="file">{esc(e.name)}</td>'
                f"<td>{name}{'<div class=state>' + state + '</div>' if state else ''}</td>"
                f"<td>{esc(e.seeds)}</td></tr>"
            )
        parts.append(
            f"<h2>{esc(heading)}</h2>\n<table>\n<tr><th>notebook</th><th>title</th><th>follows</th></tr>\n"
            + "\n".join(rows) + "\n</table>"
        )
    incomplete = [e for e in entries if e.status != "complete"]
    warn = ""
    if incomplete:
        warn = (f'<p class="banner bad-banner">{len(incomplete)} of {len(entries)} notebook(s) are not complete '
                "in this build (marked below): their run failed or never happened.</p>")
    note = f'<p class="banner quick-banner">{esc(quick_note)}</p>' if quick_note else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(SITE_TITLE)}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "WenQuanYi Micro Hei", sans-serif;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; line-height: 1.5; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
th, td {{ text-align: left; vertical-align: top; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }}
td.file {{ font-family: ui-monospace, monospace; font-size: .9em; color: #555; white-space: nowrap; }}
.state {{ font-size: .9em; color: #555; }}
.bad {{ color: #fff; background: #b00020; padding: 0 .3rem; border-radius: 3px; font-weight: bold; }}
tr.failed a, tr.not-executed {{ color: #888; }}
.banner {{ padding: .6rem .8rem; border-radius: 4px; }}
.bad-banner {{ background: #fde7ea; border: 1px solid #b00020; }}
.quick-banner {{ background: #fff6d6; border: 1px solid #c9a400; }}
</style></head>
<body>
<h1>{esc(SITE_TITLE)}</h1>
<p>Rust notebooks (evcxr) that follow the source documents (“seeds”) section by section, shown here with
their executed outputs. Plots and maths render with no internet. Figures as SVG/PNG: <code>figures/</code>.</p>
{note}
{warn}
{chr(10).join(parts)}
</body></html>
"""


# ---------------------------------------------------------------- build
def list_notebooks(root: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """Notebooks under `root` (relative paths), skipping checkpoints and the folders `exclude`
    (relative to `root`)."""
    rels = []
    skip = {os.path.normpath(os.path.join(root, x)) for x in exclude}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".ipynb_checkpoints" and os.path.normpath(os.path.join(d, x)) not in skip]
        rels += [os.path.relpath(os.path.join(d, f), root) for f in files if f.endswith(".ipynb")]
    return sorted(rels, key=lambda r: os.path.join(root, r).encode())  # as `LC_ALL=C sort`


def read(path: str):
    """(notebook, None), (None, None) when there is no file, (None, why) when it is unreadable."""
    try:
        return nbformat.read(path, as_version=4), None
    except FileNotFoundError:
        return None, None
    except Exception as e:  # invalid JSON, not a notebook
        return None, f"unreadable: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"


def build(args) -> int:
    t0 = time.monotonic()
    out = args.out
    rels = list_notebooks(args.notebooks, tuple(getattr(args, "exclude", ())))
    if not rels:
        print(f"book: no notebooks under {args.notebooks}", file=sys.stderr)
        return 1
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    shutil.copytree(args.mathjax, os.path.join(out, "mathjax"))

    entries, executed = [], {}
    for rel in rels:
        source, _ = read(os.path.join(args.notebooks, rel))
        run, unreadable = read(os.path.join(args.executed, rel))
        status, reason, quick = run_status(run)
        if unreadable:
            reason = f"executed copy {unreadable}"
        title, seeds = describe(source if source is not None else run, rel)
        e = Entry(rel, title, seeds, status, reason, quick)
        if run is not None and status != "not executed":
            e.page = rel[: -len(".ipynb")] + ".html"
            executed[rel] = run
        entries.append(e)
    chain = [e for e in entries if e.status == "complete"]
    for a, b in zip(chain, chain[1:]):
        a.next, b.prev = b, a

    n_quick = sum(e.quick for e in entries if e.page)
    quick_note = ""
    if n_quick:
        quick_note = ("Reduced-size build (WORKBOOK_QUICK=1, made by ./workbook.sh test): same code, smaller "
                      "experiments than the full book. ./workbook.sh book builds the full size.")

    exporter = HTMLExporter(template_file=os.path.abspath(args.template))
    plotly = PlotlyFigures(out, args.plotly_js)
    for e in entries:
        if e.page is None:
            continue
        t = time.monotonic()
        body, figures = render_page(exporter, e, executed[e.rel], plotly, quick_note if e.quick else "")
        path = os.path.join(out, e.page)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        print(f"  {e.page}: {len(body) / 1e6:.2f} MB, {figures} figure(s)"
              f" ({time.monotonic() - t:.1f} s)", flush=True)

    render_docs(exporter, out, os.path.join(args.notebooks, "..", "docs"), [e.page for e in entries if e.page], quick_note)
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as f:
        f.write(render_index(entries, quick_note))
    manifest = {
        "pages": [{"page": e.page, "notebook": e.rel, "title": e.title, "seeds": e.seeds,
                   "status": e.status, "reason": e.reason, "quick": e.quick}
                  for e in entries if e.page] + [{"page": "index.html", "status": "index"}],
        "not_published": [{"notebook": e.rel, "status": e.status, "reason": e.reason}
                          for e in entries if not e.page],
        "plotly": {PLOTLY_ASSET: plotly.version} if plotly.version else {},
    }
    with open(os.path.join(out, "book.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)

    bad = [e for e in entries if e.status != "complete"]
    done = len(entries) - len(bad)
    print(f"book: {done} of {len(entries)} notebook(s) complete, {out}/index.html "
          f"({time.monotonic() - t0:.1f} s); {plotly.figures} figure(s)"
          + (f", {PLOTLY_ASSET} (plotly.js v{plotly.version})" if plotly.version else ""), flush=True)
    for e in bad:
        what = "FAILED (page under a banner)" if e.page else "NOT EXECUTED (no page)"
        print(f"book: {what}: {os.path.join(args.notebooks, e.rel)}: {e.reason}", file=sys.stderr, flush=True)
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--notebooks", required=True, metavar="DIR", help="the source notebooks (notebooks/)")
    p.add_argument("--executed", required=True, metavar="DIR", help="nbrun.py --output-dir of the same notebooks")
    p.add_argument("--out", required=True, metavar="DIR", help="the site to (re)create, e.g. target/book")
    p.add_argument("--mathjax", required=True, metavar="DIR", help="MathJax 2 folder (has MathJax.js)")
    p.add_argument("--template", default=os.path.join(here, "book.html.j2"), metavar="FILE")
    p.add_argument("--plotly-js", default=default_plotly_js(), metavar="FILE",
                   help="plotly.min.js for the figures (default: the plotly Python package's)")
    p.add_argument("--exclude", action="append", default=[], metavar="DIR",
                   help="a folder under --notebooks not to publish (repeatable), e.g. exercises")
    args = p.parse_args(argv)
    if not os.path.isfile(os.path.join(args.mathjax, "MathJax.js")):
        p.error(f"no MathJax.js in {args.mathjax}; run ./workbook.sh setup")
    if not args.plotly_js or not os.path.isfile(args.plotly_js):
        p.error(f"plotly.js not found ({args.plotly_js or 'no plotly package'}); run ./workbook.sh setup")
    return build(args)


if __name__ == "__main__":
    sys.exit(main())
