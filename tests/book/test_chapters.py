#!/usr/bin/env python3
"""The learner's path through every chapter notebook; no kernel, no browser.

    .venv/bin/python tests/book/test_chapters.py      (run by ./workbook.sh test)

Every chapter (notebooks/0*.ipynb) must
  * carry `workbook.title` and `workbook.seeds` in its metadata;
  * open (within its first three cells) with "What you will learn" (3–6 outcomes), "Prerequisites"
    and "Seed sections" citing docs/SOURCES.md;
  * end with a summary, 3–5 "check yourself" questions whose answers are folded (<details>), and a
    link to an exercise notebook that exists;
  * hold at least three "Try this" prompts, each with its answer folded;
  * follow every cell that shows a plot (`plot::show(`) with a "What to look for" sentence;
  * show its animations (`plot::animate::…`) where the chapter is listed in ANIMATIONS;
  * name no path outside the repository (the seeds are cited through docs/SOURCES.md), and every
    relative link in its text must resolve.
docs/GLOSSARY.md must name only crate items that exist in src/, and docs/SOURCES.md must describe
every seed and every chapter. The checks are tested on notebooks broken on purpose.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
# Chapter → the least number of animations it shows (issue: forward SDE in 1-D and 2-D, reverse SDE
# against the PF-ODE, Fokker–Planck, annealed Langevin, digits emerging from noise).
ANIMATIONS = {"00_quickstart": 1, "01_sde_basics": 1, "03_smld_to_sde": 1, "04_unified_framework": 2,
              "04b_likelihood_guidance_images": 1}
# Paths outside the repository: the seeds' folder beside it, one machine's absolute folders. Spelt
# from pieces, so that this file does not itself name a path outside the repository.
OUTSIDE = re.compile("|".join(re.escape(p) for p in (
    "shared" + "/seeds", ".." + "/shared", "/" + "work/", "/" + "tmp/", "/" + "root/", "/" + "home/")))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def text(cell) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def chapters() -> list[Path]:
    return sorted(NOTEBOOKS.glob("0*.ipynb"))


def problems(path: Path, animations: int = 0) -> list[str]:
    """Everything the learner's path misses in one chapter notebook."""
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    md = [(i, text(c)) for i, c in enumerate(cells) if c["cell_type"] == "markdown"]
    out = []

    meta = nb.get("metadata", {}).get("workbook", {})
    for key in ("title", "seeds"):
        if not meta.get(key):
            out.append(f"metadata: workbook.{key} missing")

    opening = next((t for i, t in md if i < 3 and "What you will learn" in t), None)
    if opening is None:
        out.append("opening: no 'What you will learn' block in the first three cells")
    else:
        learn = opening.split("What you will learn", 1)[1].split("###", 1)[0]
        n = len(re.findall(r"^\s*[-*] ", learn, re.M))
        if not 3 <= n <= 6:
            out.append(f"opening: {n} outcomes under 'What you will learn' (want 3–6)")
        for part in ("Prerequisites", "Seed sections"):
            if part not in opening:
                out.append(f"opening: no '{part}'")
        if "SOURCES.md" not in opening.split("Seed sections", 1)[-1]:
            out.append("opening: the seed sections do not cite docs/SOURCES.md")

    ending = next((t for i, t in reversed(md) if "## Check yourself" in t), None)
    if ending is None:
        out.append("ending: no '## Check yourself'")
    else:
        if "## Summary" not in ending.split("## Check yourself", 1)[0]:
            out.append("ending: no '## Summary' before 'Check yourself'")
        questions = ending.split("## Check yourself", 1)[1].split("## Exercises", 1)[0]
        folded = questions.count("<details>")
        if not 3 <= folded <= 5 or questions.count("</details>") != folded:
            out.append(f"ending: {folded} folded answers under 'Check yourself' (want 3–5)")
        links = [m for m in LINK.findall(ending.split("## Exercises", 1)[-1]) if m.startswith("exercises/")]
        if "## Exercises" not in ending or not links:
            out.append("ending: no '## Exercises' with a link to an exercise notebook")
        for link in links:
            if not (path.parent / link).is_file():
                out.append(f"ending: exercise link {link} does not exist")
        if any(c["cell_type"] == "code" for c in cells[max(i for i, t in md if t == ending) + 1:]):
            out.append("ending: code cells after the ending")

    tries = [t for _, t in md if "Try this" in t]
    if len(tries) < 3:
        out.append(f"try this: {len(tries)} prompts (want ≥ 3)")
    for t in tries:
        if "<details>" not in t or "</details>" not in t:
            out.append(f"try this: answer not folded in {t[:60]!r}")

    for i, c in enumerate(cells):
        if c["cell_type"] == "code" and "plot::show(" in text(c):
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            if nxt is None or nxt["cell_type"] != "markdown" or "What to look for" not in text(nxt):
                first = text(c).strip().splitlines()[0][:60]
                out.append(f"plot without 'What to look for' after cell {i} ({first!r})")

    shown = [c for c in cells if c["cell_type"] == "code" and "plot::animate::" in text(c) and "plot::show(" in text(c)]
    if len(shown) < animations:
        out.append(f"animations: {len(shown)} shown (want ≥ {animations})")

    for i, c in enumerate(cells):
        m = OUTSIDE.search(text(c))
        if m:
            out.append(f"cell {i} names a path outside the repository: {m.group(0)!r}")
    for _, t in md:
        for link in LINK.findall(t):
            if "://" not in link and not (path.parent / link).exists():
                out.append(f"link {link} does not resolve")
    return out


