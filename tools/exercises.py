#!/usr/bin/env python3
"""Exercise notebooks for teachers: make student versions, grade submissions.

    exercises.py student [NOTEBOOK...] [--output-dir DIR]
    exercises.py grade SUBMISSIONS_DIR [--source DIR] [--out DIR] [--timeout S] [--jobs N]
    exercises.py check [NOTEBOOK...]

The exercise notebooks (notebooks/exercises/*.ipynb) mark their cells the way nbgrader does
(`metadata.nbgrader = {grade, grade_id, locked, points, schema_version: 3, solution, task}`):

  * setup cells       locked code cells before the first exercise (`:dep`, `use`, helpers),
                      grade_id `setup-...`; items only (evcxr commands aside), which the
                      solution and the tests cells of every exercise can use;
  * an exercise       cells whose grade_id starts with the same `<exercise>-` prefix:
      statement       a locked markdown cell stating the task and "(N points)";
      solution        code with solution: true; the region between `// ### BEGIN SOLUTION`
                      and `// ### END SOLUTION` becomes `todo!("your code here")` in the
                      student version (make that region a whole function body so it compiles);
      tests           code with grade: true and points: a failing `assert!` panics;
                      a region between `// ### BEGIN HIDDEN TESTS` and `// ### END HIDDEN
                      TESTS` is removed from the student version and put back for grading.

`student` refuses a notebook that breaks these rules, naming the file and the cell.

`grade` grades every notebook under SUBMISSIONS_DIR/<student>/ (any depth) against the
exercise notebook it matches (same file name, else the most shared cell ids). Locked cells
(setup, statements, tests, hidden tests) come from the exercise notebook; only the student's
solution cells are taken from the submission, and only their items (functions, types, impls;
top-level statements are left out, with a note). Untrusted code runs as untrusted
(tools/grading/): each submitted notebook becomes one Rust program, compiled inside a
bubblewrap sandbox that sees the compiler, the crate's compiled library and this submission's
generated sources, nothing else; each tests cell then runs as its own process in a fresh sandbox
(no network, no /proc, no view of the repository, the submissions or the gradebook, a private
/tmp, limits on time, output and memory; everything it starts dies with it). A tests cell earns
its points when its process prints a one-time token that only the test harness receives, after
the student's code was compiled, and only once the cell returned normally. The tests are their
own module: they import only the items the exercise asks for and call every macro by its
absolute path. A compile error costs the exercise it points at; the others are compiled again
without it. Details and limits: docs/EXERCISES.md.

Results: a table per student on stdout, and
OUT/grades.csv, OUT/grades.json, OUT/feedback/<student>/<notebook> (executed, with the
hidden tests and their outputs).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import glob
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import nbformat

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nbrun  # noqa: E402  (the notebook runner's small helpers)
from grading import build, rust, sandbox  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_DIR = os.path.join(ROOT, "notebooks", "exercises")

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
# nbgrader: c.ClearSolutions.code_stub = {"rust": 'todo!("your code here")'}
CODE_STUB = 'todo!("your code here")'
HIDDEN_PLACEHOLDER = "// Hidden tests: they are added back when your work is graded."
GRADE_ID = re.compile(r"^(?P<exercise>[A-Za-z0-9_]+)-(?P<part>[A-Za-z0-9_-]+)$")
STATED_POINTS = re.compile(r"\((\d+(?:\.\d+)?)\s+points?\)")
SETUP = "setup"


class ExerciseError(Exception):
    """A notebook that cannot be used as an exercise notebook; the message names file and cell."""


# ------------------------------------------------------------------ the exercise notebook
@dataclass
class Exercise:
    id: str
    title: str
    statement: int
    solutions: list[int] = field(default_factory=list)
    tests: list[int] = field(default_factory=list)
    points: float = 0.0


@dataclass
class ExerciseNotebook:
    path: str
    nb: nbformat.NotebookNode
    setup: list[int]
    exercises: list[Exercise]

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def grade_ids(self) -> dict[str, int]:
        return {meta(c)["grade_id"]: i for i, c in enumerate(self.nb.cells) if meta(c)}


def meta(cell) -> dict | None:
    m = cell.get("metadata", {}).get("nbgrader")
    return m if isinstance(m, dict) else None


def cell_name(path: str, index: int, cell) -> str:
    m = meta(cell)
    gid = f" ({m['grade_id']})" if m and isinstance(m.get("grade_id"), str) else ""
    return f"{path}: cell {index}{gid}"


def split_regions(source: str, begin: str, end: str, where: str):
    """[(False, lines) | (True, lines)] alternating outside/inside the marked regions, plus the
    indentation of each BEGIN line. Raises ExerciseError for nesting or a missing marker."""
    parts, indents, current, inside = [], [], [], False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ExerciseError(f"{where}: nested '{begin}' (the previous region has no '{end}')")
            parts.append((False, current))
            current, inside = [], True
            indents.append(re.match(r"\s*", line).group(0))
        elif end in line:
            if not inside:
                raise ExerciseError(f"{where}: '{end}' without a '{begin}' before it")
            parts.append((True, current))
            current, inside = [], False
        else:
            current.append(line)
    if inside:
        raise ExerciseError(f"{where}: '{begin}' has no matching '{end}'")
    parts.append((False, current))
    return parts, indents


def replace_regions(source: str, begin: str, end: str, stub: list[str] | None, where: str):
    """Source with every marked region (markers included) replaced by `stub` (indented like its
    BEGIN line) or removed (stub None); and the number of regions."""
    parts, indents = split_regions(source, begin, end, where)
    out, k = [], 0
    for inside, lines in parts:
        if not inside:
            out.extend(lines)
        else:
            if stub is not None:
                out.extend(indents[k] + s for s in stub)
            k += 1
    return "\n".join(out), k


def read_notebook(path: str) -> nbformat.NotebookNode:
    try:
        return nbformat.read(path, as_version=4)
    except Exception as e:
        raise ExerciseError(f"{path}: not a readable notebook ({nbrun.first_line(str(e))})") from None


def load_exercise_notebook(path: str) -> ExerciseNotebook:
    """Reads and checks an exercise notebook (with solutions); raises ExerciseError naming the
    file and the cell for anything the student version or the grader could not handle."""
    nb = read_notebook(path)
    language = nb.metadata.get("kernelspec", {}).get("language")
    if language != "rust":
        raise ExerciseError(f"{path}: kernelspec language is {language!r}, expected 'rust'")
    if not any(meta(c) for c in nb.cells):
        raise ExerciseError(f"{path}: no cell has exercise metadata (metadata.nbgrader); "
                            "not an exercise notebook")
    seen: dict[str, int] = {}
    setup: list[int] = []
    exercises: dict[str, Exercise] = {}
    order: list[str] = []
    for i, cell in enumerate(nb.cells):
        where = cell_name(path, i, cell)
        m = meta(cell)
        if m is None:
            if cell.cell_type == "code" and cell.source.strip():
                raise ExerciseError(f"{where}: code cell without exercise metadata "
                                    "(make it a locked setup cell or part of an exercise)")
            for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN):
                if marker in cell.source:
                    raise ExerciseError(f"{where}: '{marker}' in a cell without exercise metadata")
            continue
        if m.get("schema_version") != 3:
            raise ExerciseError(f"{where}: nbgrader schema_version is {m.get('schema_version')!r}, expected 3")
        for key in ("grade", "solution", "locked"):
            if not isinstance(m.get(key), bool):
                raise ExerciseError(f"{where}: metadata.nbgrader.{key} must be true or false")
        gid = m.get("grade_id")
        match = GRADE_ID.match(gid) if isinstance(gid, str) else None
        if not match:
            raise ExerciseError(f"{where}: grade_id {gid!r} must look like '<exercise>-<part>' "
                                "(letters, digits, _ ; e.g. 'milstein-solution')")
        if gid in seen:
            raise ExerciseError(f"{where}: duplicate grade_id {gid!r} (also cell {seen[gid]})")
        seen[gid] = i
        if m.get("task"):
            raise ExerciseError(f"{where}: task cells are graded by hand; this autograder does not support them")
        grade, solution = m["grade"], m["solution"]
        if grade and cell.cell_type != "code":
            raise ExerciseError(f"{where}: a graded markdown cell is graded by hand; not supported")
        if grade:
            points = m.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
                raise ExerciseError(f"{where}: a grade cell needs points >= 0 (has {points!r})")
        if solution and cell.cell_type != "code":
            raise ExerciseError(f"{where}: a markdown solution cell is graded by hand; not supported")

        _, n_solution = replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION, None, where)
        _, n_hidden = replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
        if n_solution and not solution:
            raise ExerciseError(f"{where}: '{BEGIN_SOLUTION}' in a cell that is not a solution cell")
        if solution and not n_solution:
            raise ExerciseError(f"{where}: solution cell without a '{BEGIN_SOLUTION}' ... "
                                f"'{END_SOLUTION}' region (a whole-cell stub would not compile)")
        if n_hidden and not grade:
            raise ExerciseError(f"{where}: '{BEGIN_HIDDEN}' in a cell that is not a grade (tests) cell")
        if solution and grade:
            raise ExerciseError(f"{where}: a cell cannot be both solution and tests here; "
                                "put the tests in their own cell")

        name = match.group("exercise")
        if name == SETUP:
            if cell.cell_type != "code" or grade or solution or not m["locked"]:
                raise ExerciseError(f"{where}: 'setup-' cells must be locked code cells")
            if exercises:
                raise ExerciseError(f"{where}: setup cells must come before the first exercise")
            setup.append(i)
            continue
        if name not in exercises:
            if cell.cell_type != "markdown" or grade or solution:
                raise ExerciseError(f"{where}: exercise {name!r} must start with its statement "
                                    "(a locked markdown cell)")
            title = next((l.lstrip("#").strip() for l in cell.source.splitlines() if l.strip()), name)
            exercises[name] = Exercise(name, title, i)
            order.append(name)
            continue
        if order[-1] != name:
            raise ExerciseError(f"{where}: cells of exercise {name!r} must be contiguous")
        ex = exercises[name]
        if solution:
            if ex.tests:
                raise ExerciseError(f"{where}: solution cells of {name!r} must come before its tests")
            ex.solutions.append(i)
        elif grade:
            ex.tests.append(i)
            ex.points += float(m["points"])
        elif cell.cell_type == "code":
            raise ExerciseError(f"{where}: code cell in exercise {name!r} that is neither "
                                "solution nor tests")

    if not exercises:
        raise ExerciseError(f"{path}: no exercise (cells named '<exercise>-statement', "
                            "'<exercise>-solution', '<exercise>-tests')")
    for ex in exercises.values():
        where = cell_name(path, ex.statement, nb.cells[ex.statement])
        if not ex.solutions:
            raise ExerciseError(f"{where}: exercise {ex.id!r} has no solution cell")
        if not ex.tests:
            raise ExerciseError(f"{where}: exercise {ex.id!r} has no tests cell")
        hidden = [replace_regions(nb.cells[t].source, BEGIN_HIDDEN, END_HIDDEN, None, "")
                  for t in ex.tests]
        if not any(n for _, n in hidden):
            raise ExerciseError(f"{where}: exercise {ex.id!r} has no hidden tests")
        if not any(code_lines(src) for src, _ in hidden):
            raise ExerciseError(f"{where}: exercise {ex.id!r} has no visible tests")
        stated = STATED_POINTS.search(nb.cells[ex.statement].source)
        if not stated:
            raise ExerciseError(f"{where}: the statement of {ex.id!r} must say '(N points)'")
        if float(stated.group(1)) != ex.points:
            raise ExerciseError(f"{where}: the statement of {ex.id!r} says {stated.group(1)} "
                                f"points, its tests cells carry {ex.points:g}")
    return ExerciseNotebook(path, nb, setup, [exercises[n] for n in order])


def code_lines(source: str) -> list[str]:
    return [l for l in source.splitlines() if l.strip() and not l.strip().startswith("//")]


# ------------------------------------------------------------------ student versions
def student_version(ref: ExerciseNotebook) -> nbformat.NotebookNode:
    """Solutions replaced by the stub, hidden tests removed, outputs cleared, exercise cells
    protected from deletion and locked cells from editing (as nbgrader's release does)."""
    nb = copy.deepcopy(ref.nb)
    for i, cell in enumerate(nb.cells):
        where = cell_name(ref.path, i, cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        m = meta(cell)
        if m is None:
            continue
        if m["solution"]:
            cell.source, _ = replace_regions(cell.source, BEGIN_SOLUTION, END_SOLUTION,
                                             CODE_STUB.split("\n"), where)
        if m["grade"]:
            source, n = replace_regions(cell.source, BEGIN_HIDDEN, END_HIDDEN, None, where)
            if n and not code_lines(source):
                source = HIDDEN_PLACEHOLDER
            cell.source = source
        cell.metadata["deletable"] = False
        if m["locked"] or m["grade"]:
            cell.metadata["editable"] = False
    return nb


def cmd_student(args) -> int:
    paths = args.notebooks or sorted(glob.glob(os.path.join(SOURCE_DIR, "*.ipynb")))
    if not paths:
        print(f"exercises: no exercise notebooks in {SOURCE_DIR}", file=sys.stderr)
        return 2
    try:
        refs = [load_exercise_notebook(p) for p in paths]
    except ExerciseError as e:
        print(f"exercises: error: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.output_dir, exist_ok=True)
    for ref in refs:
        out = os.path.join(args.output_dir, ref.name)
        nbformat.write(student_version(ref), out)
        print(f"{out}: {len(ref.exercises)} exercises, "
              f"{sum(e.points for e in ref.exercises):g} points")
    return 0


def cmd_check(args) -> int:
    paths = args.notebooks or sorted(glob.glob(os.path.join(SOURCE_DIR, "*.ipynb")))
    status = 0
    for p in paths:
        try:
            ref = load_exercise_notebook(p)
            print(f"ok   {p}: {len(ref.exercises)} exercises, "
                  f"{sum(e.points for e in ref.exercises):g} points")
        except ExerciseError as e:
            print(f"FAIL {e}")
            status = 1
    return status


# ------------------------------------------------------------------ grading
@dataclass
class Row:
    """One line of the gradebook."""
    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    detail: str = ""


def discover(submissions: str) -> list[tuple[str, str]]:
    """(student, file) for every file under SUBMISSIONS/<student>/ (a file directly in
    SUBMISSIONS counts as the submission of the student named by its stem)."""
    found = []
    for entry in sorted(os.listdir(submissions)):
        full = os.path.join(submissions, entry)
        if entry.startswith("."):
            continue
        if os.path.isdir(full):
            for d, dirs, files in os.walk(full):
                dirs[:] = sorted(x for x in dirs if not x.startswith("."))
                found += [(entry, os.path.join(d, f)) for f in sorted(files) if not f.startswith(".")]
        elif os.path.isfile(full):
            found.append((os.path.splitext(entry)[0], full))
    return found


def match_reference(path: str, nb, refs: list[ExerciseNotebook]) -> ExerciseNotebook | None:
    by_name = {r.name: r for r in refs}
    ids = {meta(c)["grade_id"] for c in nb.cells if meta(c) and isinstance(meta(c).get("grade_id"), str)}
    if os.path.basename(path) in by_name:
        return by_name[os.path.basename(path)]
    overlap = sorted(((len(ids & set(r.grade_ids())), r.name) for r in refs), reverse=True)
    if overlap and overlap[0][0] > 0 and (len(overlap) == 1 or overlap[0][0] > overlap[1][0]):
        return by_name[overlap[0][1]]
    return None


def assemble(ref: ExerciseNotebook, sub) -> tuple[nbformat.NotebookNode, list[str], dict[str, Row]]:
    """The notebook to run: the exercise notebook with the student's solution cells.
    Returns it, notes for the report, and the rows of exercises decided without running."""
    notes: list[str] = []
    decided: dict[str, Row] = {}
    theirs: dict[str, object] = {}
    for cell in sub.cells:
        m = meta(cell)
        gid = m.get("grade_id") if m else None
        if isinstance(gid, str):
            if gid in theirs:
                notes.append(f"cell {gid!r} appears twice in the submission; the first one is graded")
            else:
                theirs[gid] = cell
    nb = copy.deepcopy(ref.nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    restored = []
    for ex in ref.exercises:
        for i in ex.solutions:
            gid = meta(nb.cells[i])["grade_id"]
            cell = theirs.get(gid)
            if cell is None:
                decided[ex.id] = Row("", "", ex.id, 0, ex.points, "missing",
                                     f"solution cell {gid!r} is missing from the submission")
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            commands = rust.evcxr_commands(source)
            if commands and ex.id not in decided:
                decided[ex.id] = Row("", "", ex.id, 0, ex.points, "rejected",
                                     f"evcxr command {commands[0].split()[0]!r} in solution cell {gid!r}")
            nb.cells[i].source = source
        for i in ex.tests + [ex.statement]:
            gid = meta(nb.cells[i])["grade_id"]
            if gid not in theirs:
                restored.append(gid)
    for i in ref.setup:
        gid = meta(nb.cells[i])["grade_id"]
        if gid not in theirs:
            restored.append(gid)
    if restored:
        notes.append(f"{len(restored)} locked cell(s) missing from the submission, taken from the "
                     f"exercise notebook: {', '.join(restored)}")
    return nb, notes, decided


def role(ref_nb, index: int) -> str:
    m = meta(ref_nb.cells[index])
    if m["solution"]:
        return "solution"
    _, hidden = replace_regions(ref_nb.cells[index].source, BEGIN_HIDDEN, END_HIDDEN, None, "")
    return "hidden tests" if hidden else "tests"


def student_items(source: str, gid: str, setup_uses: frozenset = frozenset()) -> tuple[str, list[str]]:
    """The items of a solution cell, with its top-level statements (a `println!` left from
    trying the function out, a trailing expression evcxr would display) and repeats of the
    setup cells' `use`s blanked out, line numbers kept; and notes naming what was left out."""
    try:
        chunks = rust.chunks(source)
    except rust.LexError:
        return source, []  # the compiler will say what is wrong with it
    notes = []
    for c in chunks:
        if c.item and " ".join(c.text.split()) in setup_uses:
            source = source.replace(c.text, "\n" * c.text.count("\n"), 1)
        elif not c.item:
            first = nbrun.first_line(c.text)[:60]
            notes.append(f"solution cell {gid!r}: the top-level statement `{first}` is not run when "
                         "grading (only items: functions, types, impls)")
            source = source.replace(c.text, "\n" * c.text.count("\n"), 1)
    return source, notes


FEEDBACK_STREAM_LIMIT = 20_000  # characters of a stream kept in a feedback notebook


def stream(name: str, text: str):
    if len(text) > FEEDBACK_STREAM_LIMIT:
        text = text[:FEEDBACK_STREAM_LIMIT] + f"\n[... {len(text) - FEEDBACK_STREAM_LIMIT} more characters not kept]\n"
    return nbformat.v4.new_output("stream", name=name, text=text)


def error_output(ename: str, evalue: str, traceback: str = ""):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                  traceback=(traceback or evalue)[:FEEDBACK_STREAM_LIMIT].split("\n"))


def crate_name(ref: ExerciseNotebook) -> str:
    """The crate the setup cells `:dep` (it must be this repository's)."""
    for i in ref.setup:
        for command in rust.evcxr_commands(ref.nb.cells[i].source):
            m = re.match(r":dep\s+([A-Za-z0-9_-]+)", command)
            if m:
                return m.group(1).replace("-", "_")
    raise ExerciseError(f"{ref.path}: no ':dep' in the setup cells")


def grade_notebook(job: dict) -> dict:
    """Grades one submitted notebook (runs in a worker process): its exercises compiled into
    one test program in the sandbox, each tests cell run in a sandbox of its own (see
    tools/grading/build.py). Returns rows, notes, and where the executed notebook went."""
    student, path, notebook = job["student"], job["path"], job["reference"]
    tc: build.Toolchain = job["toolchain"]
    ref = load_exercise_notebook(notebook)
    sub = nbformat.read(path, as_version=4)
    nb, notes, decided = assemble(ref, sub)
    t0 = time.monotonic()
    setup = "\n\n".join(rust.without_commands(nb.cells[i].source) for i in ref.setup)
    setup_uses = frozenset(" ".join(c.text.split()) for c in rust.chunks(setup)
                           if c.item and c.text.lstrip().startswith("use "))
    units, by_id = [], {e.id: e for e in ref.exercises}
    for ex in ref.exercises:
        if ex.id in decided:
            continue
        parts, cells = [], []
        for i in ex.solutions:
            gid = meta(nb.cells[i])["grade_id"]
            items, dropped = student_items(nb.cells[i].source, gid, setup_uses)
            notes += dropped
            parts.append(items)
            cells.append((gid, items.count("\n") + 1))
        if any(rust.uses_unsafe(nb.cells[i].source) for i in ex.solutions):
            decided[ex.id] = Row("", "", ex.id, 0, ex.points, "compile error",
                                 "solution: error: `unsafe` is not allowed in a solution")
            nb.cells[ex.solutions[0]].outputs.append(error_output(
                "compile error", "`unsafe` is not allowed in a solution (the grader rejects the keyword)"))
            continue
        names = [n for i in ex.solutions for n in rust.item_names(ref.nb.cells[i].source)]
        units.append(build.Unit(ex.id, "\n".join(parts), cells, names,
                                [(meta(nb.cells[i])["grade_id"], nb.cells[i].source) for i in ex.tests]))
    index = {meta(c)["grade_id"]: i for i, c in enumerate(nb.cells) if meta(c)}
    rows: dict[str, Row] = decided
    setup_error = None
    limits = dict(max_output=job["max_output"], address_space=job["memory"], file_size=job["max_output"])

    def log(message):
        if job.get("verbose"):
            print(f"      {student}: {message}", flush=True)

    with tempfile.TemporaryDirectory(prefix="grading-") as folder, \
            contextlib.closing(build.Crate(folder, setup, units)) as crate:
        active = [u.id for u in units]
        failed: dict[str, list[build.Diagnostic]] = {}

        def compile_(ids, check):
            t = time.monotonic()
            ok, diags = build.compile_crate(tc, crate, ids, check=check, timeout=job["compile_timeout"],
                                            max_output=job["max_output"])
            log(f"{'check' if check else 'build'} of {len(ids)} exercise(s): {time.monotonic() - t:.1f} s, "
                f"{'ok' if ok else f'{len(diags)} error(s)'}")
            return ok, diags

        for check in (True, False):  # the check finds compile errors fast; the build links
            while active:
                ok, diags = compile_(active, check)
                if ok:
                    break
                traced = {d.exercise for d in diags if d.exercise in active}
                if not traced:  # e.g. a linker error: compile each exercise alone to find it
                    together = list(active)
                    for ex in together:
                        alone_ok, alone = compile_([ex], check)
                        if not alone_ok:
                            failed[ex] = alone
                            active.remove(ex)
                    if active == together:
                        setup_error = f"the exercises compile alone but not together: {diags[0].message}"
                        failed.update({ex: diags for ex in active})
                        active = []
                    continue
                for ex in traced:
                    failed[ex] = [d for d in diags if d.exercise == ex]
                    active.remove(ex)
        if failed and not active and all(d.cell is None for ds in failed.values() for d in ds):
            # Nothing compiled and no error points into a student's or a tests cell: are the
            # setup cells or the crate broken (not the submission)?
            probe = build.Crate(os.path.join(folder, "setup"), setup, [build.Unit("setup", "", [], [], [])])
            with contextlib.closing(probe):
                ok, diags = build.compile_crate(tc, probe, ["setup"], check=True, timeout=job["compile_timeout"],
                                                max_output=job["max_output"])
            if not ok:
                setup_error = f"setup cells do not compile: {diags[0].message}"
        for ex_id, diags in failed.items():
            ex = by_id[ex_id]
            d = next((d for d in diags if d.cell), diags[0])
            at = index.get(d.cell, ex.solutions[0])
            nb.cells[at].outputs.append(error_output("compile error", d.message,
                                                     "\n\n".join(x.rendered for x in diags)))
            where = role(ref.nb, at) if d.cell else "setup"
            status = "not graded" if setup_error else "compile error"
            rows[ex_id] = Row("", "", ex_id, 0, ex.points, status, setup_error or f"{where}: error: {d.message}")
        if active:
            crate.install()
        for ex_id in active:
            ex = by_id[ex_id]
            earned, status, detail = 0.0, "passed", ""
            for k, i in enumerate(ex.tests):
                o = build.run_cell(crate, ex_id, k, timeout=job["timeout"], **limits)
                log(f"{meta(nb.cells[i])['grade_id']}: {o.seconds:.1f} s: {o.reason or 'ok'}")
                cell = nb.cells[i]
                cell.outputs += [stream(n, t) for n, t in (("stdout", o.stdout), ("stderr", o.stderr)) if t]
                if o.passed:
                    earned += float(meta(cell)["points"])
                    continue
                cell.outputs.append(error_output(o.kind, o.reason))
                if status == "passed":
                    status, detail = o.kind, f"{role(ref.nb, i)}: {o.reason}"
                if o.kind == "timeout":
                    break  # the next tests would most likely loop again
            if status == "passed" and earned < ex.points:
                status = "failed"
            elif status != "passed" and earned > 0:
                status = "partial"
            rows[ex_id] = Row("", "", ex_id, earned, ex.points, status, detail)
    out_rows = []
    for ex in ref.exercises:
        r = rows[ex.id]
        r.student, r.notebook = student, ref.name
        out_rows.append(asdict(r))
    out = None
    if job.get("feedback_dir"):
        out = os.path.join(job["feedback_dir"], student, ref.name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        nbformat.write(nb, out)
    return {"rows": out_rows, "notes": notes, "feedback": out,
            "seconds": time.monotonic() - t0, "setup_error": setup_error}


def grade(submissions: str, source: str, out_dir: str | None, *, timeout: int = 60,
          compile_timeout: int = 900, max_output: int = 1 << 20, memory: int = 8 << 30,
          jobs: int = 1, verbose: bool = False, log=print) -> dict:
    """Grades every submission under `submissions`; returns the gradebook (also written to
    out_dir as grades.csv / grades.json when out_dir is given)."""
    refs = [load_exercise_notebook(p) for p in sorted(glob.glob(os.path.join(source, "*.ipynb")))]
    if not refs:
        raise ExerciseError(f"{source}: no exercise notebooks")
    problem = sandbox.check()
    if problem:
        raise ExerciseError(problem)
    try:
        toolchain = build.prepare(ROOT, crate_name(refs[0]), log=log)
    except build.ToolchainError as e:
        raise ExerciseError(str(e)) from None
    book: dict = {"students": {}}
    work = []

    def entry(student, name):
        s = book["students"].setdefault(student, {"notebooks": {}, "problems": []})
        return s["notebooks"].setdefault(name, {"file": None, "rows": [], "notes": []})

    for student, path in discover(submissions):
        s = book["students"].setdefault(student, {"notebooks": {}, "problems": []})
        rel = os.path.relpath(path, submissions)
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as e:
            s["problems"].append(f"{rel}: not a notebook, not graded ({nbrun.first_line(str(e))})")
            continue
        ref = match_reference(path, nb, refs)
        if ref is None:
            s["problems"].append(f"{rel}: matches none of the exercise notebooks "
                                 f"({', '.join(r.name for r in refs)}), not graded")
            continue
        e = entry(student, ref.name)
        if e["file"] is not None:
            s["problems"].append(f"{rel}: a second submission of {ref.name} "
                                 f"(first: {e['file']}), not graded")
            continue
        e["file"] = rel
        work.append({"student": student, "path": path, "reference": ref.path, "timeout": timeout,
                     "compile_timeout": compile_timeout, "max_output": max_output, "memory": memory,
                     "toolchain": toolchain, "verbose": verbose,
                     "feedback_dir": os.path.join(out_dir, "feedback") if out_dir else None})

    log(f"grading {len(work)} notebook(s) of {len(book['students'])} student(s) "
        f"({jobs} at a time, in the sandbox), tests cell timeout {timeout} s")
    results = []
    if jobs <= 1:
        for job in work:
            log(f"  {job['student']}: {os.path.basename(job['path'])} ...")
            results.append(grade_notebook(job))
            log(f"    done in {results[-1]['seconds']:.0f} s")
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for job, res in zip(work, pool.map(grade_notebook, work)):
                log(f"  {job['student']}: {os.path.basename(job['path'])} graded in {res['seconds']:.0f} s")
                results.append(res)
    for job, res in zip(work, results):
        e = entry(job["student"], os.path.basename(job["reference"]))
        e["rows"], e["notes"], e["feedback"] = res["rows"], res["notes"], res["feedback"]
        e["seconds"] = round(res["seconds"], 1)
        if res["setup_error"]:
            book.setdefault("infrastructure_errors", []).append(
                f"{job['student']}/{os.path.basename(job['path'])}: {res['setup_error']}")

    # Every student gets rows for every exercise notebook that someone submitted (the assignment).
    assigned = {os.path.basename(job["reference"]) for job in work}
    for student, s in book["students"].items():
        for ref in refs:
            if ref.name not in assigned:
                continue
            e = s["notebooks"].get(ref.name)
            if e is None or e["file"] is None:
                e = entry(student, ref.name)
                e["rows"] = [asdict(Row(student, ref.name, ex.id, 0, ex.points, "not submitted"))
                             for ex in ref.exercises]
        s["points"] = sum(r["points"] for e in s["notebooks"].values() for r in e["rows"])
        s["max_points"] = sum(r["max_points"] for e in s["notebooks"].values() for r in e["rows"])

    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "grades.json"), "w") as f:
            json.dump(book, f, indent=1, ensure_ascii=False)
        with open(os.path.join(out_dir, "grades.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["student", "notebook", "exercise", "points", "max_points", "status", "detail"])
            for s in book["students"].values():
                for e in s["notebooks"].values():
                    for r in e["rows"]:
                        w.writerow([r["student"], r["notebook"], r["exercise"], f"{r['points']:g}",
                                    f"{r['max_points']:g}", r["status"], r["detail"]])
    return book


def report(book: dict) -> str:
    lines = []
    for student, s in book["students"].items():
        lines.append(f"{student}: {s['points']:g} / {s['max_points']:g} points")
        for p in s["problems"]:
            lines.append(f"  ! {p}")
        for name, e in s["notebooks"].items():
            lines.append(f"  {name}" + (f"  ({e['file']})" if e.get("file") else ""))
            for n in e.get("notes", []):
                lines.append(f"    ! {n}")
            rows = [(r["exercise"], f"{r['points']:g}/{r['max_points']:g}", r["status"], r["detail"])
                    for r in e["rows"]]
            header = ("exercise", "points", "status", "first error")
            widths = [max(len(x[k]) for x in rows + [header]) for k in range(3)]
            for row in [header] + rows:
                text = "    " + "  ".join(row[k].ljust(widths[k]) for k in range(3))
                lines.append((text + "  " + nbrun.first_line(row[3])[:160]).rstrip())
        lines.append("")
    for err in book.get("infrastructure_errors", []):
        lines.append(f"NOT GRADED (setup failed): {err}")
    return "\n".join(lines)


def cmd_grade(args) -> int:
    if not os.path.isdir(args.submissions):
        print(f"exercises: error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    try:
        book = grade(args.submissions, args.source, args.out, timeout=args.timeout,
                     compile_timeout=args.compile_timeout, max_output=args.max_output,
                     memory=args.memory << 20, jobs=args.jobs, verbose=args.verbose,
                     log=lambda m: print(m, flush=True))
    except ExerciseError as e:
        print(f"exercises: error: {e}", file=sys.stderr)
        return 2
    print()
    print(report(book))
    print(f"gradebook: {os.path.join(args.out, 'grades.csv')}, {os.path.join(args.out, 'grades.json')}; "
          f"executed notebooks: {os.path.join(args.out, 'feedback')}/")
    return 1 if book.get("infrastructure_errors") else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="write the student versions of exercise notebooks")
    s.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="exercise notebooks (default: all of notebooks/exercises/)")
    s.add_argument("--output-dir", default=os.path.join(ROOT, "target", "exercises", "student"),
                   metavar="DIR", help="where to write them (default: target/exercises/student)")
    c = sub.add_parser("check", help="check exercise notebooks without writing anything")
    c.add_argument("notebooks", nargs="*", metavar="NOTEBOOK")
    g = sub.add_parser("grade", help="grade a folder of submissions")
    g.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                   help="one folder per student holding their notebooks (any depth)")
    g.add_argument("--source", default=SOURCE_DIR, metavar="DIR",
                   help="the exercise notebooks with solutions (default: notebooks/exercises)")
    g.add_argument("--out", default=os.path.join(ROOT, "target", "exercises", "grades"),
                   metavar="DIR", help="gradebook and executed notebooks (default: target/exercises/grades)")
    g.add_argument("--timeout", type=int, default=60, metavar="S",
                   help="wall-clock limit of one tests cell (default 60 s)")
    g.add_argument("--compile-timeout", type=int, default=900, metavar="S",
                   help="wall-clock limit of one compilation (default 900 s)")
    g.add_argument("--max-output", type=int, default=1 << 20, metavar="BYTES",
                   help="output of one tests cell (or compilation) past which it is stopped (default 1 MiB)")
    g.add_argument("--memory", type=int, default=8192, metavar="MIB",
                   help="address space of one tests cell (default 8192 MiB)")
    g.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="submissions graded at a time (default 1)")
    g.add_argument("--verbose", action="store_true", help="log every compilation and tests cell")
    args = p.parse_args(argv)
    return {"student": cmd_student, "check": cmd_check, "grade": cmd_grade}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
