#!/usr/bin/env python3
"""Open every page of the built book in headless Chromium and fail on what a reader would see broken.

    bookcheck.py [--screens DIR] [--figures DIR] [--expect-fail] [--summary FILE] PAGE_OR_DIR...

A directory stands for every .html page under it (its mathjax/, assets/, screens/ and figures/
folders excluded). Each page is loaded from file:// (as a reader opens target/book/index.html),
then, once MathJax has finished typesetting (MathJax.Hub.Queue) and the plots are drawn, it
FAILS when
  * the page had a JavaScript error: an uncaught exception, an unhandled promise rejection, a
    script/stylesheet/font that did not load, or any SEVERE entry in the browser console;
  * a plot container (`.plotly-graph-div`) has nothing drawn in it: no `.main-svg`, zero
    width or height, or no data;
  * a maths block was left unrendered: TeX that MathJax reported as an error (`merror`,
    `.MathJax_Error`, a "TeX Jax - parse error" or "Math Processing Error" signal), or TeX
    delimiters still in the page's visible text ($$…$$, \\(…\\), \\[…\\], $…$ with TeX in it,
    \\begin{…}), e.g. because MathJax did not load.
With --screens a full-page PNG of every page is saved there (same relative path, .png); with
--figures every plot of a page is exported by plotly.js in the browser (Plotly.toImage) as SVG
and PNG under DIR/<page path without .html>/NN-<title>.{svg,png} (at most --max-figures a page).

With --expect-fail every page must fail (the check's self-test, tests/book/); a page with
<meta name="bookcheck-expect" content="TEXT"> must fail with TEXT in one of its reasons.
Exit status 1 if any page did not do what was expected, 2 if the browser could not be started.

Chromium and chromedriver are Debian's (apt-get install chromium chromium-driver), found on
PATH or via $CHROMIUM / $CHROMEDRIVER; selenium is given both paths, so it never downloads a
driver or a browser (Selenium Manager is not run).
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service

SKIP_DIRS = {"mathjax", "assets", "screens", "figures", "executed"}
WIDTH, HEIGHT = 1280, 900
MAX_SCREEN_HEIGHT = 16000  # px; Chromium's own limit for one capture is 16384
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    f"--window-size={WIDTH},{HEIGHT}",
]

# Runs before any script of the page: records uncaught errors, failed loads and MathJax's own
# error signals (window.MathJax as a config object with AuthorInit is MathJax 2's documented
# way to hook in before it starts; the page's own configuration is merged on top).
INSTRUMENT = r"""
window.__bookcheck = {errors: [], tex: []};
window.addEventListener('error', function (e) {
  var t = e.target;
  if (t && t !== window && (t.src || t.href)) {
    __bookcheck.errors.push('failed to load ' + (t.src || t.href));
  } else {
    __bookcheck.errors.push((e.message || 'error') + (e.filename ? ' (' + e.filename.split('/').pop() + ':' + e.lineno + ')' : ''));
  }
}, true);
window.addEventListener('unhandledrejection', function (e) {
  var r = e.reason;
  __bookcheck.errors.push('unhandled promise rejection: ' + (r && (r.message || r) || 'unknown'));
});
window.MathJax = {AuthorInit: function () {
  var H = MathJax.Hub;
  H.Register.MessageHook('TeX Jax - parse error', function (m) { __bookcheck.tex.push('TeX error: ' + m[1] + ' in ' + String(m[2]).slice(0, 80)); });
  H.Register.MessageHook('Math Processing Error', function (m) { __bookcheck.tex.push('Math Processing Error: ' + (m[2] && m[2].message || m[2])); });
  H.Register.MessageHook('file load error', function (m) { __bookcheck.tex.push('MathJax could not load ' + m[1]); });
}};
"""

# Waits for MathJax (startup, then everything queued) and for the plots, then reports.
INSPECT = r"""
var done = arguments[arguments.length - 1];
function plots() { return Array.prototype.slice.call(document.querySelectorAll('.plotly-graph-div')); }
function report() {
  var skip = 'SCRIPT,STYLE,NOSCRIPT,TEXTAREA,CODE,PRE,svg'.split(',');
  var raw = [];
  var tw = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, null);
  var patterns = [/\$\$[\s\S]+?\$\$/, /\\\([\s\S]+?\\\)/, /\\\[[\s\S]+?\\\]/, /\\begin\{[a-zA-Z*]+\}/,
                  /\$(?=\S)[^$\n]{0,300}?[\\^_{}][^$\n]{0,300}?\$/, /\$[A-Za-z]\$/];
  for (var n = tw.nextNode(); n; n = tw.nextNode()) {
    var el = n.parentElement, hidden = false;
    for (var a = el; a; a = a.parentElement) {
      if (skip.indexOf(a.tagName) >= 0 || (a.classList && (a.classList.contains('MathJax_Preview') ||
          a.classList.contains('MathJax') || a.classList.contains('MathJax_Display')))) { hidden = true; break; }
    }
    if (hidden) continue;
    var text = n.nodeValue;
    for (var i = 0; i < patterns.length; i++) {
      var m = patterns[i].exec(text);
      if (m) { raw.push(m[0].slice(0, 80)); break; }
    }
  }
  var boxes = plots().map(function (d) {
    var r = d.getBoundingClientRect();
    var title = d._fullLayout && d._fullLayout.title && d._fullLayout.title.text || '';
    return {id: d.id, svg: !!d.querySelector('.main-svg'), w: Math.round(r.width), h: Math.round(r.height),
            traces: (d.data || []).length, title: String(title)};
  });
  var jaxes = (window.MathJax && MathJax.Hub && MathJax.Hub.getAllJax) ? MathJax.Hub.getAllJax().length : 0;
  done({
    errors: (window.__bookcheck || {errors: []}).errors,
    tex: (window.__bookcheck || {tex: []}).tex,
    mathErrors: document.querySelectorAll('.MathJax_Error, merror, .noError').length,
    mathjax: !!(window.MathJax && MathJax.Hub && MathJax.Hub.Queue),
    maths: jaxes, raw: raw, plots: boxes,
    height: Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0))
  });
}
function waitPlots() {
  var t0 = Date.now();
  (function poll() {
    var pending = plots().filter(function (d) { return !d.querySelector('.main-svg'); });
    if (!pending.length || Date.now() - t0 > 5000) report(); else setTimeout(poll, 50);
  })();
}
if (window.MathJax && window.MathJax.Hub && MathJax.Hub.Register) {
  MathJax.Hub.Register.StartupHook('End', function () { MathJax.Hub.Queue(waitPlots); });
} else {
  waitPlots();
}
"""

EXPORT = r"""
var done = arguments[arguments.length - 1], max = arguments[0];
var divs = Array.prototype.slice.call(document.querySelectorAll('.plotly-graph-div'))
  .filter(function (d) { return d.data && d.data.length && d._fullLayout; }).slice(0, max);
