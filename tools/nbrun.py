#!/usr/bin/env python3
"""Execute Rust (evcxr) notebooks headless and fail on anything a reader would call broken.

Each notebook runs in a fresh `rust` kernel whose working directory is the notebook's folder.
A notebook FAILS when a cell
  * raises an error (compile error, evcxr error: output_type "error"),
  * runs past its timeout, or the kernel dies,
  * writes anything at all to stderr (evcxr sends panics and the `Err` of a top-level `?`
    there, and nbclient does not count either as an error),
  * shows "panicked at" in any output.
Execution of a notebook stops at its first failing cell; the other notebooks still run.
Output that evcxr delivers after its cell has finished is put back under that cell and checked
too (see StrictClient).

    nbrun.py [--timeout-first 900] [--timeout 300] [--output-dir DIR [--relative-to DIR]]
             [--expect-fail] [--summary FILE] NOTEBOOK...
    nbrun.py --warm NOTEBOOK

With --warm only the notebook's setup cells run (its first code cells made of `:` commands and
`use` lines: `:dep` of the crate), to build the crate before anyone waits for it in JupyterLab
(./workbook.sh lab; cargo's "Compiling ..." lines show on stderr).

With --expect-fail every notebook given must fail (the runner's self-test); a notebook whose
metadata has {"nbrun": {"expect_failure": "TEXT"}} must fail with TEXT in its reason.
With --output-dir every executed copy (also a failed one, up to where it stopped) carries the
run's result in its metadata, {"nbrun_result": {"status": "passed"|"failed", "failure": ...,
"quick": ...}}: the book build (tools/book.py) publishes only passed runs as complete.
Exit status 1 if any notebook did not do what was expected, 0 otherwise.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from queue import Empty
from dataclasses import dataclass

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import (
    CellExecutionComplete,
    CellExecutionError,
    CellTimeoutError,
    DeadKernelError,
)
from nbclient.util import ensure_async, run_sync

# The `rust` kernelspec of this checkout lives in its target/jupyter (./workbook.sh setup);
# make it win over any other `rust` kernel (another clone's, a user-wide one).
_kernels = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "jupyter")
if os.environ.get("JUPYTER_PATH", "").split(os.pathsep)[0] != _kernels:
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (_kernels, os.environ.get("JUPYTER_PATH", "")) if p
    )

# No build-progress display under the cells (tools/kernel_proxy.py): the book shows no build logs.
os.environ.setdefault("WORKBOOK_BUILD_PROGRESS", "0")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PANIC = "panicked at"
# How evcxr 0.22 reports trouble (measured; see tools/TIMINGS.md):
#  * compile error: an "error" output (ename "Error", evalue = rustc's message, coloured
#    traceback); the execute reply is an error, so nbclient raises CellExecutionError.
#  * panic: caught by evcxr (catch_unwind); reply status "ok", the kernel lives on, and stderr
#    gets "thread '<unnamed>' (TID) panicked at src/lib.rs:L:C:\n<message>\nstack backtrace: ..."
#    (RUST_BACKTRACE=1 is set for the child), the location being evcxr's generated code.
#  * top-level `?` on an Err: reply status "ok"; evcxr prints only the error's Display
#    (`:efmt` switches to {:?}) on stderr, e.g. "invalid digit found in string", and skips the
#    rest of the cell. No marker tells it from an eprintln!, hence the any-stderr rule.


@dataclass
class Result:
    path: str
    code_cells: int
    executed: int = 0
    seconds: float = 0.0
    failed: bool = False
    fail_cell: int | None = None
    fail_source: str = ""
    reason: str = ""

    def where(self) -> str:
        if self.fail_cell is None:
            return "kernel"
        return f"cell {self.fail_cell} `{self.fail_source}`"


def first_line(text: str) -> str:
    for line in ANSI.sub("", text).splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def output_texts(out) -> list[str]:
    if out.get("output_type") == "stream":
        return [out.get("text", "")]
    texts = []
    for key in ("evalue", "ename"):
        if isinstance(out.get(key), str):
            texts.append(out[key])
    if out.get("traceback"):
        texts.append("\n".join(out["traceback"]))
    for mime, value in (out.get("data") or {}).items():
        if mime.startswith("text/") and isinstance(value, str):
            texts.append(value)
    return texts


def panic_message(text: str) -> str:
    """'panicked at LOC:' is followed by the message on the next line (Rust >= 1.73)."""
    lines = ANSI.sub("", text).splitlines()
    for i, line in enumerate(lines):
        if PANIC in line:
            after = line.split(PANIC, 1)[1].strip()
            msg = lines[i + 1].strip() if i + 1 < len(lines) else ""
            # older format: panicked at 'message', src/lib.rs:1:2
            return (msg if after.endswith(":") and msg else after)[:200]
    return ""


def inspect_outputs(outputs) -> str | None:
    """The reason a cell's outputs make it fail, or None."""
    for out in outputs:
        if out.get("output_type") == "error":
            ename, evalue = out.get("ename", ""), out.get("evalue", "")
            detail = first_line(evalue) or first_line("\n".join(out.get("traceback", [])))
            return f"error: {first_line(ename)}: {detail}" if detail else f"error: {ename}"
    stderr = "".join(
        out.get("text", "") for out in outputs
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    )
    if PANIC in stderr:
        return f"panic: {panic_message(stderr)}"
    if stderr.strip():
        return f"stderr: {first_line(stderr)}"
    for out in outputs:
        for text in output_texts(out):
            if PANIC in text:
                return f"panic (in output): {panic_message(text)}"
    return None


