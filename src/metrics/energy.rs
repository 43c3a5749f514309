//! Energy distance (Székely & Rizzo): `ED(P, Q) = 2 E|X − Y| − E|X − X'| − E|Y − Y'|`,
//! zero exactly when `P = Q`. Estimated by the V-statistic (all `n·m`, `n²`, `m²` pairs,
//! `i = j` included), as `common.py` does; for two samples of the same law its expectation
//! is `E|X − X'| (1/n + 1/m)`, the noise floor.

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::check_sets;
use crate::Result;

/// Mean Euclidean distance over all pairs `(a_i, b_j)`; `same` uses the symmetry of `a = b`.
fn mean_distance(a: ArrayView2<f64>, b: ArrayView2<f64>, same: bool) -> f64 {
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let d = a.ncols();
    let (aa, bb) = (
        a.as_slice().expect("standard layout"),
        b.as_slice().expect("standard layout"),
    );
    // Row sums in parallel, then added in row order: a parallel `sum()` would associate the
    // additions by work stealing, and the same seed could give another last bit.
    let rows: Vec<f64> = (0..a.nrows())
        .into_par_iter()
        .map(|i| {
            let ai = &aa[i * d..(i + 1) * d];
            let start = if same { i + 1 } else { 0 };
            bb[start * d..]
                .chunks_exact(d)
                .map(|bj| {
                    ai.iter()
                        .zip(bj)
                        .map(|(u, v)| (u - v) * (u - v))
                        .sum::<f64>()
                        .sqrt()
                })
                .sum::<f64>()
        })
        .collect();
    let total: f64 = rows.iter().sum();
    let pairs = (a.nrows() * b.nrows()) as f64;
    if same {
        2.0 * total / pairs
    } else {
        total / pairs
    }
}

/// `(mean |x_i − y_j|, mean |x_i − x_k|, mean |y_j − y_l|)` over all pairs.
pub(super) fn energy_terms(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<(f64, f64, f64)> {
    check_sets(x, y)?;
    Ok((
        mean_distance(x, y, false),
        mean_distance(x, x, true),
        mean_distance(y, y, true),
    ))
}

/// The squared energy distance between the rows of `x` and of `y` (V-statistic).
pub fn energy_distance(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<f64> {
    let (xy, xx, yy) = energy_terms(x, y)?;
    Ok(2.0 * xy - xx - yy)
}
