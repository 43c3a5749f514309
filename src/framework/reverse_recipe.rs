//! Reverse-time VP samplers as the seeds write them, defect by defect (seed 000 §4.3.2 and A.6).
//!
//! The VP SDE `dx = −½β(t)x dt + √β(t) dW` reversed, in the reverse time `τ = 1 − t`
//! (positive steps `Δτ = 1/N`), is `dx = [½βx + βs] dτ + √β dW̄`. Seed 000 §4.3.2 writes
//! `dx = −½β s dt + √β dW̄`: no `−½βx` and the PF-ODE's ½ with the SDE's full noise. Seed 000 A.6
//! steps `x ← x − ½β_i s Δt + √(β_i Δt) z` forward with `Δt > 0` while `t` decreases: no `−½βx`,
//! the score's sign flipped and halved, and the per-step `β_i = β(t)Δt` used as the rate
//! (`β_i Δt = β(t)Δt²`). Seed 004 obtains the PF-ODE by deleting the noise, keeping the full
//! score (the ½ is missing). A [`ReverseRecipe`] holds the four knobs, so each defect can be
//! switched on alone:
//!
//! `x ← x + (x_drift · ½β x + score_coef · β s) h + noise · √(β h) z`, `β = rate_scale · β(t)`, `h = Δτ`.
//!
//! For Gaussian data `N(0, v₀)` the exact score is `−x/v_t`, `v_t = ᾱ(t)v₀ + 1 − ᾱ(t)`, and the
//! recipe is a linear recursion: [`ReverseRecipe::output_variance`] is the exact variance of its
//! output from `x_1 ~ N(0, v_1)`; [`ReverseRecipe::simulate`] runs the particles.

use ndarray::Array1;

use crate::error::{invalid, positive, Result};
use crate::rng;
use crate::sde_basics::{ForwardSde, VpSde};

/// The coefficients of one reverse-time Euler–Maruyama recipe (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseRecipe {
    /// Multiplies the `½βx` term (1: present, 0: dropped).
    pub x_drift: f64,
    /// Multiplies `β s` (1: reverse SDE; ½: the PF-ODE's coefficient; −½: A.6's sign).
    pub score_coef: f64,
    /// Multiplies the rate `β(t)` (1; `1/N` when the per-step `β_i` is used as the rate).
    pub rate_scale: f64,
    /// Multiplies the noise `√(βh) z` (1: an SDE; 0: an ODE).
    pub noise: f64,
}

impl ReverseRecipe {
    /// The reverse SDE, Euler–Maruyama in reverse time.
    pub const CORRECT: Self = Self { x_drift: 1.0, score_coef: 1.0, rate_scale: 1.0, noise: 1.0 };
    /// The probability-flow ODE, Euler in reverse time: half the score, no noise.
    pub const PF_ODE: Self = Self { x_drift: 1.0, score_coef: 0.5, rate_scale: 1.0, noise: 0.0 };
    /// Seed 000 §4.3.2: `dx = −½β s dt + √β dW̄` (no `−½βx`, ½ with full noise).
    pub const SEED_4_3_2: Self = Self { x_drift: 0.0, score_coef: 0.5, rate_scale: 1.0, noise: 1.0 };
    /// Seed 004 §3: "the PF-ODE is the reverse SDE with the noise term removed" — full score, no noise.
    pub const NOISE_REMOVED: Self = Self { x_drift: 1.0, score_coef: 1.0, rate_scale: 1.0, noise: 0.0 };
    /// Seed 004 §4's `probability_flow` step `x + (f − ½g²s) dt` called with `dt > 0` while `t`
    /// decreases: in reverse time both terms change sign.
    pub const SEED_004_POSITIVE_DT: Self = Self { x_drift: -1.0, score_coef: -0.5, rate_scale: 1.0, noise: 0.0 };

    /// Seed 000 A.6's `sample_sde` with `steps` steps: no `−½βx`, score term `−½β s`, rate `β_i = β/N`.
    pub fn seed_a6(steps: usize) -> Self {
        Self { x_drift: 0.0, score_coef: -0.5, rate_scale: 1.0 / steps as f64, noise: 1.0 }
    }

    /// `(time t, β, factor a, added variance)` of each step `x ← a x + √var z` for data `N(0, v₀)`.
    fn steps(&self, sde: &VpSde, v0: f64, steps: usize) -> Result<Vec<(f64, f64)>> {
        positive("v0", v0)?;
        if steps == 0 {
            return invalid("steps", steps, "must be at least 1");
        }
        let h = 1.0 / steps as f64;
        (0..steps)
            .map(|i| {
                let t = 1.0 - i as f64 * h;
                let (m, s) = sde.marginal_mean_std(t)?;
                let v_t = m * m * v0 + s * s;
                let beta = self.rate_scale * sde.beta(t);
                let a = 1.0 + (self.x_drift * 0.5 * beta - self.score_coef * beta / v_t) * h;
                Ok((a, self.noise * self.noise * beta * h))
            })
            .collect()
    }

    /// Exact variance of the output for data `N(0, v₀)` and the exact score, from `x_1 ~ N(0, v_1)`.
    pub fn output_variance(&self, sde: &VpSde, v0: f64, steps: usize) -> Result<f64> {
        let (m, s) = sde.marginal_mean_std(1.0)?;
        let start = m * m * v0 + s * s;
        Ok(self.steps(sde, v0, steps)?.iter().fold(start, |v, (a, var)| a * a * v + var))
    }

    /// `n` particles run through the recipe (1-D), from `x_1 ~ N(0, v_1)`, seeded.
    pub fn simulate(&self, sde: &VpSde, v0: f64, steps: usize, n: usize, seed: u64) -> Result<Array1<f64>> {
        let (m, s) = sde.marginal_mean_std(1.0)?;
        let mut rng = rng::seeded(seed);
        let mut x = rng::normals(&mut rng, n, 1).column(0).mapv(|z| z * (m * m * v0 + s * s).sqrt());
        for (a, var) in self.steps(sde, v0, steps)? {
            let z = rng::normals(&mut rng, n, 1);
            x = x * a + &(z.column(0).to_owned() * var.sqrt());
        }
        Ok(x)
    }
}
