#!/usr/bin/env bash
# Jupyter kernel wrapper for evcxr (written into the `rust` kernelspec by ./workbook.sh setup).
#
# evcxr compiles every cell in $EVCXR_TMPDIR. A fresh temporary directory per kernel means
# `:dep` rebuilds all dependencies (~100 s); a persistent one reuses the build (~6 s). But two
# live kernels sharing one EVCXR_TMPDIR kill each other. So: a pool of persistent slots
# $CACHE/evcxr-build/slot-N; each kernel takes the first slot whose lock it can take and
# holds that lock for its whole lifetime (the lock's file descriptor is inherited by the
# exec'd evcxr_jupyter, so it is released when the kernel and its children exit).
#
# Usage (by Jupyter): evcxr-kernel.sh --control_file {connection_file}
set -euo pipefail

cache="${WORKBOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-sde-workbook}"
evcxr="${WORKBOOK_EVCXR:-$cache/evcxr-0.22.0/bin/evcxr_jupyter}"
slots="${WORKBOOK_KERNEL_SLOTS:-8}"
pool="$cache/evcxr-build"

if [[ ! -x "$evcxr" ]]; then
    echo "evcxr-kernel.sh: $evcxr not found; run ./workbook.sh setup" >&2
    exit 1
fi
if ! command -v flock >/dev/null 2>&1; then
    echo "evcxr-kernel.sh: flock not found (Debian package util-linux)" >&2
    exit 1
fi
# evcxr calls cargo and rustc: make a rustup install visible even without a login shell.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

mkdir -p "$pool"
for ((n = 0; n < slots; n++)); do
    slot="$pool/slot-$n"
    exec {lock_fd}>"$slot.lock"
    if flock -n "$lock_fd"; then
        mkdir -p "$slot"
        export EVCXR_TMPDIR="$slot"
        # evcxr (with its default static linking) loads the uplifted target/<host>/debug/libcode_N.so,
        # whose RUNPATH rustc computed relative to debug/deps/: one `..` short. That happens to
        # work for a build dir in /tmp, not for one under $HOME next to ~/.rustup ("dlopen
        # failed" at kernel start). Point the loader at the toolchain's libstd ourselves, with
        # the toolchain cargo will use in the slot.
        libdir="$(cd "$slot" && rustc --print target-libdir 2>/dev/null || true)"
        if [[ -n "$libdir" ]]; then
            export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        fi
        # evcxr_jupyter "updates" the kernelspec it finds in $JUPYTER_PATH/kernels/rust on every
        # start (overwriting our kernel.json with one that bypasses this wrapper). Give it an
        # empty place to look.
        mkdir -p "$pool/jupyter-path"
        export JUPYTER_PATH="$pool/jupyter-path"
        exec "$evcxr" "$@"
    fi
    exec {lock_fd}>&-
done
echo "evcxr-kernel.sh: all $slots build slots under $pool are in use" \
    "(raise WORKBOOK_KERNEL_SLOTS or shut down other Rust kernels)" >&2
exit 1
