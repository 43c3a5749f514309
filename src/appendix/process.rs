//! Seed 000 A.2–A.3 and A.6 as written: the three β schedules, the discrete forward process
//! `ᾱ_i = ∏_{j≤i}(1 − β_j)` on a 1000-point grid, and the appendix's own reverse update.
//!
//! The seed's `ForwardProcess` is a discrete DDPM chain; [`DiscreteVp`] exposes it through
//! [`ForwardSde`] so that the crate's one DSM loop trains on it unchanged: the kernel at time
//! `t` is the one of step `i = ⌊t·T⌋` (`t = i/T` exactly on the training grid), and its SDE
//! is the consistent continuous reading `β(t) = β_i·T` (the per-step β is a rate times
//! `Δt = 1/T`).
//!
//! The seed's A.6 sampler reads instead `x ← x − ½ β_i s Δt + √(β_i Δt) z` with `Δt = 1/T`
//! and `β_i` the *per-step* value: a rate `T` times too small, and no `−½β x` term.
//! [`AsWrittenReverse`] is that update as an [`Sde`], so it runs in the crate's one SDE loop
//! (`solvers::sde::solve` with Euler–Maruyama on the grid `1, 1 − 1/T, …, 0`).

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, ArrayView2};

use crate::error::invalid;
use crate::framework::ForwardSde;
use crate::sde_basics::{Diffusion, Score, Sde};
use crate::{Error, Result};

/// The seed's `beta_start`.
pub const BETA_START: f64 = 1e-4;
/// The seed's `beta_end`.
pub const BETA_END: f64 = 0.02;
/// The seed's `T`: grid points of the discrete process and sampler steps.
pub const SEED_T: usize = 1000;

/// Seed 000 A.2's noise schedules `β(t)`, `t ∈ [0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BetaSchedule {
    /// `β_start + (β_end − β_start) t`.
    Linear,
    /// `β_start + (β_end − β_start) cos²(πt/2)` — *decreasing* from `β_end` to `β_start`
    /// (it is not Nichol & Dhariwal's cosine schedule, which is defined through `ᾱ`).
    Cosine,
    /// `β_start (β_end/β_start)^t`.
    Exponential,
}

impl BetaSchedule {
    /// All three, in the seed's order.
    pub const ALL: [BetaSchedule; 3] = [
        BetaSchedule::Linear,
        BetaSchedule::Cosine,
        BetaSchedule::Exponential,
    ];

    /// `β(t)` with the seed's `β_start = 10⁻⁴`, `β_end = 0.02`.
    pub fn beta(self, t: f64) -> f64 {
        match self {
            BetaSchedule::Linear => BETA_START + (BETA_END - BETA_START) * t,
            BetaSchedule::Cosine => {
                BETA_START + (BETA_END - BETA_START) * (PI * t / 2.0).cos().powi(2)
            }
            BetaSchedule::Exponential => BETA_START * ((BETA_END / BETA_START).ln() * t).exp(),
        }
    }
}

impl fmt::Display for BetaSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BetaSchedule::Linear => "linear",
            BetaSchedule::Cosine => "cosine",
            BetaSchedule::Exponential => "exponential",
        })
    }
}

impl FromStr for BetaSchedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "linear" => Ok(BetaSchedule::Linear),
            "cosine" => Ok(BetaSchedule::Cosine),
            "exponential" => Ok(BetaSchedule::Exponential),
            other => invalid("schedule", other, "expected linear, cosine or exponential"),
        }
    }
}

/// Seed 000 A.3's `ForwardProcess`: `β_i = β(i/(T−1))` on `np.linspace(0, 1, T)`,
/// `ᾱ_i = ∏_{j≤i} (1 − β_j)`, `x_i = √ᾱ_i x_0 + √(1 − ᾱ_i) ε`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteVp {
    /// The schedule the grid was built from.
    pub schedule: BetaSchedule,
    /// `β_i`, `i = 0 … T−1`.
    pub betas: Vec<f64>,
    /// `ᾱ_i`.
    pub alpha_bar: Vec<f64>,
}

impl DiscreteVp {
    /// The process on `points` grid points (the seed: 1000).
    pub fn new(schedule: BetaSchedule, points: usize) -> Result<Self> {
        if points < 2 {
            return invalid("points (T)", points, "need at least 2 grid points");
        }
        let betas: Vec<f64> = (0..points)
            .map(|i| schedule.beta(i as f64 / (points - 1) as f64))
            .collect();
        let alpha_bar = betas
            .iter()
            .scan(1.0, |acc, b| {
                *acc *= 1.0 - b;
                Some(*acc)
            })
            .collect();
        Ok(Self {
            schedule,
            betas,
            alpha_bar,
        })
    }

    /// The seed's instance: A.3 builds `ForwardProcess(beta_schedule='cosine', T=1000)` and
    /// A.5/A.6 train and sample with that same object.
    pub fn seed() -> Self {
        Self::new(BetaSchedule::Cosine, SEED_T).expect("valid constants")
    }

    /// `T`.
    pub fn points(&self) -> usize {
        self.betas.len()
    }

