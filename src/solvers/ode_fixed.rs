//! Fixed-step ODE solvers (seed 000 §2.1.1, §2.4): explicit Euler, Heun and classical RK4,
//! and [`solve_ode`], the one loop that runs any [`OdeStepper`] over a [`TimeGrid`].
//!
//! The implicit backward Euler ([`super::implicit`]), the symplectic Störmer–Verlet
//! ([`super::symplectic`]) and the fixed-step Dormand–Prince ([`super::adaptive`]) are
//! steppers too, so every method runs through the same loop. Like the SDE loop
//! ([`super::sde::solve`]) it splits the batch into chunks of
//! [`CHUNK_ROWS`](super::sde::CHUNK_ROWS) particles and runs them in parallel: a system must
//! treat the rows of its batch as independent particles (every [`OdeSystem`] of the crate
//! does: probability-flow ODEs with analytic or learned scores, the test problems).

use ndarray::{concatenate, s, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::ode::OdeSystem;
use super::sde::{Record, CHUNK_ROWS};
use super::TimeGrid;
use crate::error::{invalid, Error};
use crate::Result;

/// One step of a one-step ODE method; [`solve_ode`] supplies the loop.
///
/// Generic over the system type so that methods which need more structure than a
/// right-hand side (Störmer–Verlet needs a separable Hamiltonian) still share the loop.
pub trait OdeStepper<S: OdeSystem + ?Sized>: Sync {
    /// Name for tables and plots.
    fn name(&self) -> &'static str;

    /// The order `p` of the global error `O(hᵖ)` on smooth problems.
    fn order(&self) -> u32;

    /// The state at `t + h` from `x` at `t` (`h` may be negative), and the number of
    /// right-hand-side evaluations per particle it took.
    fn step(&self, system: &S, x: ArrayView2<f64>, t: f64, h: f64) -> Result<(Array2<f64>, usize)>;
}

/// The recorded states of a fixed-step ODE solve.
#[derive(Debug, Clone)]
pub struct OdeSolution {
    /// Times of the recorded states.
    pub times: Vec<f64>,
    /// One `n × d` state per recorded time.
    pub states: Vec<Array2<f64>>,
    /// Right-hand-side evaluations per particle (network function evaluations).
    pub nfe: usize,
}

impl OdeSolution {
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

/// Explicit Euler (seed 000 §2.1.1): `x ← x + h F(x, t)`. Global error `O(h)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Euler;

impl<S: OdeSystem + ?Sized> OdeStepper<S> for Euler {
    fn name(&self) -> &'static str {
        "Euler"
    }

    fn order(&self) -> u32 {
        1
    }

    fn step(&self, system: &S, x: ArrayView2<f64>, t: f64, h: f64) -> Result<(Array2<f64>, usize)> {
        let mut next = system.rhs(x, t)? * h;
        next += &x;
        Ok((next, 1))
    }
}

/// Heun's method (explicit trapezoid): `x̃ = x + h F(x, t)`,
/// `x ← x + h/2 [F(x, t) + F(x̃, t + h)]`. Global error `O(h²)`; the deterministic part of
/// the seed's stochastic Runge–Kutta scheme (seed 000 §2.1.2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Heun;

impl<S: OdeSystem + ?Sized> OdeStepper<S> for Heun {
    fn name(&self) -> &'static str {
        "Heun"
    }

    fn order(&self) -> u32 {
        2
    }

    fn step(&self, system: &S, x: ArrayView2<f64>, t: f64, h: f64) -> Result<(Array2<f64>, usize)> {
        let k1 = system.rhs(x, t)?;
        let predictor = &x + &(&k1 * h);
        let k2 = system.rhs(predictor.view(), t + h)?;
        Ok((&x + &((k1 + k2) * (0.5 * h)), 2))
    }
}

/// The classical fourth-order Runge–Kutta method (seed 000 §2.1.1):
/// `x ← x + h/6 (k₁ + 2k₂ + 2k₃ + k₄)`. Global error `O(h⁴)`.
///
/// Its stability region is bounded (it reaches only to `hλ ≈ −2.79` on the real axis), so —
/// unlike what the seed says — it is *not* suited to stiff problems; see [`super::implicit`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Rk4;

