//! score_sde's predictor–corrector sampler (Song et al. 2021, Alg. 1–2; score_sde's
//! `sampling.py`; seed 001 §3.2.2's sampler with the score-based chapter's Langevin dynamics as
//! corrector), composable: at each grid time `t`,
//!
//! 1. corrector ([`Corrector`]): `M` steps targeting `p_t`, `x ← x + ε s(x, t) + √(2ε) z`,
//!    - Langevin: `ε = 2 αᵢ (r ‖z‖ / ‖s‖)²` (norms averaged over the particles of a chunk, as
//!      score_sde averages over its batch),
//!    - annealed Langevin: `ε = 2 αᵢ (r σ(t))²`,
//!    - none;
//! 2. predictor ([`Predictor`]) `t → t_next`, with the SDE's chain `(f, G)` of
//!    [`ForwardSde::discretize`]:
//!    - Euler–Maruyama on the reverse SDE,
//!    - reverse diffusion: `x ← x − (f − G² s) + G z`,
//!    - ancestral (SMLD/DDPM): VE `x ← x + (σ_t² − σ_s²) s + √(σ_s² (σ_t² − σ_s²)/σ_t²) z`;
//!      otherwise (VP) `x ← (x + β s)/√(1 − β) + √β z`, `1 − β = (α_t/α_s)²`,
//!    - none (corrector-only sampling).
//!
//! NFE per step: `M` + 1 (0 with no predictor).
//!
//! **Where the crate's defaults differ from score_sde's, and the option that gives score_sde's.**
//! - `αᵢ`: score_sde multiplies the Langevin step by `αᵢ = 1 − βᵢ` on VP/sub-VP; the crate's
//!   default leaves it out (`αᵢ = 1`, the seed's Langevin step); [`PredictorCorrector::alpha_i`]
//!   puts it back, with the step's exact `αᵢ = (α(t)/α(t_next))²`.
//! - The grid: score_sde evaluates at `N` times `linspace(T, ε, N)` but steps `Δt = −1/N` from
//!   each; here the steps are the grid's own `t_k → t_{k+1}` (the last lands on `ε`).
//! - The noise on the last step: score_sde's `denoise=True` returns the last step's mean
//!   `x_mean`; [`PredictorCorrector::noise_free_last`] does that (off by default).
//! - VE std: score_sde's `σ(t)` includes the data's `σ_min`; the crate's VE kernel std is
//!   `√(σ(t)² − σ_min²)` (used by the annealed step).
//! - Norms: per chunk of [`crate::solvers::driver::CHUNK_ROWS`] particles, not per batch.

use ndarray::{Array2, ArrayView2, Axis};

use super::{History, Model, Sampler, Schedule};
use crate::error::{invalid, positive};
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, ReverseSde, TimeGrid};
use crate::solvers::{EulerMaruyama, SdeScheme};
use crate::Result;

/// score_sde's predictors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predictor {
    /// `EulerMaruyamaPredictor`.
    EulerMaruyama,
    /// `ReverseDiffusionPredictor`.
    ReverseDiffusion,
    /// `AncestralSamplingPredictor`.
    Ancestral,
    /// `NonePredictor`: corrector-only sampling.
    None,
}

/// score_sde's correctors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corrector {
    /// `LangevinCorrector`: the step from the signal-to-noise ratio of score and noise.
    Langevin,
    /// `AnnealedLangevinDynamics`: the step from `σ(t)`.
    AnnealedLangevin,
    /// `NoneCorrector`.
    None,
}

/// Predictor–corrector sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictorCorrector {
    /// The predictor's time grid.
    pub schedule: Schedule,
    /// Corrector steps per grid time (`M`).
    pub corrector_steps: usize,
    /// Target signal-to-noise ratio `r` of the step rule.
    pub snr: f64,
    /// The predictor.
    pub predictor: Predictor,
    /// The corrector.
    pub corrector: Corrector,
    /// score_sde's `αᵢ` factor in the corrector's step.
    pub alpha_i: bool,
    /// score_sde's `denoise=True`: the last step returns its mean, without noise.
    pub noise_free_last: bool,
}

impl PredictorCorrector {
    /// `steps` uniform Euler–Maruyama predictor steps, one Langevin corrector step each,
    /// `r = 0.16` (Song et al.), no `αᵢ`, noise on every step.
    pub fn new(steps: usize) -> Self {
        Self {
            schedule: Schedule::new(steps),
            corrector_steps: 1,
            snr: 0.16,
            predictor: Predictor::EulerMaruyama,
            corrector: Corrector::Langevin,
            alpha_i: false,
            noise_free_last: false,
        }
    }

