#!/usr/bin/env bash
# The single entry point of the workbook's notebook machinery.
#
#   ./workbook.sh setup   install/check the toolchain and the headless browser (idempotent)
#   ./workbook.sh lab     setup, build the crate for the notebooks (progress shown), then
#                         JupyterLab on notebooks/
#   ./workbook.sh book    setup, execute every notebook (full size), build the site target/book/,
#                         check every page in headless Chromium, export the figures (SVG, PNG)
#   ./workbook.sh test    setup, cargo tests, every notebook once at reduced size (WORKBOOK_QUICK=1),
#                         the site built from those runs and checked in the browser, the runner's
#                         and the browser check's self-tests; ends with "N passed, M failed"
#                         (notebooks, book pages and self-test fixtures)
#   ./workbook.sh run NOTEBOOK...         setup, execute the given notebooks headless (full size, or
#                         reduced with WORKBOOK_QUICK=1); fails on any cell error
#   ./workbook.sh student [NOTEBOOK...]      student versions of the exercise notebooks (docs/EXERCISES.md)
#   ./workbook.sh grade SUBMISSIONS_DIR      grade a folder of submitted exercise notebooks (docs/EXERCISES.md)
#
# Everything installed lives in a per-user cache outside the checkout:
#   ${WORKBOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-sde-workbook}
#     evcxr-0.22.0/bin/evcxr_jupyter     the Rust kernel (cargo install --locked, pinned)
#     venv-<hash of tools/requirements.txt>/   JupyterLab (+ plotly's renderer), nbclient, nbconvert,
#                                         nbstripout
#     evcxr-build/warm/                   the crate built by `lab` before JupyterLab starts
#     evcxr-build/slot-N/                 persistent evcxr build dirs, one per live kernel; a new
#                                         one starts as a copy of warm/ (tools/evcxr-kernel.sh)
#     assets/mathjax/                     MathJax 2.7 for the offline HTML book
# The checkout gets a `.venv` symlink to the venv in use, its own `rust` kernelspec in
# target/jupyter/ (pointing at its own tools/evcxr-kernel.sh: checkouts never share one), and
# git's nbstripout filter in .git/config (committed notebooks stay without outputs). The browser
# check and the figure export use Debian's chromium + chromium-driver (apt-get, installed by
# setup when run as root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

EVCXR_VERSION="0.22.0"
CACHE="${WORKBOOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diffusion-sde-workbook}"
EVCXR_ROOT="$CACHE/evcxr-$EVCXR_VERSION"
EVCXR_BIN="$EVCXR_ROOT/bin/evcxr_jupyter"
REQUIREMENTS="$ROOT/tools/requirements.txt"
KERNEL_WRAPPER="$ROOT/tools/evcxr-kernel.sh"
KERNELS="$ROOT/target/jupyter" # this checkout's kernelspec: $KERNELS/kernels/rust
RUNNER="$ROOT/tools/nbrun.py"
EXECUTED="$ROOT/target/executed" # the runner's executed copies, input of the site build
BOOK="$ROOT/target/book"
BROWSER_PACKAGES=(chromium chromium-driver fonts-wqy-microhei)
SANDBOX_PACKAGES=(bubblewrap) # the grader runs students' code only inside bwrap (docs/EXERCISES.md)

say() { printf 'workbook: %s\n' "$*" >&2; }
die() { printf 'workbook: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
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
    if [[ -f "$marker" ]] && "$VENV/bin/python" -c '
import importlib.util as u, sys
sys.exit(0 if all(u.find_spec(m) for m in ("nbclient", "nbconvert", "jupyterlab", "jupyter_server_mathjax", "plotly", "nbstripout")) else 1)
' >/dev/null 2>&1; then
        return 0
    fi
    say "creating Python venv $VENV (once; ~1 min) ..."
    create_venv "$VENV" "$REQUIREMENTS"
}