def is_dep_cell(cell) -> bool:
    return any(line.lstrip().startswith(":dep") for line in cell.source.splitlines())


OUTPUT_MSG_TYPES = {"stream", "display_data", "execute_result", "error"}


class StrictClient(NotebookClient):
    """nbclient minus one blind spot with evcxr.

    evcxr_jupyter forwards a cell's stdout/stderr from a separate thread and tags each line
    with whichever request is the latest when the line gets through (core.rs,
    pass_output_line); the execute reply does not wait for it. Under load a line can arrive
    after the cell's idle status, tagged with that cell (nbclient drops it silently) or with
    the next request (it shows up under the next cell). Here a line tagged with an earlier
    cell goes back to that cell, and the runner lets the output settle after every cell.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cells_by_msg_id = {}
        self.late = set()  # indices of cells that received output after they finished

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        self.cells_by_msg_id[parent_msg_id] = (cell, cell_index)
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)  # raises when idle
                except CellExecutionComplete:
                    return
            else:
                self._route_late(msg)

    def _route_late(self, msg):
        target = self.cells_by_msg_id.get(msg["parent_header"].get("msg_id"))
        if target is None or msg["msg_type"] not in OUTPUT_MSG_TYPES:
            return
        cell, index = target
        cell.outputs.append(nbformat.v4.output_from_msg(msg))
        self.late.add(index)

    async def _async_settle(self, quiet: float, limit: float) -> None:
        """Read iopub until it has been quiet for `quiet` s (at most `limit` s)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=quiet))
            except Empty:
                return
            self._route_late(msg)

    settle = run_sync(_async_settle)


