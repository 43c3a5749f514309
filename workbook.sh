#!/usr/bin/env bash
# The single entry point of the workbook's notebook machinery.
#
#   ./workbook.sh setup   install/check the toolchain (idempotent; seconds when warm)
#   ./workbook.sh lab     setup, then JupyterLab on notebooks/
#   ./workbook.sh book    setup, execute every notebook (full size) and export HTML to target/book/
#   ./workbook.sh test    setup, cargo tests, every notebook at reduced size (WORKBOOK_QUICK=1),
#                         the runner's self-test and the exercise checks; ends with "N passed, M failed" (notebooks)
#   ./workbook.sh student [NOTEBOOK...]      student versions of the exercise notebooks (docs/EXERCISES.md)
#   ./workbook.sh grade SUBMISSIONS_DIR      grade a folder of submitted exercise notebooks (docs/EXERCISES.md)
#
# Everything installed lives in a per-user cache outside the checkout:
#   ${WORKBOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-sde-workbook}
#     evcxr-0.22.0/bin/evcxr_jupyter     the Rust kernel (cargo install --locked, pinned)
#     venv-<hash of tools/requirements.txt>/   JupyterLab, nbclient, nbconvert (+ kernelspec `rust`)
#     evcxr-build/slot-N/                 persistent evcxr build dirs, one per live kernel
#     assets/mathjax/                     MathJax 2.7 for the offline HTML book
# The checkout gets a `.venv` symlink to the venv in use.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

EVCXR_VERSION="0.22.0"
CACHE="${WORKBOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-sde-workbook}"
EVCXR_ROOT="$CACHE/evcxr-$EVCXR_VERSION"
EVCXR_BIN="$EVCXR_ROOT/bin/evcxr_jupyter"
REQUIREMENTS="$ROOT/tools/requirements.txt"
KERNEL_WRAPPER="$ROOT/tools/evcxr-kernel.sh"
RUNNER="$ROOT/tools/nbrun.py"
MATHJAX_CONFIG="TeX-AMS-MML_HTMLorMML-full,Safe"

