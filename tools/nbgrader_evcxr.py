"""nbgrader plugin for the Rust (evcxr) exercise notebooks; nbgrader_config.py installs it.

`EvcxrExecute` replaces nbgrader's `Execute` preprocessor in `nbgrader autograde`:

  * evcxr's error replies carry no `ename`/`evalue`/`traceback` (nbgrader 0.9.6 then crashes
    with KeyError: 'ename' and drops the whole submission): they are filled in;
  * under evcxr a panicking cell finishes with status "ok" (the message only goes to stderr,
    asynchronously, sometimes never): each graded cell gets a marker value appended while it
    runs and must show it back; a cell that does not (a panic, even a silenced one, or an
    `Err` at a `?`) gets an error output, which is what nbgrader counts as a failed test;
  * `:dep <crate> = { path = "..." }` is resolved against the crate this file belongs to
    (nbgrader runs a submission from autograded/<student>/<assignment>/, where the relative
    path of the exercise notebooks points nowhere);
  * a cell with a `:dep` gets `dep_timeout` (a fresh kernel compiles the dependencies once),
    and late output (evcxr sends it after the reply) is waited for, never an error.

This makes nbgrader grade honest submissions right. It is not a sandbox: the submission runs
with the teacher's rights, in one kernel for the whole notebook, and can print the marker or
redefine what the tests call. docs/EXERCISES.md lists what nbgrader does not protect against;
`./workbook.sh grade` is the grader that does.
"""
from __future__ import annotations

import os
import re
import secrets

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Unicode

DEP = re.compile(r'^(\s*:dep\s+[A-Za-z0-9_-]+\s*=\s*\{.*?\bpath\s*=\s*)"[^"]*"', re.M)
PANIC = "panicked at"


def crate_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class EvcxrExecute(Execute):
    crate_path = Unicode(
        "", help="Folder of the crate the notebooks `:dep` by path (default: this repository)."
    ).tag(config=True)
    dep_timeout = Integer(
        900, help="Timeout of a cell with a `:dep` (the first compile of the dependencies)."
    ).tag(config=True)
    # evcxr sends a cell's output after its reply, late on a busy machine: wait for it, and
    # never fail a cell for output that is slow to come (nbgrader: 4 s, then an error).
    iopub_timeout = Integer(30).tag(config=True)
    raise_on_iopub_timeout = Bool(False).tag(config=True)

    def _get_timeout(self, cell):
        if cell is not None and DEP.search(cell.source):
            return self.dep_timeout
        return super()._get_timeout(cell)

    def preprocess(self, nb, resources=None, km=None):
        self._marker = f"nbgrader cell complete {secrets.token_hex(8)}"
        return super().preprocess(nb, resources, km=km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        original = cell.source
        graded = bool(cell.metadata.get("nbgrader", {}).get("grade"))
        path = (self.crate_path or crate_root()).replace("\\", "/")
        source = DEP.sub(lambda m: f'{m.group(1)}"{path}"', original)
        if graded:
            source = f'{source}\n;\n"{self._marker}"'
        cell.source = source
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = original
        if graded:
            done = [o for o in cell.outputs if o.get("output_type") == "execute_result"
                    and self._marker in str(o.get("data", {}).get("text/plain", ""))]
            cell.outputs = [o for o in cell.outputs if not any(o is d for d in done)]
            if not done and not any(o.get("output_type") == "error" for o in cell.outputs):
                cell.outputs.append(self._stopped(cell))
        return cell, resources

    @staticmethod
    def _stopped(cell) -> NotebookNode:
        """The error output of a graded cell that did not reach its end."""
        stderr = "".join(o.get("text", "") for o in cell.outputs
                         if o.get("output_type") == "stream" and o.get("name") == "stderr")
        lines = stderr.splitlines()
        at = next((i for i, l in enumerate(lines) if PANIC in l), None)
        if at is not None:
            message = " ".join(l.strip() for l in lines[at + 1:at + 6]
                               if l.strip() and not l.startswith("note:"))
            return NotebookNode(output_type="error", ename="panic", evalue=message,
                                traceback=lines[at:at + 6])
        message = "the cell stopped before its end (a panic, or an Err at a `?`)"
        return NotebookNode(output_type="error", ename="stopped", evalue=message, traceback=[message])

    def on_cell_executed(self, **kwargs):
        content = kwargs["execute_reply"]["content"]
        if content.get("status") == "error":
            content.setdefault("ename", "Error")
            content.setdefault("evalue", content.get("ename", "Error"))
            content.setdefault("traceback", [])
        for output in kwargs["cell"].outputs:
            if output.get("output_type") == "error":
                output.setdefault("ename", "Error")
                output.setdefault("evalue", "")
                output.setdefault("traceback", [])
        return super().on_cell_executed(**kwargs)
