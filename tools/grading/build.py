"""One test program per submitted notebook: compiled in the sandbox, run there once per tests cell.

The crate (edition 2024, like evcxr), in a scratch folder that only its own sandbox sees:

    src/<secret>.rs          the crate root: `#![deny(unsafe_code)]`, one module per exercise,
                             and `main`, which reads a one-time token on stdin, runs the tests
                             cell named by its arguments, and prints the token only when that
                             cell returned normally (no panic, no `Err` at a `?`)
    src/ex_<exercise>.rs     the student's items for that exercise (top-level statements dropped),
                             then the setup cells (the student's own copy), then
    src/<secret>_<exercise>.rs   its child module `g<secret>`: the setup cells again (the tests'
                             own copy, so a student's `fn slope` cannot stand in for the setup's),
                             `use super::{<the items the exercise asks for>};` and one function per
                             tests cell, every macro call given an absolute path (`::std::assert!`,
                             `self::array!`) so that no `macro_rules!` of the student's reaches them

Only the named items cross from the student's module to the tests; the file names of the tests
and of the crate root are random, so `include_str!` cannot find them at compile time; the
program runs without the sources, and the token never exists before the student's code has been
compiled. A solution must not contain the keyword `unsafe` (checked on its tokens; in edition
2024 that also rules out `#[no_mangle]`, `#[export_name]`, `#[link_section]` and `extern`
blocks), which keeps the student's code from reading or writing the test harness's memory; the
sandbox has no /proc. (`deny`, not `forbid`: ndarray's `s!` allows unsafe code inside itself.) A compile error is traced to the exercise whose
file it points at; that exercise is left out and the rest compiled again.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal as signals
import subprocess
import tempfile
from dataclasses import dataclass, field

from . import rust, sandbox

INSIDE = "/build"            # the scratch folder inside the compile sandbox
BIN_INSIDE = "/graded"       # the folder holding the program inside the run sandbox
PANIC_MARK = "grading: the tests stopped at a panic: "
ERR_MARK = "grading: the tests stopped at an Err: "


class ToolchainError(Exception):
    """The crate or the compiler is not usable (an installation problem, not a student's)."""


@dataclass
class Toolchain:
    rustc: str
    sysroot: str
    deps: str
    externs: dict[str, str]
    native: list[str] = field(default_factory=list)

    def binds(self) -> list[tuple[str, str]]:
        return [(p, p) for p in sorted({self.sysroot, self.deps, *self.externs.values(), *self.native})]


def prepare(root: str, crate: str, log=print) -> Toolchain:
    """Builds the library (`cargo build --lib`, outside the sandbox: it is the repository's
    own code) and finds what rustc needs to link a program against it."""
    log(f"grading: cargo build --lib ({crate}, once per change of the crate)")
    p = subprocess.run(["cargo", "build", "--lib", "--message-format=json-render-diagnostics"],
                       cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rlib, native = None, set()
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == crate \
                and "lib" in msg["target"]["kind"]:
            rlib = next((f for f in msg["filenames"] if f.endswith(".rlib")), rlib)
        elif msg.get("reason") == "build-script-executed":
            for path in msg.get("linked_paths", []):
                path = path.split("=", 1)[-1]
                if os.path.isdir(path):
                    native.add(path)
    if p.returncode != 0 or rlib is None:
        raise ToolchainError(f"cargo build --lib failed in {root}:\n{p.stderr[-3000:]}")
    q = subprocess.run(["rustc", "--print", "sysroot"], cwd=root, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    sysroot = q.stdout.strip()
    rustc = os.path.join(sysroot, "bin", "rustc")
    if q.returncode != 0 or not os.path.isfile(rustc):
        raise ToolchainError(f"rustc --print sysroot failed: {q.stderr.strip()}")
    # cargo reports the copy in target/<profile>/; what it links against is in deps/ below it.
    deps = os.path.join(os.path.dirname(rlib), "deps")
    return Toolchain(rustc, sysroot, deps if os.path.isdir(deps) else os.path.dirname(rlib),
                     {crate: rlib}, sorted(native))


@dataclass
class Unit:
    """One exercise of a submission, to compile and run."""
    id: str
    student: str                 # the student's items
    student_cells: list[tuple[str, int]]  # (grade_id, line count) of the solution cells, in order
    names: list[str]             # the items the tests import
    tests: list[tuple[str, str]]  # (grade_id, source) of the tests cells, in order


@dataclass
class Diagnostic:
    exercise: str | None         # None: not traced to an exercise
    cell: str | None             # grade_id of the cell it points at
    message: str                 # first line
    rendered: str


def ident(exercise: str) -> str:
    return "ex_" + exercise


class Crate:
    """The generated sources of one submission (see the module doc)."""

    def __init__(self, folder: str, setup: str, units: list[Unit]):
        self.folder, self.setup, self.units = folder, setup, {u.id: u for u in units}
        self.secret = secrets.token_hex(16)
        self.module = "g" + self.secret
        self.root = f"{INSIDE}/src/{self.secret}.rs"
        self.lines: dict[str, list[tuple[int, str | None]]] = {}  # file -> [(first line, cell)]
        os.makedirs(os.path.join(folder, "src"), exist_ok=True)
        os.makedirs(os.path.join(folder, "out"), exist_ok=True)
        # The compiled program alone, where the tests' sandbox can bind it (as root: for the
        # user nobody, who may run it but not read it).
        self.as_nobody = sandbox.nobody_works()
        self.run_dir = tempfile.mkdtemp(prefix="grading-run-")
        os.chmod(self.run_dir, 0o711)

    def install(self) -> None:
        target = os.path.join(self.run_dir, "test")
        shutil.copyfile(self.host(f"{INSIDE}/out/test"), target)
        os.chmod(target, 0o711 if self.as_nobody else 0o700)

    def close(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def host(self, inside: str) -> str:
        return os.path.join(self.folder, os.path.relpath(inside, INSIDE))

    def student_file(self, u: Unit) -> str:
        return f"{INSIDE}/src/{ident(u.id)}.rs"

    def tests_file(self, u: Unit) -> str:
        return f"{INSIDE}/src/{self.secret}_{u.id}.rs"

    def write(self, active: list[str]) -> None:
        for name in os.listdir(os.path.join(self.folder, "src")):
            os.remove(os.path.join(self.folder, "src", name))
        setup_tests = rust.qualify_macros(self.setup)
        mods, arms = [], []
        for ex in active:
            u = self.units[ex]
            # Line 1 is an item, so the student's code cannot open with inner attributes.
            student = ["const _: () = ();"]
            spans = [(1, None)]
            line = 2
            for gid, count in u.student_cells:
                spans.append((line, gid))
                line += count
            student.append(u.student)
            spans.append((line, None))
            student += ["", self.setup, "", f'#[path = "{self.tests_file(u)}"]',
                        f"pub(crate) mod {self.module};", ""]
            self._put(self.student_file(u), "\n".join(student), spans)
            tests = ["#![allow(unused_imports)]", setup_tests, ""]
            spans = [(1, None)]
            line = sum(t.count("\n") + 1 for t in tests) + 1
            # An item the tests import but the student did not define: the solution's error.
            spans += [(line, u.student_cells[0][0] if u.student_cells else None), (line + 1, None)]
            tests += [f"use super::{{{', '.join(u.names)}}};", ""]
            line += 2
            for k, (gid, source) in enumerate(u.tests):
                body = [f"pub(crate) fn cell_{k}() -> ::std::result::Result<(), "
                        "::std::boxed::Box<dyn ::std::error::Error>> {",
                        rust.qualify_macros(source), ";",
                        "#[allow(unreachable_code)]", "::std::result::Result::Ok(())", "}", ""]
                spans.append((line + 1, gid))
                tests += body
                line += sum(b.count("\n") + 1 for b in body)
            self._put(self.tests_file(u), "\n".join(tests), spans)
            mods.append(f'#[path = "{self.student_file(u)}"]\nmod {ident(ex)};')
            arms += [f'        ("{ex}", "{k}") => {ident(ex)}::{self.module}::cell_{k},'
                     for k in range(len(u.tests))]
        main = f"""#![deny(unsafe_code)]
{chr(10).join(mods)}

type Test = fn() -> ::std::result::Result<(), ::std::boxed::Box<dyn ::std::error::Error>>;

fn main() {{
    let mut args = ::std::env::args().skip(1);
    let (exercise, cell) = (args.next().unwrap_or_default(), args.next().unwrap_or_default());
    let mut token = ::std::string::String::new();
    let _ = ::std::io::stdin().read_line(&mut token);
    let token = token.trim().to_owned();
    let test: Test = match (exercise.as_str(), cell.as_str()) {{
{chr(10).join(arms)}
        _ => {{
            ::std::eprintln!("no tests cell {{cell}} in exercise {{exercise}}");
            ::std::process::exit(2)
        }}
    }};
    match ::std::panic::catch_unwind(test) {{
        ::std::result::Result::Ok(::std::result::Result::Ok(())) => {{
            use ::std::io::Write;
            let mut out = ::std::io::stdout().lock();
            let _ = ::std::write!(out, "\\n{{token}}\\n");
            let _ = out.flush();
            ::std::process::exit(0)
        }}
        ::std::result::Result::Ok(::std::result::Result::Err(e)) => {{
            ::std::eprintln!("\\n{ERR_MARK}{{e}}");
            ::std::process::exit(1)
        }}
        ::std::result::Result::Err(payload) => {{
            let message = payload.downcast_ref::<&str>().map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<::std::string::String>().cloned())
                .unwrap_or_default();
            // A payload's Drop is the student's code too: never run it.
            ::std::mem::forget(payload);
            ::std::eprintln!("\\n{PANIC_MARK}{{}}", message.replace('\\n', "\\n    "));
            ::std::process::exit(101)
        }}
    }}
}}
"""
        self._put(self.root, main, [(1, None)])

    def _put(self, inside: str, text: str, spans) -> None:
        with open(self.host(inside), "w") as f:
            f.write(text)
        self.lines[inside] = spans

    def locate(self, file: str, line: int) -> tuple[str | None, str | None, int]:
        """(exercise, cell grade_id, line within the cell) of a line of a generated file."""
        m = re.fullmatch(re.escape(INSIDE) + r"/src/(?:ex_|[0-9a-f]{32}_)(\w+)\.rs", file)
        exercise = m.group(1) if m and m.group(1) in self.units else None
        cell, first = None, 1
        for start, gid in self.lines.get(file, []):
            if start <= line:
                cell, first = gid, start
        return exercise, cell, line - first + 1


def compile_crate(tc: Toolchain, crate: Crate, active: list[str], *, check: bool,
                  timeout: float, max_output: int) -> tuple[bool, list[Diagnostic]]:
    """Compiles (or only checks) the crate with the exercises `active`, in the sandbox."""
    crate.write(active)
    argv = [tc.rustc, "--sysroot", tc.sysroot, "--edition", "2024", "--crate-type", "bin",
            "--crate-name", "graded", "-C", "opt-level=1", "-C", "debuginfo=0", "-C", "strip=debuginfo",
            "-A", "warnings", "--error-format", "json", "-L", f"dependency={tc.deps}"]
    for name, path in tc.externs.items():
        argv += ["--extern", f"{name}={path}"]
    for path in tc.native:
        argv += ["-L", f"native={path}"]
    if check:
        argv += ["--emit", "metadata", "--out-dir", f"{INSIDE}/check"]
        os.makedirs(crate.host(f"{INSIDE}/check"), exist_ok=True)
    else:
        argv += ["-o", f"{INSIDE}/out/test"]
    argv.append(crate.root)
    r = sandbox.run(argv, ro=tc.binds(), rw=[(crate.folder, INSIDE)], cwd=INSIDE, proc=True, etc=True,
                    timeout=timeout, max_output=max_output)
    if r.timed_out or r.overflowed:
        what = "timed out" if r.timed_out else "wrote too much"
        return False, [Diagnostic(None, None, f"error: the compiler {what}", "")]
    diags = []
    for line in r.stderr.decode(errors="replace").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("level") not in ("error", "error: internal compiler error"):
            continue
        rendered = d.get("rendered") or d.get("message", "")
        if re.match(r"aborting due to|could not compile", d.get("message", "")):
            continue
        primary = next((s for s in d.get("spans", []) if s.get("is_primary")), None)
        exercise = cell = None
        if primary:
            exercise, cell, line_in_cell = crate.locate(primary["file_name"], primary["line_start"])
            rendered = rendered.replace(f'{primary["file_name"]}:{primary["line_start"]}:',
                                        f"{cell or 'generated code'}:{line_in_cell}:")
        diags.append(Diagnostic(exercise, cell, d.get("message", "").split("\n")[0], rendered))
    ok = r.status == 0 and not diags
    if not ok and not diags:
        diags.append(Diagnostic(None, None, f"error: rustc exit status {r.status}",
                                r.stderr.decode(errors="replace")[-2000:]))
    return ok, diags


@dataclass
class Outcome:
    """One run of one tests cell."""
    passed: bool
    kind: str          # passed, failed, timeout, crashed
    reason: str        # for the gradebook's detail
    stdout: str
    stderr: str
    seconds: float


def run_cell(crate: Crate, exercise: str, k: int, *, timeout: float, max_output: int,
             address_space: int, file_size: int) -> Outcome:
    token = secrets.token_hex(16)
    r = sandbox.run([f"{BIN_INSIDE}/test", exercise, str(k)], stdin=(token + "\n").encode(),
                    ro=[(crate.run_dir, BIN_INSIDE)], cwd="/tmp", timeout=timeout,
                    max_output=max_output, address_space=address_space, file_size=file_size,
                    as_nobody=crate.as_nobody)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace")
    lines = out.split("\n")
    passed = token in lines and not r.overflowed
    out = "\n".join(l for l in lines if l != token).rstrip("\n") + ("\n" if out.strip() else "")
    if out.strip() == "":
        out = ""
    if passed:
        return Outcome(True, "passed", "", out, err, r.seconds)
    if r.timed_out:
        return Outcome(False, "timeout", f"timeout: the cell ran past {timeout:g} s", out, err, r.seconds)
    if r.overflowed:
        return Outcome(False, "failed", f"output limit: the cell printed more than {max_output} bytes",
                       out, err, r.seconds)
    panic = [l for l in err.split("\n") if l.startswith(PANIC_MARK)]
    if r.status == 101 and panic:
        message = panic[-1][len(PANIC_MARK):]
        rest = err[err.rfind(PANIC_MARK) + len(panic[-1]):]
        message = " ".join([message] + [l.strip() for l in rest.split("\n") if l.strip()])
        return Outcome(False, "failed", f"panic: {message[:500]}", out, err, r.seconds)
    errs = [l for l in err.split("\n") if l.startswith(ERR_MARK)]
    if r.status == 1 and errs:
        return Outcome(False, "failed", f"Err: {errs[-1][len(ERR_MARK):][:500]}", out, err, r.seconds)
    if r.signal:
        try:
            name = signals.Signals(r.signal).name
        except ValueError:
            name = f"signal {r.signal}"
        why = "stack overflow" if "overflowed its stack" in err else name
        return Outcome(False, "crashed", f"crashed: the process died ({why})", out, err, r.seconds)
    return Outcome(False, "failed", f"the process ended (exit status {r.status}) before the cell's end",
                   out, err, r.seconds)