var out = [];
(async function () {
  for (var i = 0; i < divs.length; i++) {
    var d = divs[i], L = d._fullLayout, opts = {width: L.width, height: L.height};
    try {
      var svg = await Plotly.toImage(d, Object.assign({format: 'svg'}, opts));
      var png = await Plotly.toImage(d, Object.assign({format: 'png', scale: 2}, opts));
      out.push({title: String(L.title && L.title.text || ''), svg: svg, png: png});
    } catch (e) {
      out.push({title: String(L.title && L.title.text || ''), error: String(e && e.message || e)});
    }
  }
  done(out);
})();
"""


@dataclass
class PageResult:
    page: str
    reasons: list[str] = field(default_factory=list)
    plots: int = 0
    maths: int = 0
    figures: int = 0
    seconds: float = 0.0
    expect: str = ""


def find_binary(env: str, names: list[str]) -> str | None:
    if os.environ.get(env):
        path = os.environ[env]
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise RuntimeError(f"{env}={path} is not an executable file")
        return path
    for name in names:
        if os.path.isabs(name) and os.access(name, os.X_OK):
            return name
        found = shutil.which(name)
        if found:
            return found
    return None


def start_browser(profile: str):
    # Debian's /usr/bin/chromium is a shell wrapper around /usr/lib/chromium/chromium.
    chromium = find_binary("CHROMIUM", ["/usr/lib/chromium/chromium", "chromium", "chromium-browser"])
    driver_bin = find_binary("CHROMEDRIVER", ["chromedriver", "/usr/lib/chromium/chromedriver"])
    if not chromium or not driver_bin:
        missing = " and ".join(n for n, b in (("chromium", chromium), ("chromedriver", driver_bin)) if not b)
        raise RuntimeError(f"{missing} not found. Install Debian's: "
                           "sudo apt-get update && sudo apt-get install -y chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=driver_bin, log_output=os.path.join(profile, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT})
    return driver


def pages_of(paths: list[str]) -> list[tuple[Path, Path]]:
    """(page, root it is relative to) for every page given or found under a directory given."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            for d, dirs, files in os.walk(p):
                dirs[:] = sorted(x for x in dirs if not (Path(d) == p and x in SKIP_DIRS))
                out += [(Path(d) / f, p) for f in sorted(files) if f.endswith(".html")]
        else:
            out.append((p, p.parent))
    return out


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:48].rstrip("-")


