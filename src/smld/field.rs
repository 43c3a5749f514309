//! A 2-D density and its score field sampled on regular grids (seed 000 §3.1.1: the score points
//! where the density increases fastest), the data behind the notebook's quiver plots.

use ndarray::Array2;

use crate::data::GaussianMixture;
use crate::error::{finite, invalid};
use crate::{Error, Result};

/// A 2-D law on a square window: its density on a fine grid (for contours) and its score on a
/// coarse grid (for arrows).
#[derive(Debug, Clone)]
pub struct FieldGrid {
    /// Fine grid abscissae.
    pub xs: Vec<f64>,
    /// Fine grid ordinates.
    pub ys: Vec<f64>,
    /// `density[j][i] = p(xs[i], ys[j])`.
    pub density: Vec<Vec<f64>>,
    /// Arrow tails, one point per row.
    pub points: Array2<f64>,
    /// The score at each point, one vector per row.
    pub scores: Array2<f64>,
}

fn axis(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

impl FieldGrid {
    /// `law` on `[lo, hi]²`: density on `fine × fine` points, score on `coarse × coarse`.
    pub fn of(law: &GaussianMixture, lo: f64, hi: f64, fine: usize, coarse: usize) -> Result<Self> {
        if law.dim() != 2 {
            return Err(Error::Shape(format!(
                "a field needs a 2-D law, got d = {}",
                law.dim()
            )));
        }
        finite("lo", lo)?;
        finite("hi", hi)?;
        if hi <= lo {
            return invalid("hi", hi, format!("must be > lo = {lo}"));
        }
        for (name, n) in [("fine", fine), ("coarse", coarse)] {
            if n < 2 {
                return invalid(name, n, "a grid needs at least 2 points per axis");
            }
        }
        let xs = axis(lo, hi, fine);
        let grid = |ax: &[f64]| {
            Array2::from_shape_fn((ax.len() * ax.len(), 2), |(k, c)| {
                if c == 0 {
                    ax[k % ax.len()]
                } else {
                    ax[k / ax.len()]
                }
            })
        };
        let log_p = law.log_density(grid(&xs).view())?;
        let density = log_p
            .exact_chunks(fine)
            .into_iter()
            .map(|row| row.iter().map(|v| v.exp()).collect())
            .collect();
        let points = grid(&axis(lo, hi, coarse));
        let scores = law.score(points.view())?;
        Ok(Self {
            ys: xs.clone(),
            xs,
            density,
            points,
            scores,
        })
    }
}
