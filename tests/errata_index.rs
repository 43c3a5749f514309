//! The errata index (`docs/ERRATA.md`) against the notebooks and the tests: every **Erratum**
//! cell of `notebooks/*.ipynb` has a row (same notebook, same heading above it), every row's
//! heading holds an Erratum cell, and every row names a test function that exists in `tests/`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// One row of the index table.
#[derive(Debug)]
struct Row {
    id: String,
    seed: String,
    notebook: String,
    heading: String,
    test_file: String,
    test_fn: String,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rows() -> Vec<Row> {
    let text = fs::read_to_string(root().join("docs/ERRATA.md")).expect("docs/ERRATA.md");
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| E")) {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(cols.len(), 9, "an index row must have 7 columns (no '|' inside a cell): {line}");
        let figure = cols[6];
        let (notebook, heading) = figure
            .strip_prefix('`')
            .and_then(|f| f.split_once('`'))
            .map(|(nb, rest)| (nb.to_string(), rest.trim_start_matches([' ', '·']).trim().to_string()))
            .unwrap_or_else(|| panic!("row {}: figure column must be `notebook` · heading, got {figure}", cols[1]));
        let test = cols[7].trim_matches('`');
        let (test_file, test_fn) = test
            .split_once("::")
            .unwrap_or_else(|| panic!("row {}: test column must be tests/FILE.rs::name, got {test}", cols[1]));
        rows.push(Row {
            id: cols[1].to_string(),
            seed: cols[2].to_string(),
            notebook,
            heading,
            test_file: test_file.to_string(),
            test_fn: test_fn.to_string(),
        });
    }
    rows
}

/// Markdown heading text of a line (`#` to `###`), if it is one.
fn heading(line: &str) -> Option<String> {
    let t = line.trim_start();
    let hashes = t.chars().take_while(|&c| c == '#').count();
    (1..=3).contains(&hashes).then(|| t[hashes..].trim().to_string()).filter(|h| !h.is_empty())
}

/// A line that opens an Erratum: `**Erratum…`, possibly inside a block quote.
fn opens_erratum(line: &str) -> bool {
    line.trim_start().trim_start_matches('>').trim_start().starts_with("**Erratum")
}

/// Per notebook (file stem): all headings, and the heading above each Erratum cell.
fn notebooks() -> BTreeMap<String, (BTreeSet<String>, Vec<String>)> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(root().join("notebooks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ipynb") {
            continue;
        }
        let nb: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let (mut headings, mut errata) = (BTreeSet::new(), Vec::new());
        let mut current = String::new();
        for cell in nb["cells"].as_array().unwrap() {
            if cell["cell_type"] != "markdown" {
                continue;
            }
            let source: String = match &cell["source"] {
                serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
                other => other.as_str().unwrap_or_default().to_string(),
            };
            for line in source.lines() {
                if let Some(h) = heading(line) {
                    headings.insert(h.clone());
                    current = h;
                } else if opens_erratum(line) {
                    errata.push(current.clone());
                }
            }
        }
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        out.insert(stem, (headings, errata));
    }
    out
}

#[test]
fn every_erratum_cell_has_a_row_and_every_row_a_cell_and_a_test() {
    let rows = rows();
    let notebooks = notebooks();
    assert!(rows.len() >= 11, "the index lost rows: {}", rows.len());
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "duplicate row ids");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.id, format!("E{}", i + 1), "rows are numbered E1, E2, … in order");
        assert!(["000", "001", "002", "003", "004"].contains(&r.seed.as_str()), "{}: seed {}", r.id, r.seed);
        let (headings, errata) = notebooks
            .get(&r.notebook)
            .unwrap_or_else(|| panic!("{}: no notebook notebooks/{}.ipynb", r.id, r.notebook));
        assert!(headings.contains(&r.heading), "{}: no heading {:?} in {}", r.id, r.heading, r.notebook);
        assert!(errata.contains(&r.heading), "{}: no Erratum cell under {:?} in {}", r.id, r.heading, r.notebook);
        let src = fs::read_to_string(root().join(&r.test_file))
            .unwrap_or_else(|_| panic!("{}: no test file {}", r.id, r.test_file));
        assert!(
            src.contains(&format!("fn {}(", r.test_fn)),
            "{}: {} has no fn {}",
            r.id,
            r.test_file,
            r.test_fn
        );
    }
    for (nb, (_, errata)) in &notebooks {
        for h in errata {
            assert!(
                rows.iter().any(|r| &r.notebook == nb && &r.heading == h),
                "an Erratum cell in {nb} under {h:?} has no row in docs/ERRATA.md"
            );
        }
    }
}

#[test]
fn readme_links_the_index() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("docs/ERRATA.md"), "README must link docs/ERRATA.md");
}

#[test]
fn every_chapter_introduction_links_the_index() {
    for (stem, cells) in chapter_openings() {
        assert!(
            cells.iter().any(|c| c.contains("](../docs/ERRATA.md)")),
            "{stem}: its first three cells must link ../docs/ERRATA.md"
        );
    }
}

/// The markdown of the first three cells of every chapter notebook (`notebooks/0*.ipynb`).
fn chapter_openings() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root().join("notebooks")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        if path.extension().and_then(|e| e.to_str()) != Some("ipynb") || !stem.starts_with('0') {
            continue;
        }
        let nb: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let cells = nb["cells"].as_array().unwrap().iter().take(3).map(|cell| match &cell["source"] {
            serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
            other => other.as_str().unwrap_or_default().to_string(),
        });
        out.push((stem, cells.collect()));
    }
    assert!(out.len() >= 8, "chapters found: {}", out.len());
    out
}