def data_url_bytes(url: str) -> bytes:
    head, _, data = url.partition(",")
    return base64.b64decode(data) if head.endswith(";base64") else urllib.parse.unquote(data).encode("utf-8")


def expectation(page: Path) -> str:
    m = re.search(r'<meta\s+name="bookcheck-expect"\s+content="([^"]*)"', page.read_text(errors="replace"))
    return m.group(1) if m else ""


def check_page(driver, page: Path, rel: Path, args) -> PageResult:
    res = PageResult(str(page))
    t0 = time.monotonic()
    driver.get_log("browser")  # drop what an earlier page left
    try:
        driver.get(page.resolve().as_uri())
        info = driver.execute_async_script(INSPECT)
    except TimeoutException:
        res.reasons.append("timed out: the page did not load, or MathJax / the plots never finished")
        info = None
    except WebDriverException as e:
        res.reasons.append(f"browser error: {str(e.msg or e).splitlines()[0]}")
        info = None
    console = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    if info:
        seen = set()
        for msg in info["errors"]:
            if msg not in seen:
                seen.add(msg)
                res.reasons.append(f"JavaScript error: {msg}")
        for e in console:
            # Uncaught exceptions and failed loads are in info["errors"] already, better worded.
            msg = e.get("message", "")
            if info["errors"] and ("Uncaught" in msg or "Failed to load resource" in msg):
                continue
            res.reasons.append(f"JavaScript console error: {msg[:300]}")
        res.plots = len(info["plots"])
        for p in info["plots"]:
            what = []
            if not p["svg"]:
                what.append("no .main-svg")
            if p["w"] == 0 or p["h"] == 0:
                what.append(f"size {p['w']}x{p['h']}")
            if p["traces"] == 0:
                what.append("no data")
            if what:
                name = f"#{p['id']}" if p["id"] else "(no id)"
                res.reasons.append(f"empty plot {name} {p['title'][:40]!r}: nothing drawn ({', '.join(what)})")
        res.maths = info["maths"]
        for msg in dict.fromkeys(info["tex"]):
            res.reasons.append(f"unrendered maths: {msg}")
        if info["mathErrors"] and not info["tex"]:
            res.reasons.append(f"unrendered maths: {info['mathErrors']} MathJax error element(s) on the page")
        if info["raw"]:
            why = "" if info["mathjax"] else " (MathJax is not loaded)"
            shown = "; ".join(repr(r) for r in info["raw"][:3])
            res.reasons.append(f"unrendered maths{why}: {len(info['raw'])} raw TeX in the text, e.g. {shown}")
    else:
        for e in console:
            res.reasons.append(f"JavaScript console error: {e.get('message', '')[:300]}")

    if args.screens:
        try:
            shot = Path(args.screens) / rel.with_suffix(".png")
            shot.parent.mkdir(parents=True, exist_ok=True)
            height = min(max((info or {}).get("height", HEIGHT), HEIGHT), MAX_SCREEN_HEIGHT)
            png = driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})
            shot.write_bytes(base64.b64decode(png["data"]))
        except WebDriverException as e:
            res.reasons.append(f"screenshot failed: {str(e.msg or e).splitlines()[0]}")

    if args.figures and info and res.plots:
        out_dir = Path(args.figures) / rel.with_suffix("")
        try:
            figures = driver.execute_async_script(EXPORT, args.max_figures)
        except WebDriverException as e:
            figures = []
            res.reasons.append(f"figure export failed: {str(e.msg or e).splitlines()[0]}")
        for i, fig in enumerate(figures, 1):
            if "error" in fig:
                res.reasons.append(f"figure export failed for plot {i}: {fig['error']}")
                continue
            out_dir.mkdir(parents=True, exist_ok=True)
            stem = f"{i:02d}" + (f"-{slug(fig['title'])}" if slug(fig["title"]) else "")
            (out_dir / f"{stem}.svg").write_bytes(data_url_bytes(fig["svg"]))
            (out_dir / f"{stem}.png").write_bytes(data_url_bytes(fig["png"]))
            res.figures += 1
    if info and res.plots:
        check_animations(driver, res, Path(args.figures) / rel.with_suffix("") if args.figures else None)
    res.seconds = time.monotonic() - t0
    return res