class KernelSession:
    """One `rust` kernel executing the cells of `nb` one at a time (used by run_notebook and by
    the exercise grader, tools/exercises.py).

        with KernelSession(nb, cwd, ...) as k:
            reason = k.run(index)   # None, or why the cell failed (see inspect_outputs)

    The first code cell and any `:dep` cell get `timeout_first`, the others `timeout`.
    `run(..., interrupt_on_timeout=True)` interrupts a cell that runs past its timeout instead of
    giving up on the kernel: evcxr then kills the process that runs user code and restarts it
    (variables are lost; items, `use` and `:dep` are kept), and the kernel takes further cells
    (measured with evcxr 0.22: the first cell after the restart that shows a value can come back
    without it; see tools/exercises.py, which checks with a probe). It runs on `StrictClient`, so
    output that evcxr delivers late goes back to the cell it belongs to.
    """

    def __init__(self, nb, cwd: str, kernel: str = "rust", timeout: int = 300,
                 timeout_first: int = 900, startup_timeout: int = 120):
        self.nb = nb
        self.cwd = cwd
        code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        self._first_code = code_cells[0] if code_cells else None
        self._timeout, self._timeout_first = timeout, timeout_first
        self.client = StrictClient(
            nb,
            kernel_name=kernel,
            timeout=timeout,
            timeout_func=self.timeout_for,
            startup_timeout=startup_timeout,
            record_timing=True,
            resources={"metadata": {"path": cwd}},
        )
        self._context = None

    def timeout_for(self, cell) -> int:
        if cell is self._first_code or is_dep_cell(cell):
            return self._timeout_first
        return self._timeout

    def __enter__(self):
        self.client.reset_execution_trackers()
        self._context = self.client.setup_kernel(cwd=self.cwd)
        self._context.__enter__()
        try:
            info = self.client.wait_for_reply(self.client.kc.kernel_info())
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        if info and "language_info" in info["content"]:
            self.nb.metadata["language_info"] = info["content"]["language_info"]
        return self

    def __exit__(self, *exc):
        context, self._context = self._context, None
        return context.__exit__(*exc) if context is not None else False

    def run(self, index: int, interrupt_on_timeout: bool = False) -> str | None:
        """Executes nb.cells[index]; returns None, or the reason it failed. Raises
        DeadKernelError when the kernel died."""
        cell = self.nb.cells[index]
        # nbclient interrupts the kernel itself and then answers with this error reply.
        self.client.interrupt_on_timeout = interrupt_on_timeout
        self.client.error_on_timeout = {"ename": "CellTimeout", "evalue": "interrupted",
                                        "traceback": []} if interrupt_on_timeout else None
        try:
            self.client.execute_cell(cell, index, execution_count=self.client.code_cells_executed + 1)
        except CellTimeoutError:
            return f"timeout after {self.timeout_for(cell)} s"
        except CellExecutionError as e:
            if interrupt_on_timeout and e.ename == "CellTimeout":
                return f"timeout after {self.timeout_for(cell)} s"
            return inspect_outputs(cell.outputs) or f"error: {first_line(str(e))}"
        return inspect_outputs(cell.outputs)


def run_notebook(path: str, args) -> tuple[Result, nbformat.NotebookNode | None]:
    nb_dir = os.path.dirname(os.path.abspath(path))
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # unreadable / invalid JSON
        res = Result(path, 0, failed=True, reason=f"cannot read notebook: {first_line(str(e))}")
        return res, None

    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    first_code = code_cells[0] if code_cells else None
    res = Result(path, len(code_cells))

    def timeout_for(cell) -> int:
        if cell is first_code or is_dep_cell(cell):
            return args.timeout_first
        return args.timeout

    client = StrictClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        timeout_func=timeout_for,
        startup_timeout=args.startup_timeout,
        record_timing=True,
        resources={"metadata": {"path": nb_dir}},
    )

    def fail(index, reason):
        res.failed = True
        res.fail_cell = index
        res.reason = reason
        if index is not None and index < len(nb.cells):
            src = first_line(nb.cells[index].source)
            res.fail_source = src if len(src) <= 40 else src[:39] + "…"

    def check(current):
        """Fail on the earliest cell whose outputs (including late ones) are a problem."""
        indices = sorted(client.late | ({current} if current is not None else set()))
        client.late.clear()
        for i in indices:
            if i >= len(nb.cells):
                continue
            problem = inspect_outputs(nb.cells[i].outputs)
            if problem:
                fail(i, problem if i == current else f"{problem} (arrived late)")
                return

    t0 = time.monotonic()
    try:
        client.reset_execution_trackers()
        with client.setup_kernel(cwd=nb_dir):
            info = client.wait_for_reply(client.kc.kernel_info())
            if info and "language_info" in info["content"]:
                nb.metadata["language_info"] = info["content"]["language_info"]
            last_code_index = None
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                last_code_index = index
                try:
                    client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                except CellTimeoutError:
                    fail(index, f"timeout after {timeout_for(cell)} s")
                except DeadKernelError:
                    fail(index, "kernel died")
                except CellExecutionError as e:
                    client.settle(args.settle, 2.0)
                    fail(index, inspect_outputs(cell.outputs) or f"error: {first_line(str(e))}")
                res.executed += 1
                if res.failed:
                    break
                client.settle(args.settle, 2.0)
                check(index)
                if res.failed:
                    break
            if not res.failed and last_code_index is not None:
                # Output of the last cell that is later still: one no-op request (its stray
                # output belongs to the last cell), then a longer settle.
                probe = nbformat.v4.new_code_cell("// nbrun: flush")
                nb.cells.append(probe)  # nbclient indexes nb.cells by cell_index
                try:
                    client.execute_cell(probe, len(nb.cells) - 1)
                    client.settle(max(args.settle, 0.5), 5.0)
                except DeadKernelError:
                    fail(last_code_index, "kernel died after the last cell")
                except (CellExecutionError, CellTimeoutError) as e:
                    fail(last_code_index, f"after the last cell: {first_line(str(e))}")
                finally:
                    nb.cells.remove(probe)
                    probe_index = len(nb.cells)
                    if probe.outputs:
                        nb.cells[last_code_index].outputs.extend(probe.outputs)
                        client.late.add(last_code_index)
                    client.late.discard(probe_index)
                if not res.failed:
                    check(None)
    except DeadKernelError:
        fail(None, "kernel died")
    except Exception as e:  # kernel failed to start, zmq trouble, ...
        if not res.failed:
            fail(None, f"{type(e).__name__}: {first_line(str(e))}")
    res.seconds = time.monotonic() - t0
    return res, nb


