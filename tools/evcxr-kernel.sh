#!/usr/bin/env bash
# Jupyter kernel wrapper for evcxr (the checkout's `rust` kernelspec runs it; ./workbook.sh setup).
#
# evcxr compiles every cell in $EVCXR_TMPDIR. A fresh temporary directory per kernel means
# `:dep` rebuilds all dependencies (minutes); a persistent one reuses the build (seconds). But
# two live kernels sharing one EVCXR_TMPDIR kill each other. So: a pool of persistent slots
# $CACHE/evcxr-build/slot-N; each kernel takes the first slot whose lock it can take and holds
# that lock for its whole lifetime (the lock's file descriptor is inherited by the exec'd
# evcxr_jupyter, so it is released when the kernel and its children exit).
#
# A new slot does not start empty: `./workbook.sh lab` first builds the crate in
# $CACHE/evcxr-build/warm (WORKBOOK_BUILD_DIR, below) and stamps it (.workbook-warm); a slot
# that does not carry that stamp (new, built before the last warm build changed, or by a kernel
# before any `lab`) starts again as a copy of warm/ (reflinks where the file system has them),
# so a second kernel never compiles the dependencies again.
#
# evcxr runs behind tools/kernel_proxy.py (build progress shown in the notebook, execution
# counts from 1, unactionable warnings dropped) when WORKBOOK_PYTHON (the venv's python, set in
# the kernelspec) is there.
#
# Usage (by Jupyter): evcxr-kernel.sh --control_file {connection_file}
# WORKBOOK_BUILD_DIR=DIR: build in DIR (waiting for its lock) instead of a slot of the pool.
set -euo pipefail

cache="${WORKBOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-sde-workbook}"
evcxr="${WORKBOOK_EVCXR:-$cache/evcxr-0.22.0/bin/evcxr_jupyter}"
slots="${WORKBOOK_KERNEL_SLOTS:-8}"
pool="$cache/evcxr-build"
warm="$pool/warm"

say() { echo "evcxr-kernel.sh: $*" >&2; }

if [[ ! -x "$evcxr" ]]; then
    say "$evcxr not found; run ./workbook.sh setup"
    exit 1
fi
if ! command -v flock >/dev/null 2>&1; then
    say "flock not found (Debian package util-linux)"
    exit 1
fi
# evcxr calls cargo and rustc: make a rustup install visible even without a login shell.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

# Makes the (locked, unused) slot $1 a copy of warm/ unless it already carries warm/'s stamp.
seed_from_warm() {
    local slot="$1" stamp="$warm/.workbook-warm" warm_fd
    [[ -f "$stamp" ]] || return 0
    cmp -s "$slot/.workbook-warm" "$stamp" && return 0
    exec {warm_fd}>"$warm.lock"
    flock -s "$warm_fd" # not while ./workbook.sh lab is (re)building warm/
    if [[ -f "$stamp" ]]; then
        say "new build slot $(basename "$slot"): copying the warm build $warm ($(du -sh "$warm" | cut -f1)) ..."
        local t0=$SECONDS
        rm -rf "$slot.tmp"
        if cp -a --reflink=auto "$warm" "$slot.tmp"; then
            rm -rf "$slot"
            mv "$slot.tmp" "$slot"
            say "copied in $((SECONDS - t0)) s"
        else
            rm -rf "$slot.tmp"
            say "copying $warm failed; this kernel builds its slot from scratch"
        fi
    fi
    exec {warm_fd}>&-
}

start() {
    local dir="$1"
    shift
    mkdir -p "$dir"
    export EVCXR_TMPDIR="$dir"
    # evcxr (with its default static linking) loads the uplifted target/<host>/debug/libcode_N.so,
    # whose RUNPATH rustc computed relative to debug/deps/: one `..` short. That happens to
    # work for a build dir in /tmp, not for one under $HOME next to ~/.rustup ("dlopen
    # failed" at kernel start). Point the loader at the toolchain's libstd ourselves, with
    # the toolchain cargo will use in the slot.
    local libdir
    libdir="$(cd "$dir" && rustc --print target-libdir 2>/dev/null || true)"
    if [[ -n "$libdir" ]]; then
        export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    # evcxr_jupyter "updates" the kernelspec it finds in $JUPYTER_PATH/kernels/rust on every
    # start (overwriting our kernel.json with one that bypasses this wrapper). Give it an
    # empty place to look.
    mkdir -p "$pool/jupyter-path"
    export JUPYTER_PATH="$pool/jupyter-path"
    # Build progress under the running cell, execution counts from 1, no unactionable warnings:
    # tools/kernel_proxy.py between Jupyter and evcxr (with the venv's Python: pyzmq).
    if [[ -x "${WORKBOOK_PYTHON:-}" ]]; then
        exec "$WORKBOOK_PYTHON" "$(dirname "${BASH_SOURCE[0]}")/kernel_proxy.py" "$evcxr" "$@"
    fi
    exec "$evcxr" "$@"
}

mkdir -p "$pool"
if [[ -n "${WORKBOOK_BUILD_DIR:-}" ]]; then
    exec {lock_fd}>"$WORKBOOK_BUILD_DIR.lock"
    flock "$lock_fd"
    start "$WORKBOOK_BUILD_DIR" "$@"
fi
for ((n = 0; n < slots; n++)); do
    slot="$pool/slot-$n"
    exec {lock_fd}>"$slot.lock"
    if flock -n "$lock_fd"; then
        seed_from_warm "$slot"
        start "$slot" "$@"
    fi
    exec {lock_fd}>&-
done
say "all $slots build slots under $pool are in use" \
    "(raise WORKBOOK_KERNEL_SLOTS or shut down other Rust kernels)"
exit 1
