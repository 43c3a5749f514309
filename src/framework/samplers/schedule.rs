//! Where a sampler puts its steps between `T` and `ε` (seed 000 §2.4.1, 步长策略).
//!
//! Sampling stops at `ε > 0`, not at 0: the score of the data itself may not exist and
//! `σ(0) = 0` makes `x̂_0 = (x + σ² s)/α` and `λ = log(α/σ)` singular. The samples are then
//! draws of `p_ε`, which for the VP SDE with `ε = 10⁻³` differs from `p_0` by a noise of
//! standard deviation `σ(ε) ≈ 0.01`. A schedule may add one last step `ε → 0` onto the
//! denoised `x̂_0` ([`Schedule::to_zero`]): k-diffusion's final Euler step to `σ = 0` and
//! score_sde's `denoise=True` end — the singular point is never evaluated, only stepped onto.
//!
//! **σ view.** Any forward SDE's kernel `x = α x_0 + σ z` is, after dividing by `α`, the VE
//! form `x/α = x_0 + σ̃ z` of k-diffusion and EDM with `σ̃(t) = σ(t)/α(t) = e^{−λ(t)}`
//! (Karras et al. 2022 §4). The σ-shaped schedules (Karras's `ρ`, a given σ grid) are placed in
//! `σ̃` and mapped to times by inverting the monotone `λ(t)`; on the crate's VE SDE `α = 1`
//! and `σ̃` is its kernel std `√(σ(t)² − σ_min²)` itself.

use crate::error::{finite, invalid};
use crate::framework::ForwardSde;
use crate::solvers::TimeGrid;
use crate::Result;

/// How the `steps + 1` times are spread over `[ε, t_start]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Spacing {
    /// Equal steps in `t` (Euler–Maruyama, DDPM/DDIM's evenly strided timesteps).
    #[default]
    Uniform,
    /// Equal steps in the half log-SNR `λ(t) = log(α(t)/σ(t))` (DPM-Solver's choice): the
    /// steps crowd where the marginals change fastest in `λ`, near the data.
    LogSnr,
    /// Given times `t_start = t_0 > t_1 > … > t_N = ε`.
    Times(std::sync::Arc<Vec<f64>>),
    /// Karras et al.'s (EDM's) schedule in `σ̃ = σ/α`:
    /// `σ̃_i = (σ̃_max^{1/ρ} + i/N (σ̃_min^{1/ρ} − σ̃_max^{1/ρ}))^ρ`, `ρ > 0` (`ρ = 7` in EDM,
    /// [`Spacing::edm`]; `ρ = 1` is uniform in `σ̃`, `ρ → ∞` uniform in `log σ̃` — i.e.
    /// [`Spacing::LogSnr`]). k-diffusion's `get_sigmas_karras`.
    Karras {
        /// The exponent `ρ > 0`.
        rho: f64,
    },
    /// Given noise levels `σ̃_0 > σ̃_1 > … ≥ 0` (k-diffusion's `sigmas`); a last `0` is the
    /// step onto `x̂_0`. Their times are found by inverting `λ(t) = −log σ̃(t)`.
    Sigmas(std::sync::Arc<Vec<f64>>),
}

impl Spacing {
    /// EDM's sampling schedule: [`Spacing::Karras`] with `ρ = 7`.
    pub fn edm() -> Self {
        Spacing::Karras { rho: 7.0 }
    }

    /// A spacing by name: `"uniform"`, `"log-snr"`, `"karras"` (ρ = 7) or `"edm"`.
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "uniform" => Ok(Spacing::Uniform),
            "log-snr" | "logsnr" | "exponential" => Ok(Spacing::LogSnr),
            "karras" | "edm" => Ok(Spacing::edm()),
            _ => invalid(
                "schedule name",
                format!("{name:?}"),
                "known: uniform, log-snr, karras, edm",
            ),
        }
    }
}

/// The time grid of a fixed-step sampler: `steps` steps from `t_start` (default `T`) down to
/// `t_end = ε`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Number of steps.
    pub steps: usize,
    /// First time; `None` is the SDE's `T`.
    pub t_start: Option<f64>,
    /// Last time `ε > 0`.
    pub t_end: f64,
    /// Step placement.
    pub spacing: Spacing,
    /// When true the last of the `steps` steps goes from `ε` to `t = 0` (`σ = 0`) onto the
    /// denoised `x̂_0` ([`super::Sampler::step_to_zero`]); the spacing then places the other
    /// `steps − 1` (k-diffusion's `get_sigmas_*(n)` = `steps = n` here).
    pub to_zero: bool,
}

