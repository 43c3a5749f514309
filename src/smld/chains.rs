//! The discrete SMLD (NCSN) chain and its continuous limit, the VE SDE (seed 000 §3.2–§3.4,
//! seed 001 §3.1.1).
//!
//! With `N` levels at `t_i = i/N` of a [`VeSde`] and noise variances `v_i = σ(t_i)² − σ_min²`
//! (`v_0 = 0`: the data),
//!
//! - forward: `x_i = x_{i−1} + √β_i ε_i`, `β_i = v_i − v_{i−1} = σ(t_i)² − σ(t_{i−1})²`,
//!   so that `x_i ~ p_{t_i}` exactly, for any `N`;
//! - reverse: `x_{i−1} = x_i + β_i s(x_i, t_i) + √β_i η_i` (a **plus**: erratum (a), seed 000
//!   §3.2.2 writes `− β_i s`).
//!
//! As `N → ∞`, `β_i / Δt → dσ²/dt = g(t)²`: the chain becomes `dx = g dW`, the VE SDE, and the
//! reverse chain its reverse SDE `dx = −g² s dt + g dW̄` (seed 000 §3.3.2–§3.3.3).
//!
//! Both chains are Euler–Maruyama for `dx = dW_τ` on the grid `τ_i = v_i`: the VE SDE on its
//! own variance clock `τ = σ(t)² − σ_min²`, where Euler–Maruyama is exact for the forward chain.
//! So they run in the crate's one SDE loop.

use ndarray::{Array2, ArrayView2};

use crate::error::invalid;
use crate::sde_basics::VeSde;
use crate::sde_basics::{Diffusion, ReverseSde, Score, Sde};
use crate::solvers::{EulerMaruyama, Noise, Record, SdeScheme, Solution, TimeGrid};
use crate::Result;

/// The SMLD chain with `N` noise levels of a VE SDE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmldChain {
    /// The VE SDE whose levels the chain visits.
    pub ve: VeSde,
    /// The number of levels `N ≥ 1`.
    pub levels: usize,
}

impl SmldChain {
    /// `levels` noise levels at `t_i = i/N`, `i = 1 … N`.
    pub fn new(ve: VeSde, levels: usize) -> Result<Self> {
        if levels == 0 {
            return invalid("levels", levels, "the chain needs at least one level");
        }
        Ok(Self { ve, levels })
    }

    /// The level times `t_0 = 0, t_1, …, t_N = 1`.
    pub fn times(&self) -> Vec<f64> {
        (0..=self.levels)
            .map(|i| i as f64 / self.levels as f64)
            .collect()
    }

    /// The noise variances `v_i = σ(t_i)² − σ_min²`, `i = 0 … N`.
    pub fn variances(&self) -> Result<Vec<f64>> {
        self.times()
            .into_iter()
            .map(|t| self.ve.variance(t))
            .collect()
    }

    /// `β_i = v_i − v_{i−1}`, `i = 1 … N`.
    pub fn betas(&self) -> Result<Vec<f64>> {
        Ok(self.variances()?.windows(2).map(|w| w[1] - w[0]).collect())
    }

    fn clock(&self, forward: bool) -> Result<TimeGrid> {
        let mut v = self.variances()?;
        if !forward {
            v.reverse();
        }
        TimeGrid::from_times(v)
    }

    /// Runs the forward chain from data `x0`; the solution's times are the level times `t_i`.
    pub fn forward(&self, x0: ArrayView2<f64>, seed: u64, record: Record) -> Result<Solution> {
        let sol = EulerMaruyama.solve(
            &VarianceClock,
            x0,
            &self.clock(true)?,
            Noise::Seed(seed),
            record,
        )?;
        self.in_sde_time(sol, record, true)
    }

    /// Runs the reverse chain from `x_N` with a score of the VE SDE's marginals (`s(x, t)`, e.g.
    /// `MixtureMarginal<VeSde>`); the solution's times are the level times, `t_N = 1` down to 0.
    pub fn reverse(
        &self,
        score: impl Score,
        x_n: ArrayView2<f64>,
        seed: u64,
        record: Record,
    ) -> Result<Solution> {
        let reverse = ReverseSde::new(VarianceClock, ClockScore { score, ve: self.ve });
        let sol = EulerMaruyama.solve(
            &reverse,
            x_n,
            &self.clock(false)?,
            Noise::Seed(seed),
            record,
        )?;
        self.in_sde_time(sol, record, false)
    }

    /// Replaces the clock times `τ_k` of the recorded states by the level times `t_i`.
    fn in_sde_time(
        &self,
        mut sol: Solution,
        record: Record,
        forward: bool,
    ) -> Result<Solution> {
        let n = self.levels;
        sol.times = record
            .indices(n)?
            .into_iter()
            .map(|k| if forward { k } else { n - k } as f64 / n as f64)
            .collect();
        Ok(sol)
    }
}

/// `t` with `σ(t)² − σ_min² = τ`.
fn time_of_variance(ve: &VeSde, tau: f64) -> f64 {
    let r = (ve.sigma_max / ve.sigma_min).ln();
    (0.5 * (tau / ve.sigma_min.powi(2)).ln_1p() / r).clamp(0.0, 1.0)
}

/// `dx = dW_τ`: the VE SDE on its variance clock.
struct VarianceClock;

impl Sde for VarianceClock {
    fn drift(&self, x: ArrayView2<f64>, _tau: f64) -> Result<Array2<f64>> {
        Ok(Array2::zeros(x.dim()))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, _tau: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(1.0))
    }
}

/// A score in VE time `t`, read on the variance clock `τ`.
struct ClockScore<S> {
    score: S,
    ve: VeSde,
}

impl<S: Score> Score for ClockScore<S> {
    fn score(&self, x: ArrayView2<f64>, tau: f64) -> Result<Array2<f64>> {
        self.score.score(x, time_of_variance(&self.ve, tau))
    }
}

/// `c · s(x, t)`. The seed's reverse updates are the right ones with a scaled score:
/// `c = −1` is seed 000 §3.2.2's `x_{i−1} = x_i − β_i s + √β_i η` (erratum (a)); `c = ½` in the
/// reverse SDE is §3.6.1's update, the PF-ODE's ½ with the SDE's noise (erratum (c)).
pub struct ScaledScore<S> {
    /// The score.
    pub score: S,
    /// The factor `c`.
    pub factor: f64,
}

impl<S: Score> Score for ScaledScore<S> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(self.score.score(x, t)? * self.factor)
    }
}
