//! Fixed-step ODE solvers (seed 000 §2.1.1, §2.4): explicit Euler, Heun and classical RK4,
//! and [`solve_ode`], the one loop that runs any [`OdeStepper`] over a [`TimeGrid`].
//!
//! The implicit backward Euler ([`super::implicit`]), the symplectic Störmer–Verlet
//! ([`super::symplectic`]) and the fixed-step Dormand–Prince ([`super::adaptive`]) are
//! steppers too, so every method runs through the one driver loop ([`super::driver`]), which
//! splits the batch into chunks of particles run in parallel: a system must treat the rows of
//! its batch as independent particles (every [`OdeSystem`] of the crate does:
//! probability-flow ODEs with analytic or learned scores, the test problems).

use ndarray::{Array2, ArrayView2};

use super::driver::{drive, Chunk, Step};
use crate::sde_basics::{OdeSystem, Record, Solution, TimeGrid};
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

/// Integrates `system` with `stepper` over `grid` from the batch `x0` (`n × d`) through the one
/// driver loop ([`super::driver`]), keeping the states `record` asks for (only the last one with
/// [`Record::Final`], seed 000 §2.4.2).
///
/// Errors on an empty or non-finite `x0`, and — naming the step and the time — as soon as
/// a state leaves the finite range (an explicit method beyond its stability limit).
pub fn solve_ode<S, M>(
    stepper: &M,
    system: &S,
    x0: ArrayView2<f64>,
    grid: &TimeGrid,
    record: Record,
) -> Result<Solution>
where
    S: OdeSystem + ?Sized,
    M: OdeStepper<S> + ?Sized,
{
    drive(&Stepping { stepper, system }, x0, "x0", grid, 0, record)
}

/// A stepper on a system: one [`Step`] of the driver loop (no noise, no memory).
struct Stepping<'a, M: ?Sized, S: ?Sized> {
    stepper: &'a M,
    system: &'a S,
}

impl<S: OdeSystem + ?Sized, M: OdeStepper<S> + ?Sized> Step for Stepping<'_, M, S> {
    type Memory = ();

    fn name(&self) -> String {
        self.stepper.name().to_string()
    }

    fn advance(
        &self,
        x: &mut Array2<f64>,
        _k: usize,
        t: f64,
        h: f64,
        _chunk: &mut Chunk,
        _memory: &mut (),
    ) -> Result<usize> {
        let (next, evals) = self.stepper.step(self.system, x.view(), t, h)?;
        *x = next;
        Ok(evals)
    }
}
