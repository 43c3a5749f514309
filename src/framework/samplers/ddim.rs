//! DDIM with stochasticity `η` and DDPM ancestral sampling (seed 002 §3.1–3.2), written for
//! any forward SDE with kernel `N(α_t x_0, σ_t² I)` (DDPM's `ᾱ_t` is `α_t²`, `1 − ᾱ_t` is
//! `σ_t²`). From `t` to `s < t`, with the data and noise predictions of the score,
//! `x̂_0 = (x + σ_t² s_θ)/α_t` and `ε̂ = −σ_t s_θ`:
//!
//! ```text
//! c   = η (σ_s/σ_t) √(σ_t² − (α_t/α_s)² σ_s²)
//! x_s = α_s x̂_0 + √(σ_s² − c²) ε̂ + c z.
//! ```
//!
//! `η = 0` is deterministic DDIM (a first-order solver of the PF-ODE in `λ = log α/σ`);
//! `η = 1` is DDPM's ancestral step: `x_s` drawn from the Gaussian posterior
//! `q(x_s | x_t, x̂_0)`, the mean and variance of seed 002's `ddpm_sample`.
//! (Seed 002's listing mixes `α` and `ᾱ` in the posterior mean; this is the posterior
//! itself; [`crate::framework::listings`] runs the listing as written.) One NFE per step.

use ndarray::{Array2, ArrayView2};

use super::{History, Model, Sampler, Schedule};
use crate::error::invalid;
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// DDIM with `η ∈ [0, 1]`; `η = 1` is DDPM ancestral sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct Ddim {
    /// The time grid (DDPM/DDIM use evenly strided timesteps: [`super::Spacing::Uniform`]).
    pub schedule: Schedule,
    /// `0` deterministic, `1` ancestral.
    pub eta: f64,
}

impl Ddim {
    /// DDIM with `eta` on `steps` uniform steps from `T` to `ε = 10⁻³`.
    pub fn new(eta: f64, steps: usize) -> Self {
        Self {
            schedule: Schedule::new(steps),
            eta,
        }
    }

    /// DDPM ancestral sampling: `η = 1`.
    pub fn ddpm_ancestral(steps: usize) -> Self {
        Self::new(1.0, steps)
    }
}

impl Ddim {
    /// The step from `t` to `t_next` without its noise: `(α_s x̂_0 + √(σ_s² − c²) ε̂, c)`, the
    /// mean and the std of `x_s` (at `η = 1` DDPM's posterior mean and `√β̃`; 1 NFE).
    pub fn mean_std(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
    ) -> Result<(Array2<f64>, f64)> {
        let (a_t, s_t) = model.sde.marginal_mean_std(t)?;
        let (a_s, s_s) = model.sde.marginal_mean_std(t_next)?;
        let x0 = model.denoise(x, t)?;
        let eps = (&x - &(&x0 * a_t)) / s_t;
        let ratio = a_t / a_s;
        let c = self.eta * (s_s / s_t) * (s_t * s_t - ratio * ratio * s_s * s_s).max(0.0).sqrt();
        Ok((x0 * a_s + eps * (s_s * s_s - c * c).max(0.0).sqrt(), c))
    }
}

impl Sampler for Ddim {
    fn name(&self) -> String {
        if self.eta == 1.0 {
            format!("DDPM ancestral, {} steps", self.schedule.steps)
        } else {
            format!("DDIM η={}, {} steps", self.eta, self.schedule.steps)
        }
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.eta) {
            return invalid("eta", self.eta, "must lie in [0, 1]");
        }
        Ok(())
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let (mut next, c) = self.mean_std(model, x, t, t_next)?;
        if c > 0.0 {
            let (n, d) = x.dim();
            next.scaled_add(c, &rng::normals(rng, n, d));
        }
        Ok((next, 1))
    }
}

