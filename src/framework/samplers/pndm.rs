//! Pseudo numerical methods (PNDM, Liu et al. 2022; seed 000 §2.5.3): classical multistep and
//! Runge–Kutta formulas applied not to the ODE's velocity but through the DDIM *transfer*
//! `φ(x, ε, t → s) = (α_s/α_t)(x − σ_t ε) + σ_s ε` (DDIM's η = 0 step given a noise estimate
//! `ε = −σ_t s(x, t)`), which keeps every step on the data manifold:
//!
//! - PLMS: `ε' = (55 ε_0 − 59 ε_1 + 37 ε_2 − 9 ε_3)/24` (Adams–Bashforth 4 on the newest four
//!   noise estimates, fewer while the history is short: `(3ε_0 − ε_1)/2`, `(23ε_0 − 16ε_1 +
//!   5ε_2)/12`), then `x ← φ(x, ε', t → s)`; its first step is a pseudo-Heun step
//!   `ε' = (ε(x, t) + ε(φ(x, ε(x,t)), s))/2` (2 NFE), as diffusers' `PNDMScheduler` with
//!   `skip_prk_steps=True`;
//! - F-PNDM: the first three steps pseudo Runge–Kutta 4 (`ε' = (e_1 + 2e_2 + 2e_3 + e_4)/6`
//!   with the three inner transfers to the midpoint and the end, 4 NFE), then PLMS with
//!   1 NFE per step.
//!
//! Only the first evaluation of each warm-start step enters the history, as in diffusers.
//! `tests/samplers_pndm.rs` compares both with diffusers on the VP SDE (the schedule
//! `Schedule::new(N).from(t_0).to(10⁻³).to_zero()` is diffusers' "leading" timesteps with
//! `set_alpha_to_one=True`).

use ndarray::{Array2, ArrayView2};

use super::{History, Model, Sampler, Schedule};
use crate::rng::Rng;
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// How PNDM starts its multistep history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmStart {
    /// PLMS: one pseudo-Heun step (2 NFE).
    Heun,
    /// F-PNDM: three pseudo Runge–Kutta steps (4 NFE each).
    RungeKutta,
}

/// PNDM: PLMS or F-PNDM.
#[derive(Debug, Clone, PartialEq)]
pub struct Pndm {
    /// The warm start.
    pub warm_start: WarmStart,
    /// The time grid.
    pub schedule: Schedule,
}

impl Pndm {
    /// PLMS on `steps` uniform steps from `T` to `ε`.
    pub fn plms(steps: usize) -> Self {
        Self {
            warm_start: WarmStart::Heun,
            schedule: Schedule::new(steps),
        }
    }

    /// F-PNDM on `steps` uniform steps from `T` to `ε`.
    pub fn f_pndm(steps: usize) -> Self {
        Self {
            warm_start: WarmStart::RungeKutta,
            schedule: Schedule::new(steps),
        }
    }
}

/// `ε = −σ_t s(x, t)`.
fn noise(model: Model, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
    let (_, s) = model.sde.marginal_mean_std(t)?;
    Ok(model.score.score(x, t)? * -s)
}

/// The DDIM transfer `φ(x, ε, t → s)`.
fn transfer(model: Model, x: ArrayView2<f64>, e: &Array2<f64>, t: f64, s: f64) -> Result<Array2<f64>> {
    let (a_t, s_t) = model.sde.marginal_mean_std(t)?;
    let (a_s, s_s) = model.sde.marginal_mean_std(s)?;
    Ok((&x - &(e * s_t)) * (a_s / a_t) + e * s_s)
}

impl Sampler for Pndm {
    fn name(&self) -> String {
        let m = match self.warm_start {
            WarmStart::Heun => "PLMS",
            WarmStart::RungeKutta => "F-PNDM",
        };
        format!("{m}, {} steps", self.schedule.steps)
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    /// The transfer lands on `σ = 0` itself.
    fn lands_on_zero(&self) -> bool {
        true
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        _rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let e = noise(model, x, t)?;
        let done = history.evaluations.len();
        match self.warm_start {
            WarmStart::Heun if done == 0 => {
                let x1 = transfer(model, x, &e, t, t_next)?;
                let e1 = noise(model, x1.view(), t_next)?;
                let mean = (&e + &e1) * 0.5;
                history.evaluations.push((t, e));
                return Ok((transfer(model, x, &mean, t, t_next)?, 2));
            }
            WarmStart::RungeKutta if done < 3 => {
                let mid = 0.5 * (t + t_next);
                let x1 = transfer(model, x, &e, t, mid)?;
                let e2 = noise(model, x1.view(), mid)?;
                let x2 = transfer(model, x, &e2, t, mid)?;
                let e3 = noise(model, x2.view(), mid)?;
                let x3 = transfer(model, x, &e3, t, t_next)?;
                let e4 = noise(model, x3.view(), t_next)?;
                let prime = (&e + &(e2 * 2.0) + &(e3 * 2.0) + e4) / 6.0;
                history.evaluations.push((t, e));
                return Ok((transfer(model, x, &prime, t, t_next)?, 4));
            }
            _ => {}
        }
        history.evaluations.push((t, e));
        if history.evaluations.len() > 4 {
            history.evaluations.remove(0);
        }
        let h: Vec<&Array2<f64>> = history.evaluations.iter().rev().map(|(_, e)| e).collect();
        let prime = match h.len() {
            1 => h[0].clone(),
            2 => (h[0] * 3.0 - h[1]) / 2.0,
            3 => (h[0] * 23.0 - &(h[1] * 16.0) + &(h[2] * 5.0)) / 12.0,
            _ => (h[0] * 55.0 - &(h[1] * 59.0) + &(h[2] * 37.0) - &(h[3] * 9.0)) / 24.0,
        };
        Ok((transfer(model, x, &prime, t, t_next)?, 1))
    }
}