    /// score_sde's `get_pc_sampler(predictor, corrector, snr, n_steps, denoise=True)` with
    /// its `αᵢ`.
    pub fn score_sde(predictor: Predictor, corrector: Corrector, steps: usize) -> Self {
        Self {
            predictor,
            corrector,
            alpha_i: true,
            noise_free_last: true,
            ..Self::new(steps)
        }
    }

    fn corrects(&self) -> usize {
        if self.corrector == Corrector::None {
            0
        } else {
            self.corrector_steps
        }
    }
}

fn mean_norm(v: ArrayView2<f64>) -> f64 {
    v.map_axis(Axis(1), |r| r.dot(&r).sqrt())
        .mean()
        .unwrap_or(0.0)
}

impl Sampler for PredictorCorrector {
    fn name(&self) -> String {
        let predictor = match self.predictor {
            Predictor::EulerMaruyama => "EM",
            Predictor::ReverseDiffusion => "reverse diffusion",
            Predictor::Ancestral => "ancestral",
            Predictor::None => "no predictor",
        };
        let corrector = match self.corrector {
            Corrector::Langevin => "Langevin",
            Corrector::AnnealedLangevin => "annealed Langevin",
            Corrector::None => "corrector",
        };
        format!(
            "predictor–corrector ({predictor} + {} {corrector}, r = {}), {} steps",
            self.corrects(),
            self.snr,
            self.schedule.steps
        )
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    fn check(&self) -> Result<()> {
        if self.predictor == Predictor::None && self.corrects() == 0 {
            return invalid(
                "predictor, corrector",
                "None, None",
                "a sampler needs a predictor or a corrector",
            );
        }
        if self.corrector != Corrector::None && self.corrector_steps == 0 {
            return invalid(
                "corrector_steps",
                0,
                "use Corrector::None (or ReverseEulerMaruyama) for no corrector",
            );
        }
        positive("snr", self.snr)?;
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
        let (n, d) = x.dim();
        let sde = model.sde;
        let last = self.noise_free_last
            && (t_next - self.schedule.t_end).abs() <= 1e-12 * t.abs().max(1.0);
        let (a_t, std_t) = sde.marginal_mean_std(t)?;
        let alpha_i = if self.alpha_i {
            (a_t / sde.marginal_mean_std(t_next)?.0).powi(2)
        } else {
            1.0
        };
        let mut x = x.to_owned();
        let m = self.corrects();
        for k in 0..m {
            let s = model.score.score(x.view(), t)?;
            let z = rng::normals(rng, n, d);
            let mut eps = match self.corrector {
                Corrector::AnnealedLangevin => 2.0 * (self.snr * std_t).powi(2),
                _ => 2.0 * (self.snr * mean_norm(z.view()) / mean_norm(s.view())).powi(2),
            };
            if self.alpha_i {
                eps *= alpha_i;
            }
            x = x + s * eps;
            if !(last && self.predictor == Predictor::None && k + 1 == m) {
                x = x + z * (2.0 * eps).sqrt();
            }
        }
        let dt = t_next - t;
        let noise = |rng: &mut Rng, scale: f64| {
            if last {
                Array2::zeros((n, d))
            } else {
                rng::normals(rng, n, d) * scale
            }
        };
        let next = match self.predictor {
            Predictor::None => return Ok((x, m)),
            Predictor::EulerMaruyama => {
                let dw = noise(rng, dt.abs().sqrt());
                EulerMaruyama.step(&ReverseSde::new(sde, model.score), x.view(), t, dt, dw.view())?
            }
            Predictor::ReverseDiffusion => {
                let (f, g) = sde.discretize(x.view(), t, -dt)?;
                let s = model.score.score(x.view(), t)?;
                &x - &(f - s * (g * g)) + noise(rng, g)
            }
            Predictor::Ancestral => {
                let s = model.score.score(x.view(), t)?;
                let (a_s, std_s) = sde.marginal_mean_std(t_next)?;
                if a_t == 1.0 && a_s == 1.0 {
                    let g2 = std_t * std_t - std_s * std_s;
                    &x + &(s * g2) + noise(rng, (std_s * std_s * g2 / (std_t * std_t)).sqrt())
                } else {
                    let beta = 1.0 - (a_t / a_s).powi(2);
                    (&x + &(s * beta)) / (1.0 - beta).sqrt() + noise(rng, beta.sqrt())
                }
            }
        };
        Ok((next, m + 1))
    }
}
