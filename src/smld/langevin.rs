//! Langevin dynamics (seed 000 §3.1.2) and annealed Langevin dynamics (NCSN, Song & Ermon 2019;
//! seed 001 §3.1.1).
//!
//! Unadjusted Langevin, `x_{k+1} = x_k + ε ∇log p(x_k) + √(2ε) η_k`, is Euler–Maruyama with a
//! constant step `ε` for the Langevin SDE `dx = ∇log p(x) dt + √2 dW`, whose stationary law is
//! `p`; so it runs in the crate's one SDE loop ([`crate::solvers::sde::solve`]) and this module
//! only supplies the SDE ([`LangevinSde`]), the step sizes, and the annealing over noise levels.

use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng as _;

use crate::error::{invalid, positive};
use crate::sde_basics::VeSde;
use crate::rng;
use crate::sde_basics::{Diffusion, Score, Sde};
use crate::solvers::{EulerMaruyama, Noise, Record, SdeScheme, TimeGrid};
use crate::{Error, Result};

/// `dx = s(x, τ) dt + √2 dW` with the score frozen at one noise level `τ` (a time of the
/// forward SDE the score belongs to): its stationary law is `p_τ`.
pub struct LangevinSde<S> {
    /// The score.
    pub score: S,
    /// The time (noise level) at which the score is evaluated.
    pub level: f64,
}

impl<S: Score> Sde for LangevinSde<S> {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        self.score.score(x, self.level)
    }

    fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(std::f64::consts::SQRT_2))
    }
}

/// Growth of the largest `|x|` over the second half of a run beyond which the chain counts as
/// diverged. A stable chain that has reached its target's scale by mid-run grows by far less
/// (pure diffusion from a point: `√2`); an unstable one grows geometrically, `c^{K/2}`.
pub const DIVERGENCE_GROWTH: f64 = 100.0;

/// Unadjusted Langevin dynamics with a constant step (seed 000 §3.1.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Langevin {
    /// The step `ε`.
    pub step: f64,
    /// The number of steps `K`.
    pub steps: usize,
}

impl Langevin {
    /// `K` steps of size `ε > 0`.
    pub fn new(step: f64, steps: usize) -> Result<Self> {
        positive("step", step)?;
        if steps == 0 {
            return invalid("steps", steps, "need at least one step");
        }
        Ok(Self { step, steps })
    }

    /// Runs `K` steps from `x0` with the score at level `level`:
    /// `x ← x + ε s(x, level) + √(2ε) η`.
    ///
    /// A chain that diverges is an error naming the step, never a batch of samples: either a
    /// state stops being finite, or the largest `|x|` grows by more than [`DIVERGENCE_GROWTH`]
    /// over the second half of the run. Unadjusted Langevin is stable only for
    /// `ε < 2/L` (`L` the Lipschitz constant of the score; for `N(μ, s²)`, `ε < 2s²`).
    pub fn sample(
        &self,
        score: impl Score,
        level: f64,
        x0: ArrayView2<f64>,
        seed: u64,
    ) -> Result<Array2<f64>> {
        let sde = LangevinSde { score, level };
        let grid = TimeGrid::uniform(0.0, self.step * self.steps as f64, self.steps)?;
        let half = self.steps.div_ceil(2);
        let sol = EulerMaruyama
            .solve(&sde, x0, &grid, Noise::Seed(seed), Record::Every(half))
            .map_err(|e| match e {
                Error::Numerical(msg) => self.diverged(&msg),
                other => other,
            })?;
        let largest = |x: &Array2<f64>| x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mid = largest(&sol.states[sol.states.len() - 2]);
        let end = largest(sol.last());
        if end > DIVERGENCE_GROWTH * mid.max(f64::MIN_POSITIVE) {
            return Err(self.diverged(&format!(
                "max |x| grew from {mid:.3e} to {end:.3e} over the second half of {} steps",
                self.steps
            )));
        }
        Ok(sol.states.into_iter().next_back().expect("final state"))
    }

    fn diverged(&self, what: &str) -> Error {
        Error::InvalidArgument {
            name: "step",
            value: self.step.to_string(),
            reason: format!(
                "Langevin dynamics diverged ({what}); unadjusted Langevin needs ε < 2/L \
                 (L: Lipschitz constant of the score, 1/s² for a Gaussian of std s)"
            ),
        }
    }
}

