//! Fixed-step SDE solvers (seed 000 §2.1.2, §2.4).
//!
//! A scheme ([`SdeScheme`]) says how to take *one* step; [`solve`] is the one loop that runs
//! any scheme over a [`TimeGrid`] for a batch of particles. The loop
//! - splits the particles into fixed chunks and runs them in parallel, each chunk with its own
//!   random stream, so the numbers depend on the seed and not on the thread count;
//! - draws `ΔW ~ N(0, |Δt|)` from a seed, or reads it from a given [`WienerPath`] so that
//!   solutions at several step sizes can be compared path by path (chapter 2's convergence);
//! - stores only the states asked for ([`Record`]), never the whole trajectory unless asked
//!   (seed 000 §2.4.2);
//! - stops with an error naming the step and time as soon as a state is not finite.

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::TimeGrid;
use crate::error::{invalid, Error};
use crate::rng;
use crate::sde_basics::{wiener::WienerPath, Sde};
use crate::Result;

/// Particles per chunk of the parallel loop (part of what a seed reproduces).
pub const CHUNK_ROWS: usize = 1024;

/// Where the Wiener increments come from.
#[derive(Debug, Clone, Copy)]
pub enum Noise<'a> {
    /// Fresh increments from this seed.
    Seed(u64),
    /// The increments of a given path; its grid must be the solve's grid.
    Path(&'a WienerPath),
}

/// Which states a solve keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Only the final state.
    Final,
    /// Every `k`-th grid point, and always the first and the last.
    Every(usize),
}

impl Record {
    /// The grid indices this rule keeps on a grid of `steps` steps.
    pub fn indices(self, steps: usize) -> Result<Vec<usize>> {
        let mut idx = match self {
            Record::Final => vec![steps],
            Record::Every(0) => return invalid("Record::Every", 0, "stride must be ≥ 1"),
            Record::Every(k) => (0..=steps).step_by(k).collect(),
        };
        if idx.last() != Some(&steps) {
            idx.push(steps);
        }
        Ok(idx)
    }
}

/// The recorded states of a solve.
#[derive(Debug, Clone)]
pub struct SdeSolution {
    /// Times of the recorded states.
    pub times: Vec<f64>,
    /// One `n × d` state per recorded time.
    pub states: Vec<Array2<f64>>,
    /// Drift/score evaluations per particle (network function evaluations).
    pub nfe: usize,
}

impl SdeSolution {
    /// The state at the final time.
    pub fn last(&self) -> &Array2<f64> {
        self.states
            .last()
            .expect("a solution always records its final state")
    }

    /// Particle `i`'s path through the recorded times, component `j`.
    pub fn path(&self, i: usize, j: usize) -> Vec<f64> {
        self.states.iter().map(|x| x[[i, j]]).collect()
    }
}

/// One step of an SDE scheme; [`solve`] supplies the loop.
pub trait SdeScheme: Sync {
    /// Name for tables and plots.
    fn name(&self) -> &'static str;

    /// Drift/diffusion evaluations per step (for NFE).
    fn evals_per_step(&self) -> usize {
        1
    }

    /// The state at `t + dt` from `x` at `t`, given the Wiener increment `dw` (`n × d`, variance `|dt|`).
    fn step(
        &self,
        sde: &dyn Sde,
        x: ArrayView2<f64>,
        t: f64,
        dt: f64,
        dw: ArrayView2<f64>,
    ) -> Result<Array2<f64>>;

    /// Runs this scheme over `grid` from `x0`; see [`solve`].
    fn solve(
        &self,
        sde: &dyn Sde,
        x0: ArrayView2<f64>,
        grid: &TimeGrid,
        noise: Noise,
        record: Record,
    ) -> Result<SdeSolution>
    where
        Self: Sized,
    {
        solve(self, sde, x0, grid, noise, record)
    }
}

/// Euler–Maruyama (seed 000 §2.1.2): `x ← x + f(x,t) Δt + G(x,t) ΔW`. Strong order ½, weak order 1.
#[derive(Debug, Clone, Copy, Default)]
pub struct EulerMaruyama;