    /// The training grid's step `⌊t·T⌋` for `t ∈ [0, 1]` (clamped to `T − 1`).
    pub fn train_index(&self, t: f64) -> usize {
        ((t * self.points() as f64).floor().max(0.0) as usize).min(self.points() - 1)
    }

    /// The seed's sampler index `int(t·(T−1))` (A.6: `forward_process.beta[int(t * (T - 1))]`).
    pub fn sampler_index(&self, t: f64) -> usize {
        ((t * (self.points() - 1) as f64).max(0.0) as usize).min(self.points() - 1)
    }

    /// The variance the as-written sampler injects in total, `Σ_i β_i Δt` with `Δt = 1/T`.
    pub fn as_written_injected_variance(&self) -> f64 {
        self.betas.iter().sum::<f64>() / self.points() as f64
    }

    /// The variance a consistent reverse process injects, `Σ_i β_i` (`= ∫ β(t) dt` with
    /// `β(t) = β_i T`); `ᾱ_{T−1} ≈ e^{−Σβ}`.
    pub fn consistent_injected_variance(&self) -> f64 {
        self.betas.iter().sum()
    }
}

impl Sde for DiscreteVp {
    /// `−½ β(t) x` with the rate `β(t) = β_{⌊tT⌋} T`.
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let rate = self.betas[self.train_index(t)] * self.points() as f64;
        Ok(&x * (-0.5 * rate))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(
            (self.betas[self.train_index(t)] * self.points() as f64).sqrt(),
        ))
    }
}

impl ForwardSde for DiscreteVp {
    /// `(√ᾱ_i, √(1 − ᾱ_i))` at `i = ⌊t·T⌋`.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        if !(0.0..=1.0).contains(&t) {
            return invalid("t", t, "the discrete process lives on [0, 1]");
        }
        let ab = self.alpha_bar[self.train_index(t)];
        Ok((ab.sqrt(), (1.0 - ab).sqrt()))
    }

    fn prior_std(&self) -> f64 {
        1.0
    }
}

/// Seed 000 A.6's `sample_sde` (`noise = true`) and `sample_ode` (`noise = false`) update
/// `x ← x − ½ β_{int(t(T−1))} s(x, t) Δt [+ √(β Δt) z]`, as an SDE for the reverse-time grid
/// `1 → 0` (Δt < 0 there, hence the `+` in the drift).
pub struct AsWrittenReverse<'a> {
    /// The discrete process whose `β_i` the sampler reads.
    pub process: &'a DiscreteVp,
    /// The score.
    pub score: &'a dyn Score,
    /// `sample_sde` (true) or `sample_ode` (false).
    pub noise: bool,
}

impl Sde for AsWrittenReverse<'_> {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let beta = self.process.betas[self.process.sampler_index(t)];
        Ok(self.score.score(x, t)? * (0.5 * beta))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        let beta = self.process.betas[self.process.sampler_index(t)];
        Ok(Diffusion::Scalar(if self.noise {
            beta.sqrt()
        } else {
            0.0
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_span_the_seed_values() {
        for s in BetaSchedule::ALL {
            let (a, b) = (s.beta(0.0), s.beta(1.0));
            let (lo, hi) = if s == BetaSchedule::Cosine {
                (b, a)
            } else {
                (a, b)
            };
            assert!(
                (lo - BETA_START).abs() < 1e-15 && (hi - BETA_END).abs() < 1e-15,
                "{s}"
            );
        }
        assert_eq!(
            "cosine".parse::<BetaSchedule>().unwrap(),
            BetaSchedule::Cosine
        );
        assert!("quadratic"
            .parse::<BetaSchedule>()
            .unwrap_err()
            .to_string()
            .contains("quadratic"));
    }

    /// The seed's sampler index at its times `t = 1 − i/T` is `T − 1 − i` (and `T − 1` at i = 0).
    #[test]
    fn sampler_reads_beta_backwards_one_per_step() {
        let p = DiscreteVp::seed();
        for i in 0..SEED_T {
            let t = 1.0 - i as f64 * (1.0 / SEED_T as f64);
            let want = if i == 0 { SEED_T - 1 } else { SEED_T - 1 - i };
            assert_eq!(p.sampler_index(t), want, "i = {i}");
        }
    }

    /// `Σ β_i Δt ≈ 0.01` for all three schedules (the mean of β is ≈ 0.01 or less), while
    /// `ᾱ_{T−1} = ∏(1 − β_i)` matches `exp(−Σ β_i)` to second order.
    #[test]
    fn injected_variance_is_about_a_hundredth() {
        for s in BetaSchedule::ALL {
            let p = DiscreteVp::new(s, SEED_T).unwrap();
            let v = p.as_written_injected_variance();
            assert!(v > 0.002 && v < 0.0102, "{s}: {v}");
            let sum = p.consistent_injected_variance();
            let sq: f64 = p.betas.iter().map(|b| b * b).sum();
            let ab = *p.alpha_bar.last().unwrap();
            assert!((ab.ln() + sum).abs() <= sq, "{s}: {} vs {}", ab.ln(), -sum);
        }
    }
}