def glossary_unknown(glossary: Path, src: Path) -> list[str]:
    """Crate names in the glossary's tables (the `crate` column) that do not occur in src/."""
    words = set()
    for f in src.rglob("*.rs"):
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f.read_text()))
    unknown = []
    for line in glossary.read_text().splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) < 4 or cols[0] in ("中文", "---"):
            continue
        for name in re.findall(r"`([^`]+)`", cols[2]):
            for part in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", name):
                if part not in words:
                    unknown.append(f"{name} ({part})")
    return unknown


class Chapters(unittest.TestCase):
    maxDiff = 4000

    def test_every_chapter_has_the_learners_path(self):
        found = chapters()
        self.assertGreaterEqual(len(found), 7, "chapter notebooks not found")
        for path in found:
            with self.subTest(chapter=path.name):
                self.assertEqual(problems(path, ANIMATIONS.get(path.stem, 0)), [])

    def test_the_glossary_names_real_crate_items(self):
        glossary = ROOT / "docs" / "GLOSSARY.md"
        self.assertTrue(glossary.is_file())
        self.assertEqual(glossary_unknown(glossary, ROOT / "src"), [])
        rows = [l for l in glossary.read_text().splitlines() if l.startswith("| ") and "---" not in l]
        self.assertGreater(len(rows), 60)

    def test_sources_describe_every_seed_and_chapter_and_nothing_points_outside(self):
        sources = (ROOT / "docs" / "SOURCES.md").read_text()
        for seed in ("000", "001", "002", "003", "004"):
            self.assertIn(f"### Seed {seed}", sources)
        for chapter in ("0 · Quickstart", "1 · SDE basics", "2 · Numerical solvers", "3 · From SMLD",
                        "4 · The unified framework", "4b · ", "5 · The appendix"):
            self.assertIn(chapter, sources)
        readme = (ROOT / "README.md").read_text()
        self.assertNotIn("shared/seeds", readme)
        self.assertIn("(docs/SOURCES.md)", readme)
        self.assertIn("(docs/GLOSSARY.md)", readme)
        for doc in (ROOT / "docs").glob("*.md"):
            self.assertIsNone(OUTSIDE.search(doc.read_text()), doc.name)