# A venv at $1 with `pip install -r $2`, stamped .workbook-installed once complete; a failed
# install leaves nothing behind.
create_venv() {
    local dir="$1" requirements="$2"
    rm -rf "$dir"
    python3 -m venv "$dir" || die "python3 -m venv failed. On Debian: apt-get install python3-venv"
    if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"; then
        rm -rf "$dir"
        say "pip install -r ${requirements#"$ROOT/"} failed."
        network_hint
        exit 1
    fi
    date -u +%FT%TZ >"$dir/.workbook-installed"
}

# The kernelspec `rust` lives in the checkout (target/jupyter, first on JUPYTER_PATH for `lab`
# and the runner), so each clone starts kernels through its own wrapper. Its name stays `rust`:
# it is what the notebooks' metadata says.
install_kernelspec() {
    local dir="$KERNELS/kernels/rust"
    local want
    want="$(
        "$VENV/bin/python" - "$KERNEL_WRAPPER" "$CACHE" "$EVCXR_BIN" "$VENV/bin/python" <<'PY'
import json, sys
wrapper, cache, evcxr, python = sys.argv[1:5]
print(json.dumps({
    "argv": [wrapper, "--control_file", "{connection_file}"],
    "display_name": "Rust",
    "language": "rust",
    "interrupt_mode": "message",
    "env": {"WORKBOOK_CACHE": cache, "WORKBOOK_EVCXR": evcxr, "WORKBOOK_PYTHON": python},
}, indent=1))
PY
    )"
    mkdir -p "$dir"
    if [[ ! -f "$dir/kernel.json" ]] || [[ "$(cat "$dir/kernel.json")" != "$want" ]]; then
        printf '%s\n' "$want" >"$dir/kernel.json"
    fi
    chmod +x "$KERNEL_WRAPPER"
}

# git's nbstripout filter for this repository only (.git/config; .gitattributes names it for
# *.ipynb): what git sees of a notebook has no outputs, execution counts or language_info, so a
# chapter opened and run in JupyterLab does not show as modified. The file on disk keeps its
# outputs. Not `required`: without the venv, git falls back to the file as it is.
install_git_filter() {
    git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 || return 0 # an exported tree, not a clone
    # tools/strip-notebook.sh runs nbstripout from this checkout's own .venv (git runs filters
    # from the top of the working tree), so checkouts sharing a .git never use each other's venv.
    local -A want=(
        [filter.nbstripout.clean]="tools/strip-notebook.sh"
        [filter.nbstripout.smudge]="cat"
        [diff.ipynb.textconv]="tools/strip-notebook.sh -t"
    )
    local key
    for key in "${!want[@]}"; do
        if [[ "$(git -C "$ROOT" config --local --get "$key" 2>/dev/null)" != "${want[$key]}" ]]; then
            git -C "$ROOT" config --local "$key" "${want[$key]}"
        fi
    done
}

