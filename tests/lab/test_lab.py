#!/usr/bin/env python3
"""The first hour in JupyterLab, driven in headless Chromium: what a newcomer does and sees.

    .venv/bin/python tests/lab/test_lab.py [--summary FILE] [--startup-timeout S]

Starts `./workbook.sh lab` on a free port (a fresh JupyterLab profile: no restored tabs, cells
never virtualised away), opens two copies of notebooks/00_quickstart.ipynb one after the other
(two kernels alive together, as two tabs), runs all cells of each through JupyterLab's own
commands, saves, restarts a kernel, shuts everything down, and FAILS when
  * a cell shows an error or anything on stderr, or a plot output has no `svg.main-svg`
    (the browser cannot reach any host but 127.0.0.1: plots must draw offline);
  * execution counts do not run 1, 2, 3, ...;
  * a saved notebook is over 200 KB besides its figures' JSON, or holds a <script> (plotly.js
    embedded) or the renderer's PNG snapshots;
  * git's nbstripout filter is not set up, or the saved notebook does not clean to what the
    committed quickstart cleans to (an opened and run chapter would show as modified);
  * the terminal of `./workbook.sh lab` shows a line a user cannot act on (evcxr's "No
    configuration file found", "Codec Error: Broken pipe", a websocket closed on ping timeout,
    tornado's websocket_ping_timeout warning).
It prints the timings a README quotes: JupyterLab ready (setup + warm build included), kernel
idle, the first `:dep` of each kernel. The environment is passed on (WORKBOOK_QUICK=1 gives the
reduced quickstart). Chromium and chromedriver: Debian's, as in tools/bookcheck.py.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import bookcheck  # noqa: E402  (Debian's chromium and chromedriver, found the same way)
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

QUICKSTART = ROOT / "notebooks" / "00_quickstart.ipynb"
MAX_SAVED_BYTES = 200_000
PLOTLY_MIME = "application/vnd.plotly.v1+json"
UNACTIONABLE = [re.compile(p) for p in (r"No configuration file found", r"Codec Error",
                                        r"WebSocket ping timeout", r"websocket_ping_timeout")]

# Resolves with the state of the notebook tab `path` (after RUN: all cells ran, plots drew).
# A plot is a figure output (plotly's MIME type in the model); drawn = a .js-plotly-plot with
# an svg.main-svg in the cell.
STATE = r"""
const [path, mime, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  const app = window.jupyterapp;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  if (!panel) return done({error: 'no tab for ' + path});
  const cells = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    const outputs = cell.model.outputs.toJSON();
    cells.push({
      source: cell.model.sharedModel.getSource().split('\n')[0].slice(0, 60),
      count: cell.model.executionCount,
      types: outputs.map(o => o.output_type + (o.name ? ':' + o.name : '')),
      mimes: outputs.flatMap(o => Object.keys(o.data || {})),
      text: outputs.map(o => (o.text || (o.data && o.data['text/plain']) || o.evalue || '')).join('').slice(0, 300),
      plots: outputs.filter(o => o.data && o.data[mime]).length,
      drawn: [...cell.node.querySelectorAll('.js-plotly-plot')].filter(d => d.querySelector('svg.main-svg')).length,
    });
  }
  done({cells, dirty: panel.context.model.dirty});
})().catch(e => done({error: String(e)}));
"""

# Opens `path` in a tab, waits for its kernel, runs all cells; resolves with timings (ms).
RUN = r"""
const [path, limit, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
(async () => {
  const app = window.jupyterapp;
  const t0 = Date.now();
  const wait = async (what) => {
    if (Date.now() - t0 > limit * 1000) throw new Error(`gave up after ${limit} s waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  };
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  const kernel = panel.sessionContext.session.kernel;
  while (kernel.status !== 'idle') await wait('the kernel to be idle');
  const idle = Date.now() - t0;
  app.shell.activateById(panel.id);
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const t1 = Date.now();
  let depMs = null;
  const ran = app.commands.execute('notebook:run-all-cells');
  while (depMs === null) {
    if (cells[0].model.executionCount !== null && cells[0].model.executionCount !== undefined
        && !cells[0].node.querySelector('.jp-InputPrompt').textContent.includes('*')) depMs = Date.now() - t1;
    else await wait('the first :dep');
  }
  await ran;
  while (panel.content.widgets.some(c => c.model.type === 'code' &&
         c.node.querySelector('.jp-InputPrompt').textContent.includes('*')) || kernel.status !== 'idle')
    await wait('all cells to run');
  const allMs = Date.now() - t1;
  // Plots drawn, and the renderer's PNG snapshot of each in the model (it saves one along):
  // the saved file is then as large as a reader's will be.
  const mime = 'application/vnd.plotly.v1+json', t2 = Date.now();
  const figures = () => panel.content.widgets.flatMap(c => c.model.type === 'code' ? c.model.outputs.toJSON() : [])
    .filter(o => o.data && o.data[mime]);
  while (Date.now() - t2 < 30000 && figures().some(o => !o.data['image/png'])) await new Promise(r => setTimeout(r, 200));
  await app.commands.execute('docmanager:save');
  while (panel.context.model.dirty) await wait('the save');
  done({idle, depMs, allMs, kernel: kernel.id});
})().catch(e => done({error: String(e && e.stack || e)}));
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, method: str = "GET", token: str = "") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def start_browser(profile: str):
    chromium = bookcheck.find_binary("CHROMIUM", ["/usr/lib/chromium/chromium", "chromium", "chromium-browser"])
    driver_bin = bookcheck.find_binary("CHROMEDRIVER", ["chromedriver", "/usr/lib/chromium/chromedriver"])
    if not chromium or not driver_bin:
        raise RuntimeError("chromium/chromedriver not found: sudo apt-get install -y chromium chromium-driver")
    os.makedirs(profile, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    # No host but this machine: the plots must draw from what JupyterLab serves.
    for flag in bookcheck.CHROMIUM_FLAGS + [f"--user-data-dir={profile}",
                                            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]:
        opts.add_argument(flag)
    service = Service(executable_path=driver_bin, log_output=os.path.join(profile, "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_script_timeout(3600)  # the scripts give up by themselves (--run-timeout)
    driver.command_executor.client_config.timeout = 3600  # selenium's own HTTP read timeout (120 s)
    return driver


def clean(text: bytes) -> bytes:
    """The notebook as git stores it: through this clone's nbstripout filter."""
    cmd = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "filter.nbstripout.clean"],
                         capture_output=True, text=True).stdout.strip()
    if not cmd:
        raise AssertionError("git's nbstripout filter is not configured (./workbook.sh setup)")
    return subprocess.run(["sh", "-c", cmd], input=text, capture_output=True, check=True).stdout


def size_without_figure_data(saved: bytes) -> int:
    """Bytes of a saved notebook once its figures' JSON is taken out, written as Jupyter writes
    it (indent 1): what the notebook costs beyond the data it plots."""
    nb = json.loads(saved)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(PLOTLY_MIME, None)
    return len((json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())


def check_notebook(name: str, state: dict, saved: Path, fails: list[str]) -> None:
    if "error" in state:
        fails.append(f"{name}: {state['error']}")
        return
    counts = [c["count"] for c in state["cells"]]
    if counts != list(range(1, len(counts) + 1)):
        fails.append(f"{name}: execution counts {counts[:6]}..., expected 1, 2, 3, ...")
    plots = 0
    for c in state["cells"]:
        bad = [t for t in c["types"] if t in ("error", "stream:stderr")]
        if bad:
            fails.append(f"{name}: cell `{c['source']}` shows {bad}: {c['text'][:200]}")
        if c["drawn"] < c["plots"]:
            fails.append(f"{name}: cell `{c['source']}`: {c['plots'] - c['drawn']} of {c['plots']} plot(s) not drawn")
        plots += c["plots"]
    if plots == 0:
        fails.append(f"{name}: no plot at all")
    size = saved.stat().st_size
    text = saved.read_bytes()
    overhead = size_without_figure_data(text)
    if overhead > MAX_SAVED_BYTES:
        fails.append(f"{name}: saved notebook is {overhead} bytes besides its figures' data (> {MAX_SAVED_BYTES})")
    if b"<script" in text:
        fails.append(f"{name}: saved notebook holds a <script> (plotly.js embedded?)")
    if b'"image/png"' in text:
        fails.append(f"{name}: saved notebook holds the renderer's PNG snapshots (tools/lab_save.py not in use?)")
    committed = subprocess.run(["git", "-C", str(ROOT), "show", f"HEAD:{QUICKSTART.relative_to(ROOT)}"],
                               capture_output=True, check=True).stdout
    try:
        if clean(text) != clean(committed):
            fails.append(f"{name}: after git's filter the saved notebook differs from the committed quickstart")
    except (AssertionError, subprocess.CalledProcessError) as e:
        fails.append(f"{name}: {e}")
    print(f"  {name}: {len(counts)} code cells, {plots} plot(s), saved {size / 1000:.0f} KB "
          f"({overhead / 1000:.0f} KB besides the figures' data)", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--startup-timeout", type=int, default=1800, metavar="S",
                   help="how long `./workbook.sh lab` may take to serve (setup and the warm build included)")
    p.add_argument("--run-timeout", type=int, default=900, metavar="S",
                   help="how long one notebook may take to open, run and save in the browser")
    p.add_argument("--summary", metavar="FILE", help="append 'PASSED FAILED' (1 0 or 0 1) to FILE")
    args = p.parse_args(argv)

    fails: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="labtest-"))
    names = [f"labtest-{os.getpid()}-{i}.ipynb" for i in (1, 2)]
    copies = [ROOT / "notebooks" / n for n in names]
    for c in copies:
        shutil.copyfile(QUICKSTART, c)
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(work / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"))
    port, token = free_port(), os.urandom(16).hex()
    log_path = work / "lab.log"
    log = open(log_path, "wb")
    t0 = time.monotonic()
    lab = subprocess.Popen([str(ROOT / "workbook.sh"), "lab", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
                            f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True"],
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    driver = None
    try:
        while http(f"{base}/api/status", token=token)[0] != 200:
            if lab.poll() is not None:
                raise RuntimeError(f"./workbook.sh lab exited ({lab.returncode}) before serving")
            if time.monotonic() - t0 > args.startup_timeout:
                raise RuntimeError(f"./workbook.sh lab did not serve within {args.startup_timeout} s")
            time.sleep(0.5)
        ready = time.monotonic() - t0
        print(f"lab test: ./workbook.sh lab serving after {ready:.0f} s (setup and warm build included)", flush=True)
        driver = start_browser(str(work / "chromium"))
        driver.get(f"{base}/lab?token={token}")
        t = time.monotonic()
        while not driver.execute_script("return !!(window.jupyterapp && window.jupyterapp.shell)"):
            if time.monotonic() - t > 120:
                raise RuntimeError("JupyterLab did not start in the browser within 120 s")
            time.sleep(0.3)
        driver.execute_async_script("const d = arguments[arguments.length - 1]; jupyterapp.started.then(() => d())")
        kernels = []
        for name, copy in zip(names, copies):
            timing = driver.execute_async_script(RUN, name, args.run_timeout)
            if "error" in timing:
                fails.append(f"{name}: {timing['error']}")
                continue
            kernels.append(timing["kernel"])
            print(f"  {name}: kernel idle {timing['idle'] / 1000:.1f} s, first :dep {timing['depMs'] / 1000:.1f} s, "
                  f"all cells {timing['allMs'] / 1000:.1f} s", flush=True)
            check_notebook(name, driver.execute_async_script(STATE, name, PLOTLY_MIME), copy, fails)
        status, body = http(f"{base}/api/kernels", token=token)
        alive = len(json.loads(body)) if status == 200 else 0
        if alive < 2:
            fails.append(f"{alive} kernel(s) alive at the end, expected the two notebooks' kernels side by side")
        if kernels:
            status, _ = http(f"{base}/api/kernels/{kernels[0]}/restart", "POST", token)
            if status != 200:
                fails.append(f"kernel restart answered HTTP {status}")
            time.sleep(3)
        for k in kernels:
            http(f"{base}/api/kernels/{k}", "DELETE", token)
    except Exception as e:  # the browser, the server or a script gave up
        fails.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    finally:
        if driver is not None:
            driver.quit()
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGTERM)
            try:
                lab.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)
                lab.wait()
        log.close()
        for c in copies:
            for f in (c, c.parent / ".ipynb_checkpoints" / (c.stem + "-checkpoint.ipynb")):
                f.unlink(missing_ok=True)
    terminal = log_path.read_text(errors="replace")
    for line in terminal.splitlines():
        if any(p.search(line) for p in UNACTIONABLE):
            fails.append(f"the terminal shows: {line.strip()[:160]}")
    if fails:
        print(f"--- ./workbook.sh lab's terminal ({log_path}), last lines:")
        print("\n".join(terminal.splitlines()[-40:]))
    else:
        shutil.rmtree(work, ignore_errors=True)
    for f in fails:
        print(f"FAIL {f}")
    print(f"lab test: {'passed' if not fails else 'FAILED'}", flush=True)
    if args.summary:
        with open(args.summary, "a") as f:
            f.write("0 1\n" if fails else "1 0\n")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