impl SdeScheme for EulerMaruyama {
    fn name(&self) -> &'static str {
        "Euler–Maruyama"
    }

    fn step(
        &self,
        sde: &dyn Sde,
        x: ArrayView2<f64>,
        t: f64,
        dt: f64,
        dw: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        let mut next = sde.drift(x, t)? * dt;
        next += &sde.diffusion(x, t)?.apply(dw)?;
        next += &x;
        Ok(next)
    }
}

/// Integrates `sde` with `scheme` over `grid` from the batch `x0` (`n × d`).
pub fn solve(
    scheme: &(impl SdeScheme + ?Sized),
    sde: &dyn Sde,
    x0: ArrayView2<f64>,
    grid: &TimeGrid,
    noise: Noise,
    record: Record,
) -> Result<SdeSolution> {
    let (n, d) = x0.dim();
    if n == 0 || d == 0 {
        return invalid(
            "x0.shape",
            format!("{n}×{d}"),
            "need at least one particle and one dimension",
        );
    }
    crate::error::all_finite("the initial state x0", x0.iter())?;
    if let Noise::Path(path) = noise {
        if path.grid() != grid {
            return Err(Error::Shape(
                "the Wiener path lives on another grid than the solve".into(),
            ));
        }
        if path.shape() != (n, d) {
            return Err(Error::Shape(format!(
                "the Wiener path has {:?} (paths, dim), the initial state {n}×{d}",
                path.shape()
            )));
        }
    }
    let keep = record.indices(grid.steps())?;

    let chunks: Vec<Vec<Array2<f64>>> = (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n);
            solve_chunk(
                scheme,
                sde,
                x0.slice(ndarray::s![rows.clone(), ..]),
                rows,
                c as u64,
                grid,
                noise,
                &keep,
            )
        })
        .collect::<Result<_>>()?;

    let states = (0..keep.len())
        .map(|r| {
            let parts: Vec<ArrayView2<f64>> = chunks.iter().map(|ch| ch[r].view()).collect();
            concatenate(Axis(0), &parts).expect("chunks share their column count")
        })
        .collect();
    Ok(SdeSolution {
        times: keep.iter().map(|&k| grid.times()[k]).collect(),
        states,
        nfe: grid.steps() * scheme.evals_per_step(),
    })
}

#[allow(clippy::too_many_arguments)]
fn solve_chunk(
    scheme: &(impl SdeScheme + ?Sized),
    sde: &dyn Sde,
    x0: ArrayView2<f64>,
    rows: std::ops::Range<usize>,
    chunk: u64,
    grid: &TimeGrid,
    noise: Noise,
    keep: &[usize],
) -> Result<Vec<Array2<f64>>> {
    let mut rng = rng::stream(
        if let Noise::Seed(seed) = noise {
            seed
        } else {
            0
        },
        chunk,
    );
    let mut x = x0.to_owned();
    let mut kept = Vec::with_capacity(keep.len());
    let mut next_keep = keep.iter().peekable();
    if next_keep.peek() == Some(&&0) {
        kept.push(x.clone());
        next_keep.next();
    }
    for k in 0..grid.steps() {
        let (t, dt) = grid.step(k);
        let dw = match noise {
            Noise::Path(path) => path.increment(k, rows.clone()),
            Noise::Seed(_) => rng::normals(&mut rng, x.nrows(), x.ncols()) * dt.abs().sqrt(),
        };
        x = scheme.step(sde, x.view(), t, dt, dw.view())?;
        if !x.iter().all(|v| v.is_finite()) {
            return Err(Error::Numerical(format!(
                "{} left the finite range at step {} of {} (t = {:.6} → {:.6}); the step size may be too large",
                scheme.name(),
                k + 1,
                grid.steps(),
                t,
                t + dt
            )));
        }
        if next_keep.peek() == Some(&&(k + 1)) {
            kept.push(x.clone());
            next_keep.next();
        }
    }
    Ok(kept)
}
