"""Sandboxed autograding of the exercise notebooks (see docs/EXERCISES.md, "What the grader guarantees").

    rust      a small Rust lexer: top-level items, evcxr commands, macro paths
    sandbox   bubblewrap: no network, no view of the repository, limits, nothing outlives a run
    build     one test binary per submitted notebook, compiled in the sandbox, run once per tests cell
"""
