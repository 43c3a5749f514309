//! Reverse-SDE Euler–Maruyama (seed 001 §3.2.2 "经验逆向时间 SDE", seed 000 §2.2.2):
//! `x ← x − [f(x,t) − g² s(x,t)] Δt + g √Δt z` from `T` down to `ε`. It runs the crate's one
//! SDE loop ([`crate::solvers::sde::solve`]) on the [`ReverseSde`] of the forward SDE.

use ndarray::ArrayView2;

use super::{Sampler, Schedule};
use crate::framework::ForwardSde;
use crate::sde_basics::{ReverseSde, Score};
use crate::solvers::{EulerMaruyama, Noise, Record, SdeScheme, SdeSolution};
use crate::Result;

/// Euler–Maruyama on the reverse-time SDE.
#[derive(Debug, Clone, PartialEq)]
pub struct ReverseEulerMaruyama {
    /// The time grid.
    pub schedule: Schedule,
}

impl ReverseEulerMaruyama {
    /// `steps` uniform steps from `T` to `ε = 10⁻³`.
    pub fn new(steps: usize) -> Self {
        Self {
            schedule: Schedule::new(steps),
        }
    }
}

impl Sampler for ReverseEulerMaruyama {
    fn name(&self) -> String {
        format!("reverse-SDE Euler–Maruyama, {} steps", self.schedule.steps)
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
        EulerMaruyama.solve(
            &ReverseSde::new(sde, score),
            x_start,
            &grid,
            Noise::Seed(seed),
            record,
        )
    }
}
