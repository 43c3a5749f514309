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
//!
//! The batch's element type `F` ([`Real`]) defaults to `f64`; the loop, the schemes' steps and
//! the chunking are the same in `f32` (e.g. for [`EulerMaruyama`] on an SDE implementing
//! `Sde<f32>`), with normals from the `f32` generator ([`Real::fill_normals`]). Times stay `f64`.

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::TimeGrid;
use crate::error::{invalid, Error};
use crate::real::Real;
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
pub struct SdeSolution<F = f64> {
    /// Times of the recorded states.
    pub times: Vec<f64>,
    /// One `n × d` state per recorded time.
    pub states: Vec<Array2<F>>,
    /// Drift/score evaluations per particle (network function evaluations).
    pub nfe: usize,
}

impl<F: Real> SdeSolution<F> {
    /// The state at the final time.
    pub fn last(&self) -> &Array2<F> {
        self.states
            .last()
            .expect("a solution always records its final state")
    }

    /// Particle `i`'s path through the recorded times, component `j`.
    pub fn path(&self, i: usize, j: usize) -> Vec<F> {
        self.states.iter().map(|x| x[[i, j]]).collect()
    }
}

/// One step of an SDE scheme; [`solve`] supplies the loop. `F` is the batch's element type
/// (`impl SdeScheme for X` means `f64`).
pub trait SdeScheme<F: Real = f64>: Sync {
    /// Name for tables and plots.
    fn name(&self) -> &'static str;

    /// Drift/diffusion evaluations per step (for NFE).
    fn evals_per_step(&self) -> usize {
        1
    }

    /// The state at `t + dt` from `x` at `t`, given the Wiener increment `dw` (`n × d`, variance `|dt|`).
    fn step(
        &self,
        sde: &dyn Sde<F>,
        x: ArrayView2<F>,
        t: f64,
        dt: f64,
        dw: ArrayView2<F>,
    ) -> Result<Array2<F>>;

    /// [`Self::step`] written into `x`, which is what [`solve`] calls; a scheme that can
    /// update in place overrides it (and then defines `step` through it), saving an array
    /// per step.
    fn step_in_place(
        &self,
        sde: &dyn Sde<F>,
        x: &mut Array2<F>,
        t: f64,
        dt: f64,
        dw: ArrayView2<F>,
    ) -> Result<()> {
        *x = self.step(sde, x.view(), t, dt, dw)?;
        Ok(())
    }

    /// Runs this scheme over `grid` from `x0`; see [`solve`].
    fn solve(
        &self,
        sde: &dyn Sde<F>,
        x0: ArrayView2<F>,
        grid: &TimeGrid,
        noise: Noise,
        record: Record,
    ) -> Result<SdeSolution<F>>
    where
        Self: Sized,
    {
        solve(self, sde, x0, grid, noise, record)
    }
}

/// Euler–Maruyama (seed 000 §2.1.2): `x ← x + f(x,t) Δt + G(x,t) ΔW`. Strong order ½, weak order 1.
/// In `f64` and `f32`; the update is done in place ([`Diffusion::euler_update`]).
///
/// [`Diffusion::euler_update`]: crate::sde_basics::Diffusion::euler_update
#[derive(Debug, Clone, Copy, Default)]
pub struct EulerMaruyama;

impl<F: Real> SdeScheme<F> for EulerMaruyama {
    fn name(&self) -> &'static str {
        "Euler–Maruyama"
    }

    fn step(
        &self,
        sde: &dyn Sde<F>,
        x: ArrayView2<F>,
        t: f64,
        dt: f64,
        dw: ArrayView2<F>,
    ) -> Result<Array2<F>> {
        let mut next = x.to_owned();
        self.step_in_place(sde, &mut next, t, dt, dw)?;
        Ok(next)
    }

    fn step_in_place(
        &self,
        sde: &dyn Sde<F>,
        x: &mut Array2<F>,
        t: f64,
        dt: f64,
        dw: ArrayView2<F>,
    ) -> Result<()> {
        let drift = sde.drift(x.view(), t)?;
        let g = sde.diffusion(x.view(), t)?;
        g.euler_update(x.view_mut(), drift.view(), dt, dw)
    }
}

/// Integrates `sde` with `scheme` over `grid` from the batch `x0` (`n × d`), in `f64` or `f32`.
pub fn solve<F: Real>(
    scheme: &(impl SdeScheme<F> + ?Sized),
    sde: &dyn Sde<F>,
    x0: ArrayView2<F>,
    grid: &TimeGrid,
    noise: Noise,
    record: Record,
) -> Result<SdeSolution<F>> {
    let (n, d) = x0.dim();
    if n == 0 || d == 0 {
        return invalid(
            "x0.shape",
            format!("{n}×{d}"),
            "need at least one particle and one dimension",
        );
    }
    if !all_finite(x0) {
        return Err(Error::Numerical(
            "the initial state x0 produced a non-finite value".into(),
        ));
    }
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

    let chunks: Vec<Vec<Array2<F>>> = (0..n.div_ceil(CHUNK_ROWS))
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
            let parts: Vec<ArrayView2<F>> = chunks.iter().map(|ch| ch[r].view()).collect();
            concatenate(Axis(0), &parts).expect("chunks share their column count")
        })
        .collect();
    Ok(SdeSolution {
        times: keep.iter().map(|&k| grid.times()[k]).collect(),
        states,
        nfe: grid.steps() * scheme.evals_per_step(),
    })
}

/// True when every entry is finite (one branch-free pass).
fn all_finite<F: Real>(x: ArrayView2<F>) -> bool {
    x.fold(true, |ok, v| ok & v.is_finite())
}

#[allow(clippy::too_many_arguments)]
fn solve_chunk<F: Real>(
    scheme: &(impl SdeScheme<F> + ?Sized),
    sde: &dyn Sde<F>,
    x0: ArrayView2<F>,
    rows: std::ops::Range<usize>,
    chunk: u64,
    grid: &TimeGrid,
    noise: Noise,
    keep: &[usize],
) -> Result<Vec<Array2<F>>> {
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
    let mut dw = Array2::zeros(x.dim());
    for k in 0..grid.steps() {
        let (t, dt) = grid.step(k);
        match noise {
            Noise::Path(path) => dw.assign(&path.increment(k, rows.clone()).mapv(F::of)),
            Noise::Seed(_) => {
                let z = dw.as_slice_mut().expect("a new array is contiguous");
                F::fill_normals(&mut rng, z);
                let h = F::of(dt.abs().sqrt());
                z.iter_mut().for_each(|z| *z = *z * h);
            }
        }
        scheme.step_in_place(sde, &mut x, t, dt, dw.view())?;
        if !all_finite(x.view()) {
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
