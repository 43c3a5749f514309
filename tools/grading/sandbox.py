"""Running untrusted code under bubblewrap (Debian package `bubblewrap`).

Every command runs in fresh namespaces (user, mount, pid, network, ipc, uts, cgroup): it sees
only the system's /usr (read-only), the paths it is given, an empty /tmp and a minimal /dev;
no network; as an unprivileged user with no capabilities; in its own session. Its pid
namespace dies with it, so a process it leaves behind (even a `setsid` daemon) is killed when
it ends, times out or overflows its output. Limits: wall clock, bytes of output, file size,
address space, core dumps off.

Why bubblewrap: it needs no daemon and no setuid helper when run as root (CI) or where
unprivileged user namespaces are allowed (Debian's default), and one command line states
everything the sandbox can see. `check()` says why it cannot be used where it cannot.
"""
from __future__ import annotations

import functools
import os
import resource
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

UID = 1000  # the sandbox's user (mapped to the caller outside)


@dataclass
class Result:
    status: int | None        # exit status, or None when killed by us
    signal: int | None        # the signal that ended the program itself (crash), if any
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    overflowed: bool = False  # wrote more than max_output bytes
    seconds: float = 0.0


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _system_binds(etc: bool) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for d in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        p = "/" + d
        if os.path.islink(p):
            args += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            args += ["--ro-bind", p, p]
    # For the compiler: the C toolchain's alternatives (cc -> gcc) and the loader's cache.
    for p in ("/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d") if etc else ():
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


def command(argv: list[str], *, ro: list[tuple[str, str]] = (), rw: list[tuple[str, str]] = (),
            cwd: str = "/tmp", proc: bool = False, etc: bool = False,
            env: dict[str, str] | None = None) -> list[str]:
    """The bwrap command line running `argv` with host paths `ro` (read-only) and `rw` bound at
    the given places inside. Without `proc`, there is no /proc (a program cannot read its own
    memory, command line or environment through it); `etc` adds what a C linker needs of /etc."""
    args = [bwrap_path() or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--uid", str(UID), "--gid", str(UID), "--clearenv",
            "--hostname", "sandbox"]
    args += _system_binds(etc)
    args += ["--dev", "/dev", "--tmpfs", "/tmp"]
    if proc:
        args += ["--proc", "/proc"]
    for host, inside in ro:
        args += ["--ro-bind", host, inside]
    for host, inside in rw:
        args += ["--bind", host, inside]
    args += ["--remount-ro", "/"]  # only /tmp and the `rw` paths are writable
    base = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    for k, v in {**base, **(env or {})}.items():
        args += ["--setenv", k, v]
    args += ["--chdir", cwd, "--"]
    return args + list(argv)


NOBODY = 65534  # who runs the tests when the grader is root (then the test program is execute-only)


def run(argv: list[str], *, stdin: bytes = b"", timeout: float, max_output: int,
        address_space: int | None = None, file_size: int | None = None, as_nobody: bool = False,
        **where) -> Result:
    """Runs `argv` in the sandbox (see `command` for `where`): stdin is written and closed,
    stdout and stderr are collected up to `max_output` bytes together; past the timeout or
    the output limit the whole sandbox is killed. `as_nobody` (for root only) starts bwrap as
    the user nobody, so that files of root's with mode 0711 can be run but not read inside."""
    def limits():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if file_size:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    t0 = time.monotonic()
    prefix = [shutil.which("setpriv") or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
              "--clear-groups"] if as_nobody else []
    proc = subprocess.Popen(prefix + command(argv, **where), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=limits)
    try:
        proc.stdin.write(stdin)
    except BrokenPipeError:
        pass
    proc.stdin.close()
    stdout, stderr = bytearray(), bytearray()
    out = {proc.stdout.fileno(): stdout, proc.stderr.fileno(): stderr}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        os.set_blocking(f.fileno(), False)
        sel.register(f, selectors.EVENT_READ)
    timed_out = overflowed = False
    deadline = t0 + timeout
    total = 0
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(min(left, 1.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            keep = max(0, min(len(chunk), max_output - total))
            out[key.fd] += chunk[:keep]
            total += len(chunk)
            if total > max_output:
                overflowed = True
        if overflowed:
            break
    sel.close()
    if timed_out or overflowed:
        kill(proc)
    try:
        status = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        timed_out = True
        kill(proc)
        status = proc.wait()
    for f in (proc.stdout, proc.stderr):
        f.close()
    killed = timed_out or overflowed
    # bwrap passes the program's exit status on; a program killed by a signal shows as 128 + n.
    sig = status - 128 if not killed and status is not None and status > 128 else None
    if status is not None and status < 0 and not killed:  # bwrap itself killed by a signal
        sig = -status
    return Result(None if killed else status, sig, bytes(stdout), bytes(stderr), timed_out, overflowed,
                  time.monotonic() - t0)


def kill(proc: subprocess.Popen) -> None:
    """Kills bwrap's process group; --die-with-parent and the pid namespace take the rest."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def check() -> str | None:
    """None when the sandbox works here, else why not (with what to do)."""
    if not bwrap_path():
        return ("bubblewrap (bwrap) is not installed: the grader runs submissions only inside it. "
                "On Debian: apt-get install bubblewrap (./workbook.sh setup does it when run as root)")
    r = run(["/bin/sh", "-c", "echo ok"], timeout=30, max_output=4096)
    if r.status != 0 or r.stdout.strip() != b"ok":
        msg = (r.stderr or r.stdout).decode(errors="replace").strip()
        return (f"bubblewrap cannot create its namespaces here ({msg or f'exit status {r.status}'}). "
                "It needs root or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
                "or user.max_user_namespaces > 0; in a container, one started with them allowed)")
    return None


@functools.cache
def nobody_works() -> bool:
    """As root: whether bwrap also starts as the user nobody (it needs unprivileged user
    namespaces then). Where it does not, the tests run as root's mapped user and the test
    program is readable by the code it runs."""
    if os.geteuid() != 0:
        return False
    r = run(["/bin/sh", "-c", "echo ok"], timeout=30, max_output=4096, as_nobody=True)
    return r.status == 0 and r.stdout.strip() == b"ok"