say() { printf 'workbook: %s\n' "$*" >&2; }
die() { printf 'workbook: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------- prerequisites
check_prerequisites() {
    if ! command -v cargo >/dev/null 2>&1; then
        if [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
            export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
        else
            die "cargo not found. Install Rust with rustup (see rustup.rs, or 'apt-get install rustup' then 'rustup default stable'), then open a new shell."
        fi
    fi
    command -v rustc >/dev/null 2>&1 || die "rustc not found next to cargo; install Rust with rustup."
    if ! command -v python3 >/dev/null 2>&1; then
        die "python3 not found. On Debian: apt-get install python3 python3-venv"
    fi
    if ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
        die "python3 >= 3.10 is needed (found $(python3 -V 2>&1))."
    fi
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        local v
        v="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        die "python3 has no working venv module. On Debian: apt-get install python3-venv (or python$v-venv)"
    fi
    command -v flock >/dev/null 2>&1 || die "flock not found. On Debian: apt-get install util-linux"
}

network_hint() {
    say "The first setup downloads from cargo's registry and pip's index; check the network"
    say "(or a proxy), then run './workbook.sh setup' again. Nothing half-installed is kept."
}

# ---------------------------------------------------------------- pieces of setup
install_evcxr() {
    if [[ -x "$EVCXR_BIN" ]]; then
        return 0
    fi
    say "installing evcxr_jupyter $EVCXR_VERSION into $EVCXR_ROOT (once; ~9 min, ~1.3 GB RAM) ..."
    if ! cargo install --locked --root "$EVCXR_ROOT" "evcxr_jupyter@$EVCXR_VERSION"; then
        say "cargo install evcxr_jupyter@$EVCXR_VERSION failed."
        network_hint
        exit 1
    fi
    [[ -x "$EVCXR_BIN" ]] || die "cargo install finished but $EVCXR_BIN is missing"
}

venv_dir() {
    local hash
    hash="$(sha256sum "$REQUIREMENTS" | cut -c1-12)"
    printf '%s/venv-%s' "$CACHE" "$hash"
}

install_venv() {
    VENV="$(venv_dir)"
    local marker="$VENV/.workbook-installed"
    if [[ -f "$marker" ]] && "$VENV/bin/python" -c 'import nbclient, nbconvert, jupyterlab' >/dev/null 2>&1; then
        return 0
    fi
    say "creating Python venv $VENV (once; ~1 min) ..."
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed. On Debian: apt-get install python3-venv"
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"; then
        rm -rf "$VENV"
        say "pip install -r tools/requirements.txt failed."
        network_hint
        exit 1
    fi
    date -u +%FT%TZ >"$marker"
}

install_kernelspec() {
    local dir="$VENV/share/jupyter/kernels/rust"
    local want
    want="$(
        "$VENV/bin/python" - "$KERNEL_WRAPPER" "$CACHE" "$EVCXR_BIN" <<'PY'
import json, sys
wrapper, cache, evcxr = sys.argv[1:4]
print(json.dumps({
    "argv": [wrapper, "--control_file", "{connection_file}"],
    "display_name": "Rust",
    "language": "rust",
    "interrupt_mode": "message",
    "env": {"WORKBOOK_CACHE": cache, "WORKBOOK_EVCXR": evcxr},
}, indent=1))
PY
    )"
    mkdir -p "$dir"
    if [[ ! -f "$dir/kernel.json" ]] || [[ "$(cat "$dir/kernel.json")" != "$want" ]]; then
        printf '%s\n' "$want" >"$dir/kernel.json"
    fi
    chmod +x "$KERNEL_WRAPPER"
}

install_assets() {
    # MathJax 2.7 for the HTML export, from the PyPI package jupyter-server-mathjax (in the venv).
    local src version dst="$CACHE/assets/mathjax"
    src="$("$VENV/bin/python" -c 'import jupyter_server_mathjax, os; print(os.path.join(os.path.dirname(jupyter_server_mathjax.__file__), "static"))')"
    version="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("jupyter-server-mathjax"))')"
    [[ -f "$src/MathJax.js" ]] || die "MathJax.js not found in $src"
    if [[ -f "$dst/MathJax.js" && "$(cat "$dst/.source" 2>/dev/null)" == "jupyter-server-mathjax $version" ]]; then
        return 0
    fi
    rm -rf "$dst.tmp" "$dst"
    mkdir -p "$CACHE/assets"
    cp -r "$src" "$dst.tmp"
    echo "jupyter-server-mathjax $version" >"$dst.tmp/.source"
    mv "$dst.tmp" "$dst"
    # plotly.js is embedded by the crate (plotly's plotly_embed_js feature): nothing to fetch.
}

setup() {
    check_prerequisites
    mkdir -p "$CACHE"
    # One setup at a time per cache (two checkouts, or two commands at once).
    exec {setup_lock}>"$CACHE/setup.lock"
    flock "$setup_lock"
    install_evcxr
    install_venv
    install_kernelspec
    install_assets
    flock -u "$setup_lock"
    exec {setup_lock}>&-
    # Pointer for editors and humans; ignored by git.
    if [[ "$(readlink "$ROOT/.venv" 2>/dev/null)" != "$VENV" ]]; then
        if [[ -e "$ROOT/.venv" && ! -L "$ROOT/.venv" ]]; then
            say "note: $ROOT/.venv exists and is not a symlink; leaving it alone"
        else
            ln -sfn "$VENV" "$ROOT/.venv"
        fi
    fi
    # Jupyter looks in $JUPYTER_PATH first: our `rust` kernelspec beats any user-wide one.
    export JUPYTER_PATH="$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
    export WORKBOOK_CACHE="$CACHE"
    say "ready: evcxr_jupyter $EVCXR_VERSION ($EVCXR_BIN), venv .venv -> $VENV, kernel 'rust', MathJax $CACHE/assets/mathjax"
}

# ---------------------------------------------------------------- helpers
list_notebooks() {
    # Every notebook under notebooks/ (recursively), checkpoints excluded, in a stable order.
    # The exercise notebooks hold the solutions: the grader's tests run them, the book leaves them out.
    [[ -d "$ROOT/notebooks" ]] || return 0
    find "$ROOT/notebooks" \( -name .ipynb_checkpoints -o -path "$ROOT/notebooks/exercises" \) -prune \
        -o -name '*.ipynb' -type f -print | LC_ALL=C sort
}

runner() {
    "$VENV/bin/python" "$RUNNER" "$@"
}

# ---------------------------------------------------------------- commands
cmd_lab() {
    setup
    local args=(--notebook-dir="$ROOT/notebooks")
    if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && "$(uname -s)" != Darwin ]]; then
        args+=(--no-browser)
    fi
    exec "$VENV/bin/jupyter" lab "${args[@]}" "$@"
}

