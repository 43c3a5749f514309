//! The layering of the crate (README, "Layout"): a module may use only modules below it, so
//! that the vocabulary lives where it is used and the chapters build on one another one way.
//! This test reads `src/` and fails, naming file and line, on any `crate::…` path that points
//! upward (in `use` items and in code; doc comments may link anywhere).
//!
//! ```text
//! bin                                  the headless commands
//! plot                                 figure builders (no maths)
//! appendix rivals                      seed 000's appendix experiment; ch. 4c's GAN, VAE, flow and comparison
//! framework                            ch. 4: DSM, samplers, likelihood, guidance, flow matching
//! smld                                 ch. 3: SMLD/NCSN, Langevin dynamics, noise schedules
//! models                               candle networks and time embeddings
//! solvers                              ch. 2: the one driver loop, ODE/SDE steppers
//! sde_basics                           ch. 1 and the SDE vocabulary: Sde, Score, ForwardSde (VE/VP/
//!                                      sub-VP), TimeGrid, Record, Solution, OdeSystem, Wiener paths
//! metrics                              sample-quality measures
//! data                                 densities with exact scores, the digits
//! real                                 the batch element type (f64, f32)
//! rng linalg                           seeded streams, small linear algebra
//! error workbook                       errors, the reduced-size switch
//! ```

use std::path::{Path, PathBuf};

/// Bottom to top; modules on one line are one layer and must not use each other.
const LAYERS: &[&[&str]] = &[
    &["error", "workbook"],
    &["rng", "linalg"],
    &["real"],
    &["data"],
    &["metrics"],
    &["sde_basics"],
    &["solvers"],
    &["models"],
    &["smld"],
    &["framework"],
    &["appendix", "rivals"],
    &["plot"],
    &["bin"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs`, which only
/// declares modules and the prelude).
fn owner(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(m) => Some(m.to_string()),
        None => Some(first),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` named in a line of code (comments stripped).
fn crate_paths(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `diffusion_sde::…`-like names ending in "crate", macro `$crate`
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        found.push(name);
    }
    found
}

/// Names used inside a `use crate::{a::…, b::…}` group spanning several lines.
fn grouped_modules(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut depth_start: Option<usize> = None;
    for (k, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        if depth_start.is_none() && (code.starts_with("use crate::{") || code.starts_with("pub use crate::{") || code.starts_with("pub(crate) use crate::{")) {
            depth_start = Some(k);
        }
        if let Some(start) = depth_start {
            let inner = if k == start { code.split_once("crate::{").map(|(_, r)| r).unwrap_or("") } else { code };
            for item in inner.split(',') {
                let item = item.trim().trim_start_matches('{');
                let name: String = item.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && item[name.len()..].starts_with("::") {
                    out.push((k, name));
                }
            }
            if code.contains("};") {
                depth_start = None;
            }
        }
    }
    out
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut unknown = Vec::new();
    for file in &files {
        let Some(module) = owner(&src, file) else { continue };
        let Some(own) = layer(&module) else {
            unknown.push(module.clone());
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let mut used: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .flat_map(|(k, line)| crate_paths(line).into_iter().map(move |m| (k, m)))
            .collect();
        used.extend(grouped_modules(&text));
        for (k, target) in used {
            if target == module || target.is_empty() || target.chars().next().is_some_and(|c| c.is_uppercase()) {
                continue; // own module, or a crate-root item (`crate::Result`, `crate::Error`)
            }
            match layer(&target) {
                Some(l) if l < own => {}
                Some(_) => violations.push(format!(
                    "{}:{}: `{module}` uses `crate::{target}`, which is not below it",
                    file.strip_prefix(src.parent().unwrap()).unwrap().display(),
                    k + 1
                )),
                None => unknown.push(target),
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(unknown.is_empty(), "modules missing from LAYERS: {unknown:?}");
    assert!(
        violations.is_empty(),
        "{} upward dependencies:\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    assert_eq!(crate_paths("use crate::solvers::TimeGrid; // crate::plot"), ["solvers"]);
    assert_eq!(crate_paths("let x = crate::rng::seeded(1);"), ["rng"]);
    assert!(crate_paths("/// [`crate::framework::VpSde`]").is_empty());
    assert!(crate_paths("//! see crate::framework").is_empty());
    let grouped = grouped_modules("use crate::{\n    error::invalid,\n    solvers::TimeGrid,\n};\n");
    assert_eq!(grouped, [(1, "error".to_string()), (2, "solvers".to_string())]);
}