def setup_cells(nb) -> list[int]:
    """Indices of the notebook's setup cells: the first code cells whose every line is a
    `:` command, a `use` item or blank."""
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
        if not all(line.startswith((":", "use ", "//")) for line in lines):
            break
        cells.append(index)
    return cells


def warm(path: str, args) -> int:
    """Runs the setup cells of `path` (see --warm); 0 when they passed."""
    nb = nbformat.read(path, as_version=4)
    cells = setup_cells(nb)
    if not any(is_dep_cell(nb.cells[i]) for i in cells):
        print(f"nbrun --warm: no :dep among the setup cells of {path}", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    try:
        with KernelSession(nb, os.path.dirname(os.path.abspath(path)), kernel=args.kernel,
                           timeout=args.timeout, timeout_first=args.timeout_first,
                           startup_timeout=args.startup_timeout) as k:
            for i in cells:
                reason = k.run(i)
                if reason:
                    print(f"nbrun --warm: {path} cell {i}: {reason}", file=sys.stderr)
                    return 1
    except Exception as e:  # kernel died or did not start
        print(f"nbrun --warm: {type(e).__name__}: {first_line(str(e))}", file=sys.stderr)
        return 1
    print(f"nbrun --warm: {len(cells)} setup cell(s) of {path} in {time.monotonic() - t0:.0f} s", flush=True)
    return 0


RESULT_KEY = "nbrun_result"


def quick_mode() -> bool:
    """WORKBOOK_QUICK as the crate reads it (src/workbook.rs): set, not empty, not "0"."""
    return os.environ.get("WORKBOOK_QUICK", "") not in ("", "0")


def result_metadata(res: Result) -> dict:
    """What the book build (tools/book.py) reads to tell a complete run from a failed one."""
    meta = {
        "status": "failed" if res.failed else "passed",
        "quick": quick_mode(),
        "code_cells": res.code_cells,
        "executed_cells": res.executed,
        "seconds": round(res.seconds, 1),
    }
    if res.failed:
        meta["failure"] = f"{res.where()}: {res.reason}"
    return meta


def output_path_for(path: str, args) -> str:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(args.relative_to))
    if rel.startswith(".." + os.sep) or rel == "..":
        rel = os.path.basename(path)
    return os.path.join(args.output_dir, rel)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    p.add_argument("--kernel", default="rust", help="kernel name (default: rust)")
    p.add_argument("--timeout-first", type=int, default=900, metavar="S",
                   help="timeout of the first code cell and of any cell with :dep (default 900 s)")
    # Full size trains for minutes in one cell (chapter 4c's comparison over seeds); the reduced
    # size of the test command keeps the tight limit that catches a hang early.
    quick = bool(os.environ.get("WORKBOOK_QUICK"))
    p.add_argument("--timeout", type=int, default=300 if quick else 1800, metavar="S",
                   help="timeout of every other cell (default 300 s with WORKBOOK_QUICK set, else 1800 s)")
    p.add_argument("--startup-timeout", type=int, default=120, metavar="S",
                   help="how long the kernel may take to start (default 120 s)")
    p.add_argument("--output-dir", metavar="DIR",
                   help="write executed notebooks here, with the run's result in their metadata "
                        f"({RESULT_KEY!r}: status, failure, quick, ...)")
    p.add_argument("--relative-to", default=".", metavar="DIR",
                   help="keep notebook paths relative to DIR under --output-dir (default: .)")
    p.add_argument("--expect-fail", action="store_true",
                   help="self-test: every notebook given must fail")
    p.add_argument("--settle", type=float, default=0.15, metavar="S",
                   help="after each cell, wait until the kernel's output has been quiet this long "
                        "(evcxr delivers stdout/stderr asynchronously; default 0.15 s)")
    p.add_argument("--summary", metavar="FILE",
                   help="append 'PASSED FAILED' (notebook counts) to FILE")
    p.add_argument("--warm", action="store_true",
                   help="run only the setup cells (`:dep`, `use`) of the one notebook given")
    args = p.parse_args(argv)
    if args.warm:
        if len(args.notebooks) != 1:
            p.error("--warm takes one notebook")
        return warm(args.notebooks[0], args)

    results = []
    mode = "expect-fail" if args.expect_fail else "run"
    quick = " WORKBOOK_QUICK=1" if quick_mode() else ""
    print(f"nbrun ({mode}{quick}): {len(args.notebooks)} notebook(s)", flush=True)
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        spec = KernelSpecManager().get_kernel_spec(args.kernel)
        print(f"kernel {args.kernel!r}: {spec.resource_dir} -> {spec.argv[0]}", flush=True)
    except Exception as e:
        print(f"kernel {args.kernel!r} not found ({first_line(str(e))}); run ./workbook.sh setup",
              flush=True)
    for path in args.notebooks:
        print(f"  running {path} ...", flush=True)
        res, nb = run_notebook(path, args)
        if res.failed and res.fail_cell is None and res.executed == 0:
            # The kernel never ran a cell (it died while starting): infrastructure, not the
            # notebook. One retry, said out loud.
            print(f"  kernel trouble before the first cell ({res.reason}); retrying once", flush=True)
            res, nb = run_notebook(path, args)
        if args.output_dir and nb is not None:
            out = output_path_for(path, args)
            os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
            nb.metadata[RESULT_KEY] = result_metadata(res)
            nbformat.write(nb, out)
        ok = res.failed if args.expect_fail else not res.failed
        if args.expect_fail and res.failed:
            try:
                meta = nbformat.read(path, as_version=4).metadata.get("nbrun", {})
            except Exception:
                meta = {}
            want = meta.get("expect_failure")
            if want and want not in res.reason:
                ok = False
                res.reason += f"  [expected a failure containing {want!r}]"
        results.append((res, ok))
        print(f"  {'ok  ' if ok else 'FAIL'} {path} ({res.seconds:.1f} s)"
              + (f": {res.where()}: {res.reason}" if res.failed else ""), flush=True)

    rows = []
    for res, ok in results:
        if args.expect_fail:
            result = "failed as expected" if ok else ("UNEXPECTED PASS" if not res.failed else "FAILED WRONGLY")
        else:
            result = "passed" if ok else "FAILED"
        detail = ""
        if res.failed:
            detail = f"{res.where()}: {res.reason}"
        rows.append((res.path, f"{res.executed}/{res.code_cells}", f"{res.seconds:.1f}", result, detail))
    header = ("notebook", "cells", "seconds", "result", "first failure")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    print()
    for row in [header] + rows:
        print("  ".join(row[i].ljust(widths[i]) for i in range(4)) + ("  " + row[4] if row[4] else ""))
    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    if any(res.fail_cell is not None for res, _ in results):
        print("(cell N = position in the notebook counting from 0, markdown cells included)")
    print(f"nbrun: {passed} passed, {failed} failed", flush=True)
    if args.summary:
        with open(args.summary, "a") as f:
            f.write(f"{passed} {failed}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
