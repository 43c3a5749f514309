//! The Wiener process (seed 001 §3.1.1, the Wiener-process note): independent Gaussian
//! increments with variance `|Δt|`, sampled on a [`TimeGrid`] for a batch of paths.
//!
//! [`WienerPath::refine`] fills a path in on a finer grid with Brownian bridges, keeping its
//! values at the coarse times, so a coarse and a fine solve can be driven by *one* path
//! (chapter 2's strong-convergence measurements).

use ndarray::{s, Array2, Array3, ArrayView2};

use crate::rng;
use super::TimeGrid;
use crate::{error::invalid, Error, Result};

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

    /// The same paths on a finer grid `fine` that contains every time of this path's grid.
    ///
    /// Between two coarse times `t_a < s < t_b` (or `t_a > s > t_b` on a decreasing grid) the
    /// value at `s` is drawn from the Brownian bridge,
    /// `W(s) | W(t_a), W(t_b) ~ N(W(t_a) + r (W(t_b) − W(t_a)), r (1 − r) |t_b − t_a|)` with
    /// `r = (s − t_a)/(t_b − t_a)`, one new point at a time (each conditioned on the previous new
    /// point and `t_b`), which is the exact conditional law of the Wiener process. The values at
    /// the coarse times are copied, so the coarse path is preserved bit for bit.
    ///
    /// A coarse time matches a fine one when they differ by at most `1e-9 · |t_N − t_0|`
    /// (so `TimeGrid::uniform(0, T, 4N)` refines `TimeGrid::uniform(0, T, N)` despite rounding).
    pub fn refine(&self, fine: &TimeGrid, seed: u64) -> Result<Self> {
        let coarse = self.grid.times();
        let times = fine.times();
        let span = (coarse[coarse.len() - 1] - coarse[0]).abs();
        let tol = 1e-9 * span;
        if (times[0] - coarse[0]).abs() > tol
            || (times[times.len() - 1] - coarse[coarse.len() - 1]).abs() > tol
            || (times[1] > times[0]) != (coarse[1] > coarse[0])
        {
            return Err(Error::Shape(format!(
                "the fine grid runs from {} to {}, the path's grid from {} to {}: they must share \
                 their end points and direction",
                times[0],
                times[times.len() - 1],
                coarse[0],
                coarse[coarse.len() - 1]
            )));
        }
        // anchor[k] = index of coarse time t_k in the fine grid.
        let mut anchor = Vec::with_capacity(coarse.len());
        let mut j = 0;
        for (k, &t) in coarse.iter().enumerate() {
            while j < times.len()
                && (times[j] - t).abs() > tol
                && (times[j] - t) * (times[1] - times[0]) < 0.0
            {
                j += 1;
            }
            if j == times.len() || (times[j] - t).abs() > tol {
                return invalid(
                    "fine",
                    format!("a grid of {} steps", fine.steps()),
                    format!("does not contain the coarse time t[{k}] = {t}"),
                );
            }
            anchor.push(j);
        }
        let (n, d) = self.shape();
        let mut rng = rng::seeded(seed);
        let mut values = Array3::zeros((fine.steps() + 1, n, d));
        for (k, w) in anchor.windows(2).enumerate() {
            let (ja, jb) = (w[0], w[1]);
            let right = self.values.slice(s![k + 1, .., ..]);
            values
                .slice_mut(s![ja, .., ..])
                .assign(&self.values.slice(s![k, .., ..]));
            for j in ja + 1..jb {
                // Bridge from the last filled point (t_{j-1}) to the coarse point t_b.
                let (h, rest) = (
                    (times[j] - times[j - 1]).abs(),
                    (times[jb] - times[j - 1]).abs(),
                );
                let r = h / rest;
                let prev = values.slice(s![j - 1, .., ..]).to_owned();
                let noise = rng::normals(&mut rng, n, d) * (r * (1.0 - r) * rest).sqrt();
                let next = &prev + &((&right - &prev) * r) + noise;
                values.slice_mut(s![j, .., ..]).assign(&next);
            }
        }
        values
            .slice_mut(s![fine.steps(), .., ..])
            .assign(&self.values.slice(s![self.grid.steps(), .., ..]));
        Ok(Self {
            grid: fine.clone(),
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

    /// The quadratic variation `Σ_k (W(t_{k+1}) − W(t_k))²` of every path and component
    /// (`n × d`); it tends to `|t_N − t_0|` as the grid is refined.
    pub fn quadratic_variation(&self) -> Array2<f64> {
        let (n, d) = self.shape();
        (0..self.grid.steps()).fold(Array2::zeros((n, d)), |acc, k| {
            acc + self.increment(k, 0..n).mapv(|v| v * v)
        })
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
        if factor == 0 || !steps.is_multiple_of(factor) {
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
