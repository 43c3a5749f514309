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

    /// A path from its increments `dw[[k, i, j]] = W_j(t_{k+1}) − W_j(t_k)` of path `i`
    /// (shape `(steps, n, d)`), for samplers that draw `ΔW` jointly with other quantities
    /// (the exact linear-SDE solutions of chapter 2).
    pub fn from_increments(grid: &TimeGrid, dw: Array3<f64>) -> Result<Self> {
        let (steps, n, d) = dw.dim();
        if steps != grid.steps() || n == 0 || d == 0 {
            return invalid(
                "dw.shape",
                format!("{:?}", dw.dim()),
                format!(
                    "need ({}, n ≥ 1, d ≥ 1) for a grid of {} steps",
                    grid.steps(),
                    grid.steps()
                ),
            );
        }
        crate::error::all_finite("the Wiener increments", dw.iter())?;
        let mut values = Array3::zeros((steps + 1, n, d));
        for k in 0..steps {
            let next = &values.slice(s![k, .., ..]) + &dw.slice(s![k, .., ..]);
            values.slice_mut(s![k + 1, .., ..]).assign(&next);
        }
        Ok(Self {
            grid: grid.clone(),
            values,
        })
    }

    /// The same paths seen on every `factor`-th grid point: the increments of the coarse grid
    /// are sums of `factor` fine increments, so solutions at several step sizes can be
    /// compared path by path (chapter 2's convergence ladders).
    pub fn coarsen(&self, factor: usize) -> Result<Self> {
        let steps = self.grid.steps();
        if factor == 0 || steps % factor != 0 {
            return invalid(
                "factor",
                factor,
                format!("must be ≥ 1 and divide the number of steps ({steps})"),
            );
        }
        let times = self.grid.times().iter().step_by(factor).copied().collect();
        Ok(Self {
            grid: TimeGrid::from_times(times)?,
            values: self.values.slice(s![..;factor, .., ..]).to_owned(),
        })
    }

    /// `W(t_{k+1}) − W(t_k)` for paths `rows` (a range of path indices).
    pub fn increment(&self, k: usize, rows: std::ops::Range<usize>) -> Array2<f64> {
        let next: ArrayView2<f64> = self.values.slice(s![k + 1, rows.clone(), ..]);
        &next - &self.values.slice(s![k, rows, ..])
    }
}
