//! Fixed-step solvers of the probability-flow ODE `dx/dt = f − ½ g² s` (seed 001 §3.1.4,
//! §3.2.2 "经验 PF-ODE"; seed 000 §2.2.3, §2.5.1) from `T` down to `ε`:
//!
//! - Euler: `x ← x + F(x, t) Δt` (the seed's update, `Δt < 0`), 1 NFE per step;
//! - Heun (explicit trapezoid): predictor `x̃ = x + F(x,t) Δt`, then
//!   `x ← x + ½ [F(x,t) + F(x̃, t+Δt)] Δt`, 2 NFE per step, second order.
//!
//! Integration note: these steps run in the samplers' loop; when chapter 2's
//! `solvers::solve_ode(stepper, system, x0, grid, record)` lands, `PfOde::sample` should call it
//! with the [`ProbabilityFlow`] system instead.

use ndarray::{Array2, ArrayView2};

use super::steps::{run, History, Model, ReverseStep};
use super::{Sampler, Schedule};
use crate::framework::ForwardSde;
use crate::rng::Rng;
use crate::sde_basics::{ProbabilityFlow, Score};
use crate::solvers::{OdeSystem, Record, SdeSolution, TimeGrid};
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

impl ReverseStep for PfOde {
    fn name(&self) -> String {
        Sampler::name(self)
    }

    fn evals_per_step(&self) -> usize {
        match self.method {
            PfMethod::Euler => 1,
            PfMethod::Heun => 2,
        }
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        _rng: &mut Rng,
    ) -> Result<Array2<f64>> {
        let flow = ProbabilityFlow::new(model.sde, model.score);
        let dt = t_next - t;
        let k1 = flow.rhs(x, t)?;
        let euler = &x + &(&k1 * dt);
        match self.method {
            PfMethod::Euler => Ok(euler),
            PfMethod::Heun => {
                let k2 = flow.rhs(euler.view(), t_next)?;
                Ok(&x + &((k1 + k2) * (0.5 * dt)))
            }
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
) -> Result<SdeSolution> {
    let stepper = PfOde {
        method,
        schedule: Schedule::new(grid.steps()),
    };
    run(&stepper, Model { sde, score }, x0, grid, 0, record)
}

impl Sampler for PfOde {
    fn name(&self) -> String {
        let m = match self.method {
            PfMethod::Euler => "Euler",
            PfMethod::Heun => "Heun",
        };
        format!("PF-ODE {m}, {} steps", self.schedule.steps)
    }

    fn span(&self, sde: &dyn ForwardSde) -> Result<(f64, f64)> {
        self.schedule.span(sde)
    }

    fn sample(
        &self,
        sde: &dyn ForwardSde,
        score: &dyn Score,
        x_start: ArrayView2<f64>,
        seed: u64,
        record: Record,
    ) -> Result<SdeSolution> {
        let grid = self.schedule.grid(sde)?;
        run(self, Model { sde, score }, x_start, &grid, seed, record)
    }
}
