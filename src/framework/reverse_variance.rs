//! The variance of DDPM's reverse step (seed 002 §1.2, "如何学习 μ_θ 和 Σ_θ？").
//!
//! With the exact posterior mean, the best isotropic Gaussian `p(x_{t−1} | x_t) = N(μ, σ² I)`
//! (in the KL sense, averaged over `x_t`) has the variance of the true reverse step:
//!
//! ```text
//! σ*²_t = β̃_t + c_t² E_{x_t} Var(x_0 | x_t) / d,   β̃_t = (1 − ᾱ_{t−1}) β_t / (1 − ᾱ_t),   c_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t)
//! ```
//!
//! (Bao et al. 2022, "Analytic-DPM"). Ho et al.'s two fixed choices are its extremes: `β̃_t` when
//! `x_0` is known from `x_t` (a point mass) and `β_t` for `N(0, I)` data
//! (`Var(x_0 | x_t) = 1 − ᾱ_t`). Data of unit variance give `σ*² ∈ [β̃_t, β_t]` (the Gaussian
//! posterior variance bounds the mean one), which is why Nichol & Dhariwal learn
//! `Σ_θ = exp(v log β_t + (1 − v) log β̃_t)`; wider data can exceed `β_t`.
//!
//! `E Var(x_0 | x_t) = E x_0² − E (E[x_0 | x_t])²` with Tweedie's mean
//! `E[x_0 | x_t] = (x_t + (1 − ᾱ_t) ∇log q_t(x_t))/√ᾱ_t`, the expectation by the trapezoid rule
//! on a grid (1-D data).

use ndarray::{Array1, Array2};

use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::smld::DiscreteSchedule;
use crate::Result;

/// The three variances at one level `t` (1-based, as DDPM's `β_t`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelVariance {
    /// The level `t`.
    pub level: usize,
    /// `β_t`.
    pub beta: f64,
    /// `β̃_t`.
    pub beta_tilde: f64,
    /// `σ*²_t`.
    pub optimal: f64,
}

/// `σ*²_t` beside `β_t` and `β̃_t` at every level `2 … N` of `schedule` (at `t = 1`,
/// `ᾱ_0 = 1` and all three are degenerate) for 1-D mixture `data`, with `points` grid points
/// on `[−half_width, half_width]` for the expectation over `x_t`.
pub fn optimal_variances(
    schedule: &DiscreteSchedule,
    data: &GaussianMixture,
    half_width: f64,
    points: usize,
) -> Result<Vec<LevelVariance>> {
    if data.dim() != 1 {
        return invalid("data", format!("{}-D", data.dim()), "the grid expectation is 1-D");
    }
    if points < 3 || !(half_width > 0.0) {
        return invalid("points", points, "need ≥ 3 points on a positive half-width");
    }
    let x = Array1::linspace(-half_width, half_width, points);
    let h = 2.0 * half_width / (points - 1) as f64;
    let column = x.clone().insert_axis(ndarray::Axis(1));
    let trapezoid = |f: &Array1<f64>| h * (f.sum() - 0.5 * (f[0] + f[points - 1]));
    let second_moment = data.covariance()[[0, 0]] + data.mean()[0].powi(2);
    let betas = schedule.betas();
    (2..=betas.len())
        .map(|t| {
            let (ab, ab_prev, beta) = (schedule.alpha_bar_at_level(t)?, schedule.alpha_bar_at_level(t - 1)?, betas[t - 1]);
            let q_t = data.perturbed(ab.sqrt(), (1.0 - ab).sqrt())?;
            let density = q_t.log_density(column.view())?.mapv(f64::exp);
            let score: Array2<f64> = q_t.score(column.view())?;
            let tweedie = (&x + &(score.column(0).to_owned() * (1.0 - ab))) / ab.sqrt();
            let posterior_var = second_moment - trapezoid(&(&density * &tweedie.mapv(|m| m * m))) / trapezoid(&density);
            let c = ab_prev.sqrt() * beta / (1.0 - ab);
            let beta_tilde = (1.0 - ab_prev) / (1.0 - ab) * beta;
            Ok(LevelVariance { level: t, beta, beta_tilde, optimal: beta_tilde + c * c * posterior_var.max(0.0) })
        })
        .collect()
}
