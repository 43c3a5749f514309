//! Numerical integration of a 2-D density over a square, to check a normalising constant
//! (the erratum of seed 000 §1.3.2).

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{all_finite, invalid, positive};
use crate::Result;

/// `∫∫ exp(log_density(x)) dx` over `[−half_width, half_width]²` by the midpoint rule on an
/// `m × m` grid; `log_density` receives the `m² × 2` batch of cell midpoints.
///
/// For a smooth density that is negligible at the border the midpoint rule converges faster
/// than any power of `1/m`, so `m = 200` over ±8 standard deviations gives ~1e-10.
pub fn integrate_density_2d(
    log_density: impl Fn(ArrayView2<f64>) -> Result<Array1<f64>>,
    half_width: f64,
    m: usize,
) -> Result<f64> {
    positive("half_width", half_width)?;
    if m == 0 {
        return invalid("m", m, "need at least one cell per side");
    }
    let h = 2.0 * half_width / m as f64;
    let mid = |i: usize| -half_width + (i as f64 + 0.5) * h;
    let points = Array2::from_shape_fn(
        (m * m, 2),
        |(k, j)| if j == 0 { mid(k / m) } else { mid(k % m) },
    );
    let log_p = log_density(points.view())?;
    all_finite("the log-density on the integration grid", log_p.iter())?;
    Ok(log_p.mapv(f64::exp).sum() * h * h)
}
