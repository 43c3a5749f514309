//! The Wiener process (seed 001 §3.1.1, the Wiener-process note): independent Gaussian
//! increments with variance `|Δt|`, sampled on a [`TimeGrid`] for a batch of paths.

use ndarray::{s, Array2, Array3, ArrayView2};

use crate::rng;
use crate::solvers::TimeGrid;
use crate::{error::invalid, Result};

/// `n` paths of a `d`-dimensional Wiener process on a grid, `W(t_0) = 0`.
///
/// `values[[k, i, j]]` is component `j` of path `i` at time `t_k`.
#[derive(Debug, Clone)]
pub struct WienerPath {
    grid: TimeGrid,
    values: Array3<f64>,
}

impl WienerPath {
    /// Samples `n` paths of dimension `d` on `grid` from `seed`.
    pub fn sample(grid: &TimeGrid, n: usize, d: usize, seed: u64) -> Result<Self> {
        if n == 0 {
            return invalid("n", n, "need at least one path");
        }
        if d == 0 {
            return invalid("d", d, "need at least one dimension");
        }
        let mut rng = rng::seeded(seed);
        let mut values = Array3::zeros((grid.steps() + 1, n, d));
        for k in 0..grid.steps() {
            let (_, dt) = grid.step(k);
            let dw = rng::normals(&mut rng, n, d) * dt.abs().sqrt();
            let next = &values.slice(s![k, .., ..]) + &dw;
            values.slice_mut(s![k + 1, .., ..]).assign(&next);
        }
        Ok(Self {
            grid: grid.clone(),
            values,
        })
    }

    /// The grid the path lives on.
    pub fn grid(&self) -> &TimeGrid {
        &self.grid
    }

    /// All values, shape `(steps + 1, n, d)`.
    pub fn values(&self) -> &Array3<f64> {
        &self.values
    }

    /// `(n, d)`: number of paths and their dimension.
    pub fn shape(&self) -> (usize, usize) {
        let (_, n, d) = self.values.dim();
        (n, d)
    }

    /// `W(t_{k+1}) − W(t_k)` for paths `rows` (a range of path indices).
    pub fn increment(&self, k: usize, rows: std::ops::Range<usize>) -> Array2<f64> {
        let next: ArrayView2<f64> = self.values.slice(s![k + 1, rows.clone(), ..]);
        &next - &self.values.slice(s![k, rows, ..])
    }
}