/// The usual stopping time `ε = 10⁻³` (the bench's `EPS_T`).
pub const DEFAULT_EPS: f64 = 1e-3;

impl Schedule {
    /// `steps` uniform steps from `T` to `ε = 10⁻³`.
    pub fn new(steps: usize) -> Self {
        Self {
            steps,
            t_start: None,
            t_end: DEFAULT_EPS,
            spacing: Spacing::Uniform,
            to_zero: false,
        }
    }

    /// The same with its last step `ε → 0` onto the denoised `x̂_0`.
    pub fn to_zero(self) -> Self {
        Self {
            to_zero: true,
            ..self
        }
    }

    /// The same with another spacing.
    pub fn spacing(self, spacing: Spacing) -> Self {
        Self { spacing, ..self }
    }

    /// The same ending at `eps`.
    pub fn to(self, eps: f64) -> Self {
        Self { t_end: eps, ..self }
    }

    /// The same starting at `t` instead of `T`.
    pub fn from(self, t: f64) -> Self {
        Self {
            t_start: Some(t),
            ..self
        }
    }

    /// `(t_start, t_end)` checked against `sde`: `0 < ε < t_start ≤ T`.
    pub fn span(&self, sde: &dyn ForwardSde) -> Result<(f64, f64)> {
        check_span(self.t_start, self.t_end, sde)
    }

    /// The decreasing grid `t_start = t_0 > t_1 > … > t_N = ε` (then `0` with
    /// [`Self::to_zero`]; a [`Spacing::Sigmas`] ending at `0` ends there).
    pub fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        if let Spacing::Sigmas(sigmas) = &self.spacing {
            return sigma_grid(sde, sigmas, self.steps);
        }
        let placed = if self.to_zero {
            if self.steps < 2 {
                return invalid(
                    "steps",
                    self.steps,
                    "a schedule ending at σ = 0 needs ≥ 2 steps (one to ε, one onto x̂_0)",
                );
            }
            Self {
                steps: self.steps - 1,
                to_zero: false,
                ..self.clone()
            }
            .grid(sde)?
        } else {
            return self.placed(sde);
        };
        let mut times = placed.times().to_vec();
        times.push(0.0);
        TimeGrid::from_times(times)
    }

    /// The noise levels `σ̃ = σ/α` of [`Self::grid`] (k-diffusion's `sigmas`).
    pub fn sigmas(&self, sde: &dyn ForwardSde) -> Result<Vec<f64>> {
        self.grid(sde)?
            .times()
            .iter()
            .map(|&t| sigma_tilde(sde, t))
            .collect()
    }

    fn placed(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        let (t0, t1) = self.span(sde)?;
        if self.steps == 0 {
            return invalid("steps", 0, "a sampler needs at least one step");
        }
        match &self.spacing {
            Spacing::Sigmas(sigmas) => sigma_grid(sde, sigmas, self.steps),
            Spacing::Karras { rho } => {
                let rho = *rho;
                if !(rho > 0.0 && rho.is_finite()) {
                    return invalid("rho (ρ)", rho, "must be > 0 and finite");
                }
                let (hi, lo) = (
                    sigma_tilde(sde, t0)?.powf(1.0 / rho),
                    sigma_tilde(sde, t1)?.powf(1.0 / rho),
                );
                let mut times = vec![t0];
                for k in 1..self.steps {
                    let ramp = k as f64 / self.steps as f64;
                    times.push(time_of_sigma(sde, (hi + ramp * (lo - hi)).powf(rho), t1, t0)?);
                }
                times.push(t1);
                TimeGrid::from_times(times)
            }
            Spacing::Uniform => TimeGrid::uniform(t0, t1, self.steps),
            Spacing::Times(times) => {
                let ends = (times.first().copied(), times.last().copied());
                let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() <= 1e-12 * t0);
                if times.len() != self.steps + 1 || !close(ends.0, t0) || !close(ends.1, t1) {
                    return invalid(
                        "spacing",
                        format!(
                            "Times of length {} from {:?} to {:?}",
                            times.len(),
                            ends.0,
                            ends.1
                        ),
                        format!(
                            "must hold steps + 1 = {} times from {t0} to {t1}",
                            self.steps + 1
                        ),
                    );
                }
                TimeGrid::from_times(times.to_vec())
            }
            Spacing::LogSnr => {
                let (l0, l1) = (log_snr(sde, t0)?, log_snr(sde, t1)?);
                if l1 <= l0 {
                    return invalid(
                        "spacing",
                        "LogSnr",
                        format!("λ = log(α/σ) must increase from t = {t0} to t = {t1} (it goes {l0} → {l1})"),
                    );
                }
                let mut times = vec![t0];
                for k in 1..self.steps {
                    let target = l0 + (l1 - l0) * k as f64 / self.steps as f64;
                    times.push(invert_log_snr(sde, target, t1, t0)?);
                }
                times.push(t1);
                TimeGrid::from_times(times)
            }
        }
    }
}

