//! Fixed-step solvers of the probability-flow ODE `dx/dt = f − ½ g² s` (seed 001 §3.1.4,
//! §3.2.2 "经验 PF-ODE"; seed 000 §2.2.3, §2.5.1) from `T` down to `ε`:
//!
//! - Euler: `x ← x + F(x, t) Δt` (the seed's update, `Δt < 0`), 1 NFE per step;
//! - Heun (explicit trapezoid): predictor `x̃ = x + F(x,t) Δt`, then
//!   `x ← x + ½ [F(x,t) + F(x̃, t+Δt)] Δt`, 2 NFE per step, second order.
//!
//! Both are chapter 2's steppers ([`Euler`], [`Heun`]) on the [`ProbabilityFlow`] system.

use ndarray::{Array2, ArrayView2};

use super::{History, Model, Sampler, Schedule};
use crate::rng::Rng;
use crate::sde_basics::{ForwardSde, ProbabilityFlow, Record, Score, Solution, TimeGrid};
use crate::solvers::{solve_ode, Euler, Heun, OdeStepper};
use crate::Result;

/// The fixed-step ODE method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PfMethod {
    /// Explicit Euler, order 1.
    Euler,
    /// Heun's method, order 2.
    Heun,
}

/// The PF-ODE solved with a fixed-step method.
#[derive(Debug, Clone, PartialEq)]
pub struct PfOde {
    /// Euler or Heun.
    pub method: PfMethod,
    /// The time grid.
    pub schedule: Schedule,
}

impl PfOde {
    /// `method` with `steps` uniform steps from `T` to `ε = 10⁻³`.
    pub fn new(method: PfMethod, steps: usize) -> Self {
        Self {
            method,
            schedule: Schedule::new(steps),
        }
    }
}

/// The PF-ODE of `sde` with `score` integrated with `method` over any grid — decreasing
/// (sampling, `T → ε`) or increasing (encoding data into latents, `0 → T`): unlike an SDE,
/// the ODE runs both ways (seed 001 §3.1.4, advantage (1); §3.2.2 "逆映射").
pub fn solve(
    method: PfMethod,
    sde: &dyn ForwardSde,
    score: &dyn Score,
    x0: ArrayView2<f64>,
    grid: &TimeGrid,
    record: Record,
) -> Result<Solution> {
    let flow = ProbabilityFlow::new(sde, score);
    match method {
        PfMethod::Euler => solve_ode(&Euler, &flow, x0, grid, record),
        PfMethod::Heun => solve_ode(&Heun, &flow, x0, grid, record),
    }
}

impl Sampler for PfOde {
    fn name(&self) -> String {
        let m = match self.method {
            PfMethod::Euler => "Euler",
            PfMethod::Heun => "Heun",
        };
        format!("PF-ODE {m}, {} steps", self.schedule.steps)
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    /// Chapter 2's [`Euler`] or [`Heun`] step on the [`ProbabilityFlow`] system.
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        _rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let flow = ProbabilityFlow::new(model.sde, model.score);
        let h = t_next - t;
        match self.method {
            PfMethod::Euler => Euler.step(&flow, x, t, h),
            PfMethod::Heun => Heun.step(&flow, x, t, h),
        }
    }
}