def check_animations(driver, res: PageResult, strips: Path | None) -> None:
    """Presses play on every animated plot (plotly frames) and fails the page unless the drawing
    changes; with `strips`, saves one strip of up to five frames per animation there (for slides)."""
    script = r"""
    var done = arguments[arguments.length - 1], strip = arguments[0], out = [];
    function drawing(d) { var l = d.querySelector('.cartesianlayer'); return l ? l.innerHTML : ''; }
    function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
    function img(url) { return new Promise(function (r, e) { var i = new Image(); i.onload = function () { r(i); }; i.onerror = e; i.src = url; }); }
    var divs = Array.prototype.slice.call(document.querySelectorAll('.plotly-graph-div')).filter(function (d) {
      return d._transitionData && d._transitionData._frames && d._transitionData._frames.length > 1; });
    (async function () {
      for (var i = 0; i < divs.length; i++) {
        var d = divs[i], L = d._fullLayout || {}, r = {id: d.id, title: String(L.title && L.title.text || '')};
        var buttons = Array.prototype.slice.call(d.querySelectorAll('.updatemenu-button'));
        var play = buttons.filter(function (b) { return /play/i.test(b.textContent); })[0];
        var pause = buttons.filter(function (b) { return /pause/i.test(b.textContent); })[0];
        if (!play) { r.error = 'no play button'; out.push(r); continue; }
        var before = drawing(d), t0 = Date.now();
        play.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        while (drawing(d) === before && Date.now() - t0 < 6000) await sleep(100);
        r.changed = drawing(d) !== before;
        if (pause) pause.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        if (strip && r.changed && window.Plotly) {
          try {
            var names = d._transitionData._frames.map(function (f) { return f.name; }), k = Math.min(5, names.length), shots = [];
            for (var j = 0; j < k; j++) {
              var name = names[Math.round(j * (names.length - 1) / Math.max(k - 1, 1))];
              await Plotly.animate(d, [name], {mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}});
              shots.push(await img(await Plotly.toImage(d, {format: 'png', width: L.width, height: L.height})));
            }
            var c = document.createElement('canvas'), w = shots[0].width, h = shots[0].height;
            c.width = w * shots.length; c.height = h;
            shots.forEach(function (s, j) { c.getContext('2d').drawImage(s, j * w, 0); });
            r.strip = c.toDataURL('image/png');
          } catch (e) { r.error = 'frame strip failed: ' + (e && e.message || e); }
        }
        out.push(r);
      }
      done(out);
    })();
    """
    try:
        found = driver.execute_async_script(script, bool(strips))
    except WebDriverException as e:
        res.reasons.append(f"animation check failed: {str(e.msg or e).splitlines()[0]}")
        return
    for k, a in enumerate(found, 1):
        name = f"animation #{a['id']} {a['title'][:40]!r}"
        if a.get("error"):
            res.reasons.append(f"{name}: {a['error']}")
        elif not a.get("changed"):
            res.reasons.append(f"{name}: pressing play did not change the drawing within 6 s")
        if a.get("strip") and strips:
            strips.mkdir(parents=True, exist_ok=True)
            (strips / f"strip-{k:02d}-{slug(a['title']) or 'animation'}.png").write_bytes(data_url_bytes(a["strip"]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", metavar="PAGE_OR_DIR")
    p.add_argument("--screens", metavar="DIR", help="save a full-page PNG of every page here")
    p.add_argument("--figures", metavar="DIR", help="export every plot as SVG and PNG here")
    p.add_argument("--max-figures", type=int, default=24, metavar="N", help="per page (default 24)")
    p.add_argument("--expect-fail", action="store_true", help="self-test: every page given must fail")
    p.add_argument("--summary", metavar="FILE", help="append 'PASSED FAILED' (page counts) to FILE")
    args = p.parse_args(argv)

    pages = pages_of(args.paths)
    if not pages:
        print(f"bookcheck: no .html pages in {' '.join(args.paths)}", flush=True)
        return 1
    mode = "expect-fail" if args.expect_fail else "check"
    print(f"bookcheck ({mode}): {len(pages)} page(s) in headless Chromium", flush=True)
    t0 = time.monotonic()
    profile = tempfile.mkdtemp(prefix="bookcheck-profile-")
    try:
        try:
            driver = start_browser(profile)
        except (RuntimeError, WebDriverException) as e:
            msg = str(getattr(e, "msg", None) or e).strip().splitlines()[0]
            print(f"bookcheck: error: cannot start headless Chromium: {msg}", flush=True)
            if args.summary:
                with open(args.summary, "a") as f:
                    f.write(f"0 {len(pages)}\n")
            return 2
        print(f"  {driver.capabilities.get('browserName')} {driver.capabilities.get('browserVersion')}"
              f" started in {time.monotonic() - t0:.1f} s", flush=True)
        results = []
        try:
            for page, root in pages:
                res = check_page(driver, page, page.relative_to(root), args)
                res.expect = expectation(page) if args.expect_fail else ""
                failed = bool(res.reasons)
                if args.expect_fail:
                    ok = failed and (not res.expect or any(res.expect in r for r in res.reasons))
                else:
                    ok = not failed
                results.append((res, ok))
                extra = f", {res.figures} figure(s) exported" if args.figures and res.figures else ""
                print(f"  {'ok  ' if ok else 'FAIL'} {page} ({res.seconds:.1f} s; {res.plots} plot(s), "
                      f"{res.maths} maths{extra})", flush=True)
                for r in res.reasons:
                    print(f"         {r}", flush=True)
                if args.expect_fail and not ok:
                    print(f"         expected a failure" + (f" containing {res.expect!r}" if res.expect else ""),
                          flush=True)
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    passed = sum(ok for _, ok in results)
    failed = len(results) - passed
    where = (f"; screenshots in {args.screens}" if args.screens else "") + (
        f"; figures in {args.figures}" if args.figures else "")
    print(f"bookcheck: {passed} passed, {failed} failed ({time.monotonic() - t0:.1f} s{where})", flush=True)
    if args.summary:
        with open(args.summary, "a") as f:
            f.write(f"{passed} {failed}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
