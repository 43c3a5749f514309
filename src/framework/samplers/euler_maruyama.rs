//! Reverse-SDE Euler–Maruyama (seed 001 §3.2.2 "经验逆向时间 SDE", seed 000 §2.2.2):
//! `x ← x − [f(x,t) − g² s(x,t)] Δt + g √Δt z` from `T` down to `ε`: chapter 2's
//! [`EulerMaruyama`] step on the [`ReverseSde`] of the forward SDE.

use ndarray::{Array2, ArrayView2};

use super::{History, Model, Sampler, Schedule};
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, ReverseSde, TimeGrid};
use crate::solvers::{EulerMaruyama, SdeScheme};
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

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    /// Chapter 2's [`EulerMaruyama`] step on the [`ReverseSde`], `ΔW = √|Δt| z`.
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let dt = t_next - t;
        let (n, d) = x.dim();
        let dw = rng::normals(rng, n, d) * dt.abs().sqrt();
        let reverse = ReverseSde::new(model.sde, model.score);
        Ok((EulerMaruyama.step(&reverse, x, t, dt, dw.view())?, 1))
    }
}