cmd_book() {
    setup
    unset WORKBOOK_QUICK
    local book="$ROOT/target/book" executed="$ROOT/target/book/executed"
    local -a notebooks
    mapfile -t notebooks < <(list_notebooks)
    if ((${#notebooks[@]} == 0)); then
        die "no notebooks under notebooks/"
    fi
    rm -rf "$book"
    mkdir -p "$executed"
    # A self-contained folder: MathJax copied in, referenced relatively.
    cp -r "$CACHE/assets/mathjax" "$book/mathjax"

    local status=0
    runner --relative-to "$ROOT/notebooks" --output-dir "$executed" "${notebooks[@]}" || status=$?

    local nb rel out_dir up
    for nb in "${notebooks[@]}"; do
        rel="${nb#"$ROOT/notebooks/"}"
        [[ -f "$executed/$rel" ]] || continue
        out_dir="$book/$(dirname "$rel")"
        # ../ for each folder level below target/book
        up="$(dirname "$rel" | awk -F/ '$0 == "." {print ""; next} {s=""; for (i = 1; i <= NF; i++) s = s "../"; print s}')"
        mkdir -p "$out_dir"
        "$VENV/bin/jupyter" nbconvert --to html --log-level=WARN \
            --HTMLExporter.mathjax_url="${up}mathjax/MathJax.js?config=$MATHJAX_CONFIG" \
            --output-dir "$out_dir" "$executed/$rel" || status=1
    done
    "$VENV/bin/python" - "$book" <<'PY' || status=1
import html, os, sys
book = sys.argv[1]
pages = []
for d, dirs, files in os.walk(book):
    dirs[:] = sorted(x for x in dirs if x not in ("executed", "mathjax"))
    pages += [os.path.relpath(os.path.join(d, f), book) for f in files if f.endswith(".html") and f != "index.html"]
items = "\n".join(f'<li><a href="{html.escape(p)}">{html.escape(p[:-5])}</a></li>' for p in sorted(pages))
with open(os.path.join(book, "index.html"), "w") as f:
    f.write(f"<!doctype html><meta charset=utf-8><title>Diffusion SDE workbook</title>"
            f"<h1>Diffusion SDE workbook</h1><ul>\n{items}\n</ul>\n")
PY
    say "book: $book/index.html"
    return "$status"
}

cmd_test() {
    setup
    local failures=() summary
    summary="$(mktemp)"
    trap 'rm -f "$summary"' EXIT

    say "cargo test --all-targets"
    cargo test --all-targets || failures+=("cargo test --all-targets")
    say "cargo test --doc"
    cargo test --doc || failures+=("cargo test --doc")

    local -a notebooks
    mapfile -t notebooks < <(list_notebooks)
    export WORKBOOK_QUICK=1
    if ((${#notebooks[@]} > 0)); then
        say "notebooks (WORKBOOK_QUICK=1)"
        runner --summary "$summary" "${notebooks[@]}" || failures+=("notebooks")
    else
        say "no notebooks under notebooks/ yet"
    fi

    say "runner self-test: broken notebooks must fail, ok ones must pass"
    runner --summary "$summary" --expect-fail "$ROOT"/tests/notebooks/broken_*.ipynb ||
        failures+=("runner self-test (--expect-fail)")
    runner --summary "$summary" "$ROOT"/tests/notebooks/ok_*.ipynb ||
        failures+=("runner self-test (ok notebooks)")

    say "exercises: student versions, bad input, and grading of reference, wrong, student and broken submissions"
    "$VENV/bin/python" "$ROOT/tests/exercises/test_exercises.py" || failures+=("exercises")

    local passed failed
    read -r passed failed < <(awk '{p += $1; f += $2} END {print p + 0, f + 0}' "$summary")
    if ((${#failures[@]} > 0)); then
        printf 'FAILED: %s\n' "${failures[@]}"
    fi
    echo "$passed passed, $failed failed"
    ((${#failures[@]} == 0))
}

cmd_student() {
    setup
    "$VENV/bin/python" "$ROOT/tools/exercises.py" student "$@"
}

cmd_grade() {
    (($# > 0)) || die "usage: ./workbook.sh grade SUBMISSIONS_DIR [--out DIR] [--timeout S] [--jobs N] (see --help)"
    setup
    "$VENV/bin/python" "$ROOT/tools/exercises.py" grade "$@"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        setup) setup ;;
        lab) cmd_lab "$@" ;;
        book) cmd_book "$@" ;;
        test) cmd_test "$@" ;;
        student) cmd_student "$@" ;;
        grade) cmd_grade "$@" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