/// Annealed Langevin dynamics (NCSN): Langevin at each level of the geometric ladder
/// `σ_1 = σ_max > … > σ_L = σ_min` of a [`VeSde`], `steps_per_level` steps each, with step
/// `ε_i = ε σ_i² / σ_L²` (step ∝ σ²), each level starting where the previous one ended.
///
/// Level `i` is the VE time `t_i` with `σ(t_i) = σ_i`, `t_1 = 1 … t_L = 0`; the score is any
/// [`Score`] in that time (e.g. `MixtureMarginal<VeSde>`, whose law at `t_i` is the data
/// convolved with `N(0, σ(t_i)² − σ_min²)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnnealedLangevin {
    /// The noise ladder's SDE.
    pub ve: VeSde,
    /// The number of levels `L ≥ 2`.
    pub levels: usize,
    /// Langevin per level.
    pub langevin: Langevin,
}

impl AnnealedLangevin {
    /// `levels` noise levels of `ve`, `steps_per_level` steps each, step `ε` at the smallest level.
    pub fn new(ve: VeSde, levels: usize, steps_per_level: usize, step: f64) -> Result<Self> {
        if levels < 2 {
            return invalid("levels", levels, "the ladder needs at least two levels");
        }
        Ok(Self {
            ve,
            levels,
            langevin: Langevin::new(step, steps_per_level)?,
        })
    }

    /// The level times `t_1 = 1 > … > t_L = 0`.
    pub fn times(&self) -> Vec<f64> {
        (0..self.levels)
            .map(|i| 1.0 - i as f64 / (self.levels - 1) as f64)
            .collect()
    }

    /// The noise levels `σ_i = σ(t_i)`, geometric from `σ_max` down to `σ_min`.
    pub fn sigmas(&self) -> Result<Vec<f64>> {
        self.times().into_iter().map(|t| self.ve.sigma(t)).collect()
    }

    /// The step sizes `ε_i = ε σ_i² / σ_min²`.
    pub fn steps(&self) -> Result<Vec<f64>> {
        let smallest = self.ve.sigma_min;
        Ok(self
            .sigmas()?
            .into_iter()
            .map(|s| self.langevin.step * (s / smallest).powi(2))
            .collect())
    }

    /// Runs the ladder from `x0`; level `i` draws its noise from a seed derived from `seed`.
    /// Divergence at any level is an error naming the level and the step.
    pub fn sample(&self, score: impl Score, x0: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        let mut seeds = rng::seeded(seed);
        let mut x = x0.to_owned();
        for (i, (t, eps)) in self.times().into_iter().zip(self.steps()?).enumerate() {
            let level = Langevin::new(eps, self.langevin.steps)?;
            x = level
                .sample(&score, t, x.view(), seeds.random())
                .map_err(|e| match e {
                    Error::InvalidArgument {
                        name: "step",
                        value,
                        reason,
                    } => Error::InvalidArgument {
                        name: "step",
                        value: format!(
                            "{} (ε_{} = {value} at level {} of {})",
                            self.langevin.step,
                            i + 1,
                            i + 1,
                            self.levels
                        ),
                        reason,
                    },
                    other => other,
                })?;
        }
        Ok(x)
    }
}

/// The fraction of samples (rows) nearest to each of the `means` (rows): the mode weights a
/// sampler reproduces when the modes are far apart.
pub fn mode_weights(samples: ArrayView2<f64>, means: ArrayView2<f64>) -> Result<Vec<f64>> {
    if samples.ncols() != means.ncols() || means.nrows() == 0 || samples.nrows() == 0 {
        return Err(Error::Shape(format!(
            "samples {:?} and means {:?} need the same, non-zero width and at least one row each",
            samples.dim(),
            means.dim()
        )));
    }
    let mut counts = vec![0usize; means.nrows()];
    for x in samples.axis_iter(Axis(0)) {
        let nearest = means
            .axis_iter(Axis(0))
            .map(|m| (&x - &m).mapv(|v| v * v).sum())
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(k, _)| k)
            .expect("at least one mean");
        counts[nearest] += 1;
    }
    let n = samples.nrows() as f64;
    Ok(counts.into_iter().map(|c| c as f64 / n).collect())
}