/// `0 < ε < t_start ≤ T`, naming the offending value.
pub(crate) fn check_span(
    t_start: Option<f64>,
    t_end: f64,
    sde: &dyn ForwardSde,
) -> Result<(f64, f64)> {
    let t_max = sde.t_max();
    let t0 = t_start.unwrap_or(t_max);
    finite("t_start", t0)?;
    finite("t_end", t_end)?;
    if t_end <= 0.0 {
        return invalid(
            "t_end (ε)",
            t_end,
            "must be > 0: the score and σ(0) = 0 are singular at t = 0",
        );
    }
    if t0 > t_max {
        return invalid("t_start", t0, format!("must be ≤ T = {t_max}"));
    }
    if t_end >= t0 {
        return invalid("t_end (ε)", t_end, format!("must be < t_start = {t0}"));
    }
    Ok((t0, t_end))
}

/// `σ̃(t) = σ(t)/α(t)`: the noise level of the VE view `x/α = x_0 + σ̃ z`.
pub(crate) fn sigma_tilde(sde: &dyn ForwardSde, t: f64) -> Result<f64> {
    let (a, s) = sde.marginal_mean_std(t)?;
    Ok(s / a)
}

/// The `t ∈ [lo, hi]` with `σ̃(t) = sigma` (`0` for `σ̃ = 0`).
pub(crate) fn time_of_sigma(sde: &dyn ForwardSde, sigma: f64, lo: f64, hi: f64) -> Result<f64> {
    if sigma == 0.0 {
        return Ok(0.0);
    }
    invert_log_snr(sde, -sigma.ln(), lo, hi)
}

/// The times of a given decreasing σ̃ grid (`steps + 1` levels, all `≥ 0`, within the SDE's
/// range `σ̃(T)`).
fn sigma_grid(sde: &dyn ForwardSde, sigmas: &[f64], steps: usize) -> Result<TimeGrid> {
    if sigmas.len() != steps + 1 {
        return invalid(
            "spacing",
            format!("Sigmas of length {}", sigmas.len()),
            format!("must hold steps + 1 = {} levels", steps + 1),
        );
    }
    let t_max = sde.t_max();
    let top = sigma_tilde(sde, t_max)?;
    for (k, w) in sigmas.windows(2).enumerate() {
        if !(w[1] < w[0]) {
            return invalid(
                "sigmas",
                format!("σ[{k}] = {}, σ[{}] = {}", w[0], k + 1, w[1]),
                "must be strictly decreasing",
            );
        }
    }
    for (k, &s) in sigmas.iter().enumerate() {
        if !(s >= 0.0 && s <= top * (1.0 + 1e-12)) {
            return invalid(
                "sigmas",
                format!("σ[{k}] = {s}"),
                format!("must lie in [0, σ̃(T) = {top}]"),
            );
        }
    }
    let times = sigmas
        .iter()
        .map(|&s| time_of_sigma(sde, s, 0.0, t_max))
        .collect::<Result<Vec<_>>>()?;
    TimeGrid::from_times(times)
}

/// `λ(t) = log α(t) − log σ(t)`.
pub(crate) fn log_snr(sde: &dyn ForwardSde, t: f64) -> Result<f64> {
    let (a, s) = sde.marginal_mean_std(t)?;
    Ok(a.ln() - s.ln())
}

/// The `t ∈ [lo, hi]` with `λ(t) = target` (λ decreasing in t), by bisection to rounding.
fn invert_log_snr(sde: &dyn ForwardSde, target: f64, lo: f64, hi: f64) -> Result<f64> {
    let (mut lo, mut hi) = (lo, hi);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if log_snr(sde, mid)? > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}