install_assets() {
    # MathJax 2.7 for the HTML export, from the PyPI package jupyter-server-mathjax (in the venv).
    local src version dst="$CACHE/assets/mathjax"
    { read -r version; read -r src; } < <("$VENV/bin/python" -c '
import importlib.metadata as m, importlib.util as u, os
print(m.version("jupyter-server-mathjax"))
print(os.path.join(u.find_spec("jupyter_server_mathjax").submodule_search_locations[0], "static"))
')
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

# Debian's chromium and chromedriver drive the book's browser check and figure export (never a
# browser or driver downloaded by a tool): required. fonts-wqy-microhei gives the screenshots and
# PNG figures the Chinese of the seeds' headings instead of empty boxes: installed along, but
# only a note when it cannot be.
browser_missing() {
    { command -v chromium || [[ -x /usr/lib/chromium/chromium ]]; } >/dev/null 2>&1 || echo chromium
    command -v chromedriver >/dev/null 2>&1 || echo chromium-driver
}

cjk_font_missing() {
    [[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] && return 1
    command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh family 2>/dev/null | grep -q . && return 1
    return 0
}

ensure_browser() {
    local -a missing
    mapfile -t missing < <(browser_missing)
    if cjk_font_missing; then
        if ((${#missing[@]} == 0)) && [[ "$(id -u)" != 0 ]]; then
            say "note: no Chinese font for the book's screenshots (sudo apt-get install -y fonts-wqy-microhei)"
        else
            missing+=(fonts-wqy-microhei)
        fi
    fi
    ((${#missing[@]} == 0)) && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        say "headless browser: missing ${missing[*]} and no apt-get here. Install Chromium and its chromedriver"
        say "with your system's packages (or point CHROMIUM and CHROMEDRIVER at them); never a downloaded build."
        return 1
    fi
    if [[ "$(id -u)" != 0 ]]; then
        say "headless browser: missing ${missing[*]} (for ./workbook.sh book and the browser check). Run:"
        say "  sudo apt-get update && sudo apt-get install -y ${BROWSER_PACKAGES[*]}"
        return 1
    fi
    say "installing ${missing[*]} with apt-get (once; ~1 min) ..."
    if ! { apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}"; } >&2; then
        say "apt-get install ${missing[*]} failed; check the network (Debian's mirrors), then run setup again."
        return 1
    fi
    mapfile -t missing < <(browser_missing)
    if ((${#missing[@]} > 0)); then
        say "still missing after apt-get install: ${missing[*]}"
        return 1
    fi
    cjk_font_missing && say "note: still no Chinese font; screenshots will show boxes for Chinese text"
    return 0
}

# Debian's bubblewrap: `grade` compiles and runs students' code only inside it (no network, no view
# of the repository or of other submissions). Required for grading and for the test command.
ensure_sandbox() {
    command -v bwrap >/dev/null 2>&1 && return 0
    if ! command -v apt-get >/dev/null 2>&1 || [[ "$(id -u)" != 0 ]]; then
        say "bubblewrap (bwrap) missing: ./workbook.sh grade runs submissions only inside it. Install it:"
        say "  sudo apt-get install -y ${SANDBOX_PACKAGES[*]}   (or your system's bubblewrap package)"
        return 1
    fi
    say "installing ${SANDBOX_PACKAGES[*]} with apt-get (once) ..."
    if ! { apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${SANDBOX_PACKAGES[@]}"; } >&2; then
        say "apt-get install ${SANDBOX_PACKAGES[*]} failed; check the network (Debian's mirrors), then run setup again."
        return 1
    fi
    command -v bwrap >/dev/null 2>&1 || { say "still no bwrap after apt-get install"; return 1; }
}

setup() {
    check_prerequisites
    mkdir -p "$CACHE"
    # One setup at a time per cache (two checkouts, or two commands at once).
    exec {setup_lock}>"$CACHE/setup.lock"
    flock "$setup_lock"
    install_evcxr
    install_venv
    install_assets
    flock -u "$setup_lock"
    install_kernelspec
    install_git_filter
    exec {setup_lock}>&-
    # Pointer for editors and humans; ignored by git.
    if [[ "$(readlink "$ROOT/.venv" 2>/dev/null)" != "$VENV" ]]; then
        if [[ -e "$ROOT/.venv" && ! -L "$ROOT/.venv" ]]; then
            say "note: $ROOT/.venv exists and is not a symlink; leaving it alone"
        else
            ln -sfn "$VENV" "$ROOT/.venv"
        fi
    fi
    # Jupyter looks in $JUPYTER_PATH first: this checkout's `rust` kernelspec beats any other.
    export JUPYTER_PATH="$KERNELS:$VENV/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
    export WORKBOOK_CACHE="$CACHE"
    say "ready: evcxr_jupyter $EVCXR_VERSION ($EVCXR_BIN), venv .venv -> $VENV, kernel 'rust' ($KERNELS), MathJax $CACHE/assets/mathjax"
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
# What the warm build depends on besides the crate's sources: when it changes, every build slot
# starts again from a copy of the new warm build (tools/evcxr-kernel.sh).
warm_stamp() {
    { cat "$ROOT/Cargo.toml" "$ROOT/Cargo.lock"; rustc -vV; echo "evcxr $EVCXR_VERSION"; } |
        sha256sum | cut -c1-16
}

# A machine whose kernels (e.g. the test runner's) already built a slot: warm/ starts as a copy
# of an unused one, so the first warm build is incremental too.
seed_warm_from_a_slot() {
    local warm="$1" slot fd
    for slot in "$CACHE"/evcxr-build/slot-*/; do
        slot="${slot%/}"
        [[ -d "$slot/target" ]] || continue
        exec {fd}>"$slot.lock"
        if flock -n "$fd"; then
            say "starting the warm build from $slot ($(du -sh "$slot" | cut -f1)) ..."
            rm -rf "$warm.tmp"
            cp -a --reflink=auto "$slot" "$warm.tmp" && rm -f "$warm.tmp/.workbook-warm" && mv "$warm.tmp" "$warm"
            rm -rf "$warm.tmp"
            exec {fd}>&-
            return 0
        fi
        exec {fd}>&-
    done
    return 0
}

# Builds the crate as the notebooks' first cells do, in $CACHE/evcxr-build/warm, before JupyterLab
# starts: the first `:dep` in a notebook then takes seconds (its kernel's new build slot is a
# copy of this one). Progress: cargo's "Compiling ..." lines. A failure only warns.
warm_build() {
    local warm="$CACHE/evcxr-build/warm" stamp t0=$SECONDS
    stamp="$(warm_stamp)"
    mkdir -p "$CACHE/evcxr-build"
    [[ -d "$warm" ]] || seed_warm_from_a_slot "$warm"
    if [[ "$(cat "$warm/.workbook-warm" 2>/dev/null)" == "$stamp" ]]; then
        say "checking the notebooks' build of the crate ($warm; seconds, ~1 min when the crate changed) ..."
    elif [[ -f "$warm/.workbook-warm" ]]; then
        say "Cargo.toml, Cargo.lock or the toolchain changed: rebuilding what changed in $warm (minutes) ..."
    else
        say "building the crate and its dependencies for the notebooks, once per machine"
        say "(~5 min on 2 cores, ~1.1 GB in $warm); later starts take seconds ..."
    fi
    if ! WORKBOOK_BUILD_DIR="$warm" runner --warm --timeout-first 3600 "$ROOT/notebooks/00_quickstart.ipynb"; then
        say "warning: the warm build failed (above); JupyterLab starts anyway, and a notebook's first"
        say ":dep builds the crate itself (minutes, progress shown under the cell)"
        return 0
    fi
    if [[ "$(cat "$warm/.workbook-warm" 2>/dev/null)" != "$stamp" ]]; then
        printf '%s\n' "$stamp" >"$warm/.workbook-warm"
    fi
    say "the crate is built ($((SECONDS - t0)) s): a notebook's first :dep takes seconds"
}

cmd_lab() {
    setup
    warm_build
    # tools/jupyter_lab_config.py: figures saved without their PNG snapshots (tools/lab_save.py),
    # tornado's ping-timeout warning dropped (its doc says why).
    local args=(--notebook-dir="$ROOT/notebooks" --config="$ROOT/tools/jupyter_lab_config.py")
    if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && "$(uname -s)" != Darwin ]]; then
        args+=(--no-browser)
    fi
    if [[ "$(id -u)" == 0 ]]; then
        args+=(--allow-root) # containers, CI machines
    fi
    PYTHONPATH="$ROOT/tools${PYTHONPATH:+:$PYTHONPATH}" exec "$VENV/bin/jupyter" lab "${args[@]}" "$@"
}

# Execute notebooks once (the runner's --output-dir keeps the executed copies, each with the
# run's result in its metadata) for build_site. Arguments: runner options, then the notebooks.
run_notebooks_for_book() {
    rm -rf "$EXECUTED"
    mkdir -p "$EXECUTED"
    runner --relative-to "$ROOT/notebooks" --output-dir "$EXECUTED" "$@"
}

# The one site build, for `book` (full size) and `test` (reduced size): target/book/ from the
# executed copies (tools/book.py), then every page opened in headless Chromium (tools/bookcheck.py:
# fails on JavaScript errors, empty plots, unrendered maths; screenshots and figures).
# Sets SITE_FAILURES. Optional argument: a summary file for the page counts.
build_site() {
    local summary="${1:-}"
    SITE_FAILURES=()
    say "site: $BOOK from $EXECUTED"
    # Same notebooks as list_notebooks: the exercises (with their solutions) are not published.
    if ! "$VENV/bin/python" "$ROOT/tools/book.py" --notebooks "$ROOT/notebooks" --executed "$EXECUTED" \
        --out "$BOOK" --mathjax "$CACHE/assets/mathjax" --exclude exercises; then
        SITE_FAILURES+=("book: notebooks not complete (named above)")
    fi
    if [[ ! -f "$BOOK/index.html" ]]; then
        SITE_FAILURES+=("book: no site was built")
        return 1
    fi
    say "browser check: every page of $BOOK in headless Chromium (screenshots, figures)"
    "$VENV/bin/python" "$ROOT/tools/bookcheck.py" --screens "$BOOK/screens" --figures "$BOOK/figures" \
        ${summary:+--summary "$summary"} "$BOOK" || SITE_FAILURES+=("browser check of $BOOK")
    ((${#SITE_FAILURES[@]} == 0))
}

# The browser check's own test: pages broken on purpose (tests/book/broken_*.html, each naming
# the failure it must produce) must fail, the good ones must pass.
bookcheck_selftest() {
    local summary="$1" dir="$ROOT/target/bookcheck-selftest" status=0
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$ROOT"/tests/book/*.html "$dir/"
    ln -s "$CACHE/assets/mathjax" "$dir/mathjax"
    "$VENV/bin/python" "$ROOT/tools/bookcheck.py" --summary "$summary" --expect-fail "$dir"/broken_*.html || status=1
    "$VENV/bin/python" "$ROOT/tools/bookcheck.py" --summary "$summary" "$dir"/ok_*.html || status=1
    return "$status"
}

cmd_book() {
    setup
    ensure_browser || die "the book needs the headless browser (see above)"
    unset WORKBOOK_QUICK
    local -a notebooks
    mapfile -t notebooks < <(list_notebooks)
    if ((${#notebooks[@]} == 0)); then
        die "no notebooks under notebooks/"
    fi
    local status=0
    run_notebooks_for_book "${notebooks[@]}" || status=1
    build_site || status=1
    if ((${#SITE_FAILURES[@]} > 0)); then
        printf 'FAILED: %s\n' "${SITE_FAILURES[@]}"
    fi
    say "book: $BOOK/index.html (screenshots: $BOOK/screens, figures: $BOOK/figures)"
    return "$status"
}

cmd_test() {
    setup
    local failures=() summary
    summary="$(mktemp)"
    # shellcheck disable=SC2064  # expand now: $summary is local
    trap "rm -f '$summary'" EXIT

    ensure_browser || failures+=("headless browser missing (see the first lines)")

    say "cargo test --all-targets"
    cargo test --all-targets || failures+=("cargo test --all-targets")
    say "cargo test --doc"
    cargo test --doc || failures+=("cargo test --doc")

    local -a notebooks
    mapfile -t notebooks < <(list_notebooks)
    export WORKBOOK_QUICK=1
    if ((${#notebooks[@]} > 0)); then
        # Once each, at reduced size; the executed copies are also the book's input.
        say "notebooks (WORKBOOK_QUICK=1)"
        run_notebooks_for_book --summary "$summary" "${notebooks[@]}" || failures+=("notebooks")
        say "book (reduced size) from those runs: $BOOK"
        build_site "$summary" || failures+=("${SITE_FAILURES[@]}")
    else
        say "no notebooks under notebooks/ yet"
    fi

    say "runner self-test: broken notebooks must fail, ok ones must pass"
    runner --summary "$summary" --expect-fail "$ROOT"/tests/notebooks/broken_*.ipynb ||
        failures+=("runner self-test (--expect-fail)")
    runner --summary "$summary" "$ROOT"/tests/notebooks/ok_*.ipynb ||
        failures+=("runner self-test (ok notebooks)")

    say "browser check self-test: broken pages must fail, ok ones must pass"
    bookcheck_selftest "$summary" || failures+=("browser check self-test (tests/book)")
    say "site build tests: failed or unexecuted notebooks named and not published as complete"
    "$VENV/bin/python" "$ROOT/tests/book/test_book_build.py" || failures+=("site build tests (tests/book/test_book_build.py)")
    "$VENV/bin/python" "$ROOT/tests/book/test_chapters.py" || failures+=("learner's path in every chapter (tests/book/test_chapters.py)")
    say "exercises: student versions, bad input, sandboxed grading of reference, wrong, student, broken and attack submissions"
    ensure_sandbox || failures+=("bubblewrap missing (see above)")
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
    ensure_sandbox || die "grading needs bubblewrap (see above)"
    "$VENV/bin/python" "$ROOT/tools/exercises.py" grade "$@"
}

# ---------------------------------------------------------------- bench
# ./workbook.sh bench [--reps N] [--noisy CORES] [NAME...]: every benchmark (or the NAMEs:
# appendix, appendix-improved, em) as a release example of the crate run back to back with
# its Python twin in bench/python/, by bench/run.py: one table of medians, ratios and peak memory,
# the CPU other processes used meanwhile (noisy runs flagged), JSON under target/bench/.
# The twins' venv (numpy, scipy, torch, torchsde from PyPI) lives in the per-user cache as
# bench-venv-<hash of bench/python/requirements.txt>/; the examples are built with the CPU's own
# features (-C target-cpu=native: candle's AVX/FMA kernels) into target/bench-build/.
BENCH_REQUIREMENTS="$ROOT/bench/python/requirements.txt"

bench_venv() {
    local dir
    dir="$CACHE/bench-venv-$(sha256sum "$BENCH_REQUIREMENTS" | cut -c1-12)"
    BENCH_PYTHON="$dir/bin/python"
    if [[ -f "$dir/.workbook-installed" ]] &&
        "$BENCH_PYTHON" -c 'import numpy, scipy, torch, torchsde' >/dev/null 2>&1; then
        return 0
    fi
    say "creating the bench venv $dir (once: numpy, scipy, torch, torchsde from PyPI;"
    say "PyPI's torch brings its CUDA libraries along, a few GB; the twins use the CPU only) ..."
    create_venv "$dir" "$BENCH_REQUIREMENTS"
}

cmd_bench() {
    check_prerequisites
    mkdir -p "$CACHE"
    exec {bench_lock}>"$CACHE/bench.lock"
    flock "$bench_lock"
    bench_venv
    flock -u "$bench_lock"
    exec {bench_lock}>&-
    local -a examples
    mapfile -t examples < <("$BENCH_PYTHON" "$ROOT/bench/run.py" --list-examples "$@") ||
        die "bench: see the message above"
    ((${#examples[@]} > 0)) || die "bench: nothing to run"
    say "building ${examples[*]} (release, -C target-cpu=native, target/bench-build)"
    CARGO_TARGET_DIR="$ROOT/target/bench-build" RUSTFLAGS="${RUSTFLAGS:--C target-cpu=native}" \
        cargo build --release --quiet "${examples[@]/#/--example=}" || die "bench: the build failed"
    "$BENCH_PYTHON" "$ROOT/bench/run.py" --python "$BENCH_PYTHON" \
        --examples "$ROOT/target/bench-build/release/examples" "$@"
}

main() {
    local cmd="${1:-}"
    shift || true
    case "$cmd" in
        setup) setup && ensure_browser && ensure_sandbox ;;
        lab) cmd_lab "$@" ;;
        book) cmd_book "$@" ;;
        test) cmd_test "$@" ;;
        run) (($# > 0)) || die "usage: ./workbook.sh run NOTEBOOK..."; setup && runner "$@" ;;
        student) cmd_student "$@" ;;
        grade) cmd_grade "$@" ;;
        bench) cmd_bench "$@" ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
