//! Fixed-step SDE solvers (seed 000 §2.1.2, §2.4).
//!
//! A scheme ([`SdeScheme`]) says how to take *one* step; [`solve`] runs any scheme over a
//! [`TimeGrid`] for a batch of particles through the one driver loop ([`super::driver`]):
//! chunked, seeded per chunk, recording what [`Record`] asks for, stopping at the first
//! non-finite state. What `solve` adds is the noise: `ΔW ~ N(0, |Δt|)` drawn from the chunk's
//! stream, or read from a given [`WienerPath`] so that solutions at several step sizes can be
//! compared path by path (chapter 2's convergence).
//!
//! The batch's element type `F` ([`Real`]) defaults to `f64`; the loop, the schemes' steps and
//! the chunking are the same in `f32` (e.g. for [`EulerMaruyama`] on an SDE implementing
//! `Sde<f32>`), with normals from the `f32` generator ([`Real::fill_normals`]). Times stay `f64`.

use ndarray::{Array2, ArrayView2};

use super::driver::{drive, Chunk, Step};
use crate::error::Error;
use crate::real::Real;
use crate::sde_basics::{wiener::WienerPath, Record, Sde, Solution, TimeGrid};
use crate::Result;

/// Where the Wiener increments come from.
#[derive(Debug, Clone, Copy)]
pub enum Noise<'a> {
    /// Fresh increments from this seed.
    Seed(u64),
    /// The increments of a given path; its grid must be the solve's grid.
    Path(&'a WienerPath),
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

    /// The strong order `γ` it guarantees for a general (state-dependent) noise:
    /// `E|x_N − x(T)| = O(h^γ)` (seed 000 §2.1.2). Chapter 2's convergence tests fit it.
    fn strong_order(&self) -> f64;

    /// The weak order `β`: `|E φ(x_N) − E φ(x(T))| = O(h^β)` for smooth `φ`.
    fn weak_order(&self) -> f64;

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
    ) -> Result<Solution<F>>
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

    fn strong_order(&self) -> f64 {
        0.5
    }

    fn weak_order(&self) -> f64 {
        1.0
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
        let (drift, g) = sde.drift_and_diffusion(x.view(), t)?;
        g.euler_update(x.view_mut(), drift.view(), dt, dw)
    }
}

/// Integrates `sde` with `scheme` over `grid` from the batch `x0` (`n × d`), in `f64` or `f32`,
/// through the one driver loop ([`drive`]).
pub fn solve<F: Real>(
    scheme: &(impl SdeScheme<F> + ?Sized),
    sde: &dyn Sde<F>,
    x0: ArrayView2<F>,
    grid: &TimeGrid,
    noise: Noise,
    record: Record,
) -> Result<Solution<F>> {
    let seed = match noise {
        Noise::Seed(seed) => seed,
        Noise::Path(path) => {
            if path.grid() != grid {
                return Err(Error::Shape(
                    "the Wiener path lives on another grid than the solve".into(),
                ));
            }
            if path.shape() != x0.dim() {
                return Err(Error::Shape(format!(
                    "the Wiener path has {:?} (paths, dim), the initial state {:?}",
                    path.shape(),
                    x0.dim()
                )));
            }
            0
        }
    };
    drive(&SchemeStep { scheme, sde, noise }, x0, "x0", grid, seed, record)
}

/// An SDE scheme on an SDE with its noise source: one [`Step`] of the driver loop. Its memory is
/// the chunk's buffer of Wiener increments.
struct SchemeStep<'a, F: Real, S: ?Sized> {
    scheme: &'a S,
    sde: &'a dyn Sde<F>,
    noise: Noise<'a>,
}

impl<F: Real, S: SdeScheme<F> + ?Sized> Step<F> for SchemeStep<'_, F, S> {
    type Memory = Array2<F>;

    fn name(&self) -> String {
        self.scheme.name().to_string()
    }

    fn advance(
        &self,
        x: &mut Array2<F>,
        k: usize,
        t: f64,
        dt: f64,
        chunk: &mut Chunk,
        dw: &mut Array2<F>,
    ) -> Result<usize> {
        if dw.dim() != x.dim() {
            *dw = Array2::zeros(x.dim());
        }
        match self.noise {
            Noise::Path(path) => dw.assign(&path.increment(k, chunk.rows.clone()).mapv(F::of)),
            Noise::Seed(_) => {
                let z = dw.as_slice_mut().expect("a new array is contiguous");
                F::fill_normals(&mut chunk.rng, z);
                let h = F::of(dt.abs().sqrt());
                z.iter_mut().for_each(|z| *z = *z * h);
            }
        }
        self.scheme.step_in_place(self.sde, x, t, dt, dw.view())?;
        Ok(self.scheme.evals_per_step())
    }
}
