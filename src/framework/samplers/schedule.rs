//! Where a sampler puts its steps between `T` and `ε` (seed 000 §2.4.1, 步长策略).
//!
//! Sampling stops at `ε > 0`, not at 0: the score of the data itself may not exist and
//! `σ(0) = 0` makes `x̂_0 = (x + σ² s)/α` and `λ = log(α/σ)` singular. The samples are then
//! draws of `p_ε`, which for the VP SDE with `ε = 10⁻³` differs from `p_0` by a noise of
//! standard deviation `σ(ε) ≈ 0.01`.

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

    /// The decreasing grid `t_start = t_0 > t_1 > … > t_N = ε`.
    pub fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        let (t0, t1) = self.span(sde)?;
        if self.steps == 0 {
            return invalid("steps", 0, "a sampler needs at least one step");
        }
        match &self.spacing {
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
