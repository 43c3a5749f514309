#!/usr/bin/env python3
"""Sits between Jupyter and evcxr_jupyter and fixes what a learner sees of the Rust kernel.

    kernel_proxy.py EVCXR_JUPYTER --control_file CONNECTION_FILE   (run by tools/evcxr-kernel.sh)

Jupyter talks to this process on the ports of CONNECTION_FILE; evcxr_jupyter runs as its child
on ports of its own, and every message is passed through unchanged except:
  * Build progress in the notebook. While a cell runs, the "Compiling <crate>" lines that evcxr
    prints on its stderr (cargo's progress; otherwise seen only in the terminal that started
    JupyterLab) become one line under the cell, updated in place: how many crates so far, which
    one now, for how long, and what to expect. WORKBOOK_BUILD_PROGRESS=0 turns it off (the
    headless runner does: the book shows no build logs).
  * Execution counts start at 1 (evcxr 0.22 numbers its first cell 2).
  * Lines a user cannot act on are dropped from the terminal: evcxr's "No configuration file
    found, use the default configuration" at every start and "Codec Error: Broken pipe" when a
    restarted kernel's old sockets go away. Everything else evcxr prints passes through.
It exits with evcxr's status when evcxr exits, and takes evcxr down with it.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import zmq
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

DELIM = b"<IDS|MSG>"
COMPILING = re.compile(r"^\s*Compiling (\S+) v(\S+)")
DROP = (
    re.compile(r"^No configuration file found, use the default configuration$"),
    re.compile(r"Codec Error: Broken pipe"),
)
COUNTED = {"execute_input", "execute_result", "execute_reply"}
FIRST_BUILD = "the first build of a new build slot takes ~5 min on 2 cores; `./workbook.sh lab` does it before JupyterLab opens"


def minutes(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


class Progress:
    """The build-progress line of one execute request (a display updated in place)."""

    def __init__(self, parent: dict):
        self.parent = parent
        self.display_id = f"workbook-build-{parent['msg_id']}"
        self.crates: list[str] = []
        self.t0 = time.monotonic()

    def text(self, done: bool) -> str:
        n, took = len(self.crates), minutes(time.monotonic() - self.t0)
        if done:
            return f"Built {n} crate(s) in {took}: {', '.join(self.crates[-3:])}."
        return (f"Compiling {self.crates[-1]} ({n} crate(s) so far, {took}); "
                f"{FIRST_BUILD if n > 3 else 'the crate changed since this build slot last built it'} ...")


class Proxy:
    def __init__(self, evcxr: str, connection_file: str):
        with open(connection_file) as f:
            self.outer = json.load(f)
        self.session = Session(key=self.outer["key"].encode(),
                               signature_scheme=self.outer.get("signature_scheme", "hmac-sha256"))
        self.progress_on = os.environ.get("WORKBOOK_BUILD_PROGRESS", "1") not in ("0", "")
        self.ctx = zmq.Context()
        self.requests: dict[str, dict] = {}  # execute requests in flight: msg_id -> header
        self.progress: dict[str, Progress] = {}
        self.current: str | None = None  # the execute request evcxr is working on
        fd, self.inner_file = tempfile.mkstemp(prefix="evcxr-inner-", suffix=".json")
        os.close(fd)
        _, inner = write_connection_file(self.inner_file, ip="127.0.0.1", key=self.outer["key"].encode(),
                                         signature_scheme=self.outer.get("signature_scheme", "hmac-sha256"),
                                         kernel_name="rust")
        self.sockets = {}
        for name, outer_type, inner_type in (("shell", zmq.ROUTER, zmq.DEALER),
                                             ("control", zmq.ROUTER, zmq.DEALER),
                                             ("stdin", zmq.ROUTER, zmq.DEALER),
                                             ("iopub", zmq.PUB, zmq.SUB)):
            o = self.ctx.socket(outer_type)
            o.linger = 0
            o.bind(self.address(self.outer, name))
            i = self.ctx.socket(inner_type)
            i.linger = 0
            if inner_type == zmq.SUB:
                i.setsockopt(zmq.SUBSCRIBE, b"")
            i.connect(self.address(inner, name))
            self.sockets[name] = (o, i)
        # The heartbeat is answered here: this process lives exactly as long as evcxr does.
        self.hb = self.ctx.socket(zmq.ROUTER)
        self.hb.linger = 0
        self.hb.bind(self.address(self.outer, "hb"))
        self.lines = self.ctx.socket(zmq.PULL)
        self.lines.bind("inproc://lines")
        self.child = subprocess.Popen([evcxr, "--control_file", self.inner_file],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      preexec_fn=die_with_parent)
        for stream, out in ((self.child.stdout, sys.stdout), (self.child.stderr, sys.stderr)):
            threading.Thread(target=self.pump, args=(stream, out), daemon=True).start()

    @staticmethod
    def address(conn: dict, name: str) -> str:
        return f"{conn.get('transport', 'tcp')}://{conn['ip']}:{conn[name + '_port']}"

    def pump(self, stream, out):
        """Copies evcxr's stdout/stderr to ours, less DROP; hands Compiling lines to the loop."""
        push = self.ctx.socket(zmq.PUSH)
        push.connect("inproc://lines")
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if any(p.search(line) for p in DROP):
                continue
            out.write(line + "\n")
            out.flush()
            m = COMPILING.match(line)
            if m:
                push.send_string(f"{m.group(1)} v{m.group(2)}")
        push.close()

    # ------------------------------------------------------------ messages
    def split(self, frames):
        i = frames.index(DELIM)
        return frames[:i], frames[i + 1:]  # identities, [sig, header, parent, metadata, content, *buffers]

    def renumber(self, frames):
        """frames with content.execution_count one lower, re-signed (see the module doc)."""
        try:
            ids, parts = self.split(frames)
            header = json.loads(parts[1])
        except (ValueError, IndexError):
            return frames
        if header.get("msg_type") not in COUNTED:
            return frames
        content = json.loads(parts[4])
        if isinstance(content.get("execution_count"), int) and content["execution_count"] > 1:
            content["execution_count"] -= 1
            parts[4] = json.dumps(content).encode()
            parts[0] = self.session.sign(parts[1:5])
        return ids + [DELIM] + parts

    def from_client(self, name, frames):
        if name == "shell":
            try:
                _, parts = self.split(frames)
                header = json.loads(parts[1])
                if header.get("msg_type") == "execute_request":
                    self.requests[header["msg_id"]] = header
            except (ValueError, IndexError):
                pass
        self.sockets[name][1].send_multipart(frames)

    def from_kernel(self, name, frames):
        if name == "iopub":
            try:
                _, parts = self.split(frames)
                header, parent, content = (json.loads(parts[k]) for k in (1, 2, 4))
            except (ValueError, IndexError):
                header, parent, content = {}, {}, {}
            if header.get("msg_type") == "status" and parent.get("msg_id") in self.requests:
                if content.get("execution_state") == "busy":
                    self.current = parent["msg_id"]
                elif content.get("execution_state") == "idle":
                    self.finish(parent["msg_id"])  # before the idle that ends the cell
        self.sockets[name][0].send_multipart(self.renumber(frames))

    def compiling(self, crate: str):
        if not self.progress_on or self.current is None:
            return
        p = self.progress.get(self.current)
        first = p is None
        if first:
            p = self.progress[self.current] = Progress(self.requests[self.current])
        p.crates.append(crate)
        self.show(p, "display_data" if first else "update_display_data", done=False)

    def finish(self, msg_id: str):
        p = self.progress.pop(msg_id, None)
        self.requests.pop(msg_id, None)
        if self.current == msg_id:
            self.current = None
        if p is not None:
            self.show(p, "update_display_data", done=True)

    def show(self, p: Progress, msg_type: str, done: bool):
        content = {"data": {"text/plain": p.text(done)}, "metadata": {},
                   "transient": {"display_id": p.display_id}}
        self.session.send(self.sockets["iopub"][0], msg_type, content, parent=p.parent)

    # ------------------------------------------------------------ loop
    def run(self) -> int:
        poller = zmq.Poller()
        where = {}
        for name, (o, i) in self.sockets.items():
            for sock, side in ((o, "client"), (i, "kernel")):
                if sock.socket_type != zmq.PUB:
                    poller.register(sock, zmq.POLLIN)
                    where[sock] = (name, side)
        poller.register(self.lines, zmq.POLLIN)
        poller.register(self.hb, zmq.POLLIN)
        try:
            while self.child.poll() is None:
                for sock, _ in poller.poll(200):
                    if sock is self.lines:
                        self.compiling(sock.recv_string())
                        continue
                    if sock is self.hb:
                        sock.send_multipart(sock.recv_multipart())
                        continue
                    name, side = where[sock]
                    frames = sock.recv_multipart()
                    if side == "client":
                        self.from_client(name, frames)
                    else:
                        self.from_kernel(name, frames)
            # What evcxr sent last (a shutdown's reply and idle) still goes out.
            for name, (o, i) in self.sockets.items():
                while i.poll(100):
                    self.from_kernel(name, i.recv_multipart())
            return self.child.returncode
        finally:
            if self.child.poll() is None:
                self.child.terminate()
            try:
                os.unlink(self.inner_file)
            except OSError:
                pass


def die_with_parent():
    """evcxr goes when this proxy goes, however it goes (Linux: PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "--control_file":
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    proxy = Proxy(argv[0], argv[2])
    signal.signal(signal.SIGTERM, lambda *_: proxy.child.terminate())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts arrive as messages (kernelspec)
    return proxy.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