impl<S: OdeSystem + ?Sized> OdeStepper<S> for Rk4 {
    fn name(&self) -> &'static str {
        "RK4"
    }

    fn order(&self) -> u32 {
        4
    }

    fn step(&self, system: &S, x: ArrayView2<f64>, t: f64, h: f64) -> Result<(Array2<f64>, usize)> {
        let k1 = system.rhs(x, t)?;
        let k2 = system.rhs((&x + &(&k1 * (0.5 * h))).view(), t + 0.5 * h)?;
        let k3 = system.rhs((&x + &(&k2 * (0.5 * h))).view(), t + 0.5 * h)?;
        let k4 = system.rhs((&x + &(&k3 * h)).view(), t + h)?;
        let mut incr = k1 + &k4;
        incr.scaled_add(2.0, &k2);
        incr.scaled_add(2.0, &k3);
        Ok((&x + &(incr * (h / 6.0)), 4))
    }
}

/// Integrates `system` with `stepper` over `grid` from the batch `x0` (`n × d`), keeping the
/// states `record` asks for (only the last one with [`Record::Final`], seed 000 §2.4.2).
///
/// Errors on an empty or non-finite `x0`, and — naming the step and the time — as soon as
/// a state leaves the finite range (an explicit method beyond its stability limit).
pub fn solve_ode<S, M>(
    stepper: &M,
    system: &S,
    x0: ArrayView2<f64>,
    grid: &TimeGrid,
    record: Record,
) -> Result<OdeSolution>
where
    S: OdeSystem + ?Sized,
    M: OdeStepper<S> + ?Sized,
{
    let (n, d) = x0.dim();
    if n == 0 || d == 0 {
        return invalid(
            "x0.shape",
            format!("{n}×{d}"),
            "need at least one particle and one dimension",
        );
    }
    crate::error::all_finite("the initial state x0", x0.iter())?;
    let keep = record.indices(grid.steps())?;

    let chunks: Vec<(Vec<Array2<f64>>, usize)> = (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n);
            solve_chunk(stepper, system, x0.slice(s![rows, ..]), grid, &keep)
        })
        .collect::<Result<_>>()?;

    let states = (0..keep.len())
        .map(|r| {
            let parts: Vec<ArrayView2<f64>> = chunks.iter().map(|(ch, _)| ch[r].view()).collect();
            concatenate(Axis(0), &parts).expect("chunks share their column count")
        })
        .collect();
    Ok(OdeSolution {
        times: keep.iter().map(|&k| grid.times()[k]).collect(),
        states,
        // Per particle: the chunk that needed the most (implicit methods iterate).
        nfe: chunks.iter().map(|(_, nfe)| *nfe).max().unwrap_or(0),
    })
}

fn solve_chunk<S, M>(
    stepper: &M,
    system: &S,
    x0: ArrayView2<f64>,
    grid: &TimeGrid,
    keep: &[usize],
) -> Result<(Vec<Array2<f64>>, usize)>
where
    S: OdeSystem + ?Sized,
    M: OdeStepper<S> + ?Sized,
{
    let mut x = x0.to_owned();
    let mut nfe = 0;
    let mut kept = Vec::with_capacity(keep.len());
    let mut next_keep = keep.iter().peekable();
    if next_keep.peek() == Some(&&0) {
        kept.push(x.clone());
        next_keep.next();
    }
    for k in 0..grid.steps() {
        let (t, h) = grid.step(k);
        let (next, evals) = stepper.step(system, x.view(), t, h)?;
        x = next;
        nfe += evals;
        if !x.iter().all(|v| v.is_finite()) {
            return Err(Error::Numerical(format!(
                "{} left the finite range at step {} of {} (t = {:.6} → {:.6}); the step size {:.3e} may be beyond its stability limit",
                stepper.name(),
                k + 1,
                grid.steps(),
                t,
                t + h,
                h.abs()
            )));
        }
        if next_keep.peek() == Some(&&(k + 1)) {
            kept.push(x.clone());
            next_keep.next();
        }
    }
    Ok((kept, nfe))
}
