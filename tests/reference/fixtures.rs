//! Reading the fixtures of `tests/reference/` (shared by the `samplers_*` tests through
//! `#[path = "reference/fixtures.rs"] mod fixtures;`).
#![allow(dead_code)]

use ndarray::Array2;
use serde_json::Value;

/// The committed fixture `tests/reference/{name}`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/reference/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the committed fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

pub fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(floats).collect();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.concat()).unwrap()
}

pub fn largest_difference(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    (a - b).fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// The sample moments of `y` against the fixture's (`mean`, `cov` of `count` draws): two
/// independent samples, so the difference of means has std `√(2 var / count)`, of
/// covariances about `√(2 · 2 var² / count)`; 5 standard errors.
pub fn assert_moments(name: &str, y: &Array2<f64>, case: &Value) {
    let count = case["count"].as_u64().unwrap() as usize;
    assert_eq!(y.nrows(), count);
    let mean = y.mean_axis(ndarray::Axis(0)).unwrap();
    let centred = y - &mean;
    let cov = centred.t().dot(&centred) / (count as f64 - 1.0);
    let (their_mean, their_cov) = (floats(&case["mean"]), matrix(&case["cov"]));
    for i in 0..2 {
        let var = 0.5 * (cov[[i, i]] + their_cov[[i, i]]);
        let se_mean = (2.0 * var / count as f64).sqrt();
        assert!(
            (mean[i] - their_mean[i]).abs() < 5.0 * se_mean,
            "{name}: mean[{i}] {} vs {}",
            mean[i],
            their_mean[i]
        );
        for j in 0..2 {
            let scale = (cov[[i, i]] * cov[[j, j]]).sqrt();
            let se = (4.0 / count as f64).sqrt() * scale;
            assert!(
                (cov[[i, j]] - their_cov[[i, j]]).abs() < 5.0 * se,
                "{name}: cov[{i}{j}] {} vs {}",
                cov[[i, j]],
                their_cov[[i, j]]
            );
        }
    }
}
