//! Sliced Wasserstein-2 as `common.py` defines it: in 2-D, `L = 128` fixed directions
//! `u_j = (cos θ_j, sin θ_j)`, `θ_j = π (j + ½)/L`, and
//! `SW2 = √( mean_j mean_i (sort(X u_j)_i − sort(Y u_j)_i)² )` for sets of equal size.
//! In 1-D there is one direction and this is the exact Wasserstein-2 distance of the two
//! empirical laws.

use ndarray::ArrayView2;

use super::check_sets;
use crate::error::invalid;
use crate::Result;

/// Number of directions in 2-D.
pub const SLICES: usize = 128;

fn sorted(v: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = v.collect();
    v.sort_by(f64::total_cmp);
    v
}

fn mean_sq(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f64>() / a.len() as f64
}

/// Sliced Wasserstein-2 between equal-size sets in 1-D or 2-D.
pub fn sliced_w2(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<f64> {
    check_sets(x, y)?;
    if x.nrows() != y.nrows() {
        return invalid(
            "y.nrows()",
            y.nrows(),
            format!(
                "sliced W2 pairs sorted projections: needs as many points as x ({})",
                x.nrows()
            ),
        );
    }
    match x.ncols() {
        1 => Ok(mean_sq(&sorted(x.iter().copied()), &sorted(y.iter().copied())).sqrt()),
        2 => {
            let total: f64 = (0..SLICES)
                .map(|j| {
                    let th = std::f64::consts::PI * (j as f64 + 0.5) / SLICES as f64;
                    let (c, s) = (th.cos(), th.sin());
                    let proj = |z: ArrayView2<f64>| {
                        sorted(z.rows().into_iter().map(|r| c * r[0] + s * r[1]))
                    };
                    mean_sq(&proj(x), &proj(y))
                })
                .sum();
            Ok((total / SLICES as f64).sqrt())
        }
        d => invalid(
            "dimension",
            d,
            "sliced W2 is defined here for 1-D and 2-D sets (common.py's directions)",
        ),
    }
}