class ChecksCatchBrokenChapters(unittest.TestCase):
    """The checks above on notebooks broken on purpose: each must be reported."""

    GOOD = [
        ("markdown", "# T\n\nIntro."),
        ("markdown", "### What you will learn\n- a\n- b\n- c\n\n### Prerequisites\nnone\n\n### Seed sections\n"
                     "seed 000 §1 — see [docs/SOURCES.md](../docs/SOURCES.md)"),
        ("code", "plot::show(&plot::animate::densities(\"t\", &frames)?)"),
        ("markdown", "**What to look for.** Something."),
        ("markdown", "**Try this — a.** x\n\n<details><summary>What happens</summary>\n\ny\n\n</details>"),
        ("markdown", "**Try this — b.** x\n\n<details><summary>What happens</summary>\n\ny\n\n</details>"),
        ("markdown", "**Try this — c.** x\n\n<details><summary>What happens</summary>\n\ny\n\n</details>"),
        ("markdown", "## Summary\n- one\n\n## Check yourself\n" + "\n".join(
            f"**{k}.** q\n\n<details><summary>Answer</summary>\n\na\n\n</details>" for k in (1, 2, 3))
            + "\n\n## Exercises\n[exercises/x_exercises.ipynb](exercises/x_exercises.ipynb)"),
    ]

    def run_checks(self, cells, meta=True, animations=1):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            (root / "docs").mkdir()
            (root / "docs" / "SOURCES.md").write_text("sources")
            (root / "notebooks" / "exercises").mkdir(parents=True)
            (root / "notebooks" / "exercises" / "x_exercises.ipynb").write_text("{}")
            nb = {"cells": [{"cell_type": k, "metadata": {}, "source": s, **({"outputs": [], "execution_count": None}
                             if k == "code" else {})} for k, s in cells],
                  "metadata": {"workbook": {"title": "T", "seeds": "seed 000"}} if meta else {},
                  "nbformat": 4, "nbformat_minor": 5}
            path = root / "notebooks" / "00_t.ipynb"
            path.write_text(json.dumps(nb))
            return problems(path, animations)

    def test_a_complete_chapter_passes(self):
        self.assertEqual(self.run_checks(self.GOOD), [])

    def test_each_missing_piece_is_reported(self):
        g = self.GOOD
        cases = {
            "metadata: workbook.title missing": (g, False),
            "opening: no 'What you will learn'": ([g[0]] + g[2:], True),
            "plot without 'What to look for'": (g[:3] + g[4:], True),
            "try this: 2 prompts": (g[:6] + g[7:], True),
            "ending: no '## Check yourself'": (g[:-1], True),
            "animations: 0 shown": ([c if i != 2 else ("code", "plot::show(&fig)") for i, c in enumerate(g)], True),
            "does not resolve": (g + [("markdown", "[x](../docs/NOPE.md)")], True),
            "outside the repository": (g[:1] + [("markdown", g[1][1] + "\n\nin `" + ".." + "/shared/seeds/`")] + g[2:], True),
            "ending: 2 folded answers": (g[:-1] + [("markdown", g[-1][1].replace(
                "**3.** q\n\n<details><summary>Answer</summary>\n\na\n\n</details>", ""))], True),
            "exercise link exercises/y_exercises.ipynb does not exist": (g[:-1] + [("markdown", g[-1][1].replace(
                "x_exercises.ipynb)", "y_exercises.ipynb)"))], True),
        }
        for expected, (cells, meta) in cases.items():
            with self.subTest(expected=expected):
                found = self.run_checks(cells, meta)
                self.assertTrue(any(expected in p for p in found), found)

    def test_an_unknown_glossary_name_is_reported(self):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            (root / "src").mkdir()
            (root / "src" / "lib.rs").write_text("pub struct VpSde; pub fn drift() {}")
            g = root / "GLOSSARY.md"
            g.write_text("| 中文 | English | crate | chapter |\n|---|---|---|---|\n"
                         "| 漂移 | drift | `VpSde::drift` | 1 |\n| 分数 | score | `ScoreTypo` | 1 |\n")
            self.assertEqual(glossary_unknown(g, root / "src"), ["ScoreTypo (ScoreTypo)"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
