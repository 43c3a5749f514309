//! The lemma "perturbation kernel ⇔ linear SDE" of seed 001's optional section
//! (基于分数与变分扩散模型的前向核再认识, fig. 6).
//!
//! A kernel `p_t(x_t | x_0) = N(α_t x_0, σ_t² I)` is the law of the linear SDE
//! `dx = f(t) x dt + g(t) dW` exactly when
//!
//! ```text
//! f(t) = d log α_t / dt = α̇_t / α_t,        g²(t) = dσ_t²/dt − 2 f(t) σ_t² = 2 σ_t σ̇_t − 2 (α̇_t/α_t) σ_t².
//! ```
//!
//! ([`linear_sde_coefficients`]; the converse — from `(f, g)` to `(α, σ)` through the
//! mean/variance ODEs — is [`super::AffineSde`].) [`KernelSde`] turns any kernel into its SDE,
//! e.g. the flow-matching kernel `α_t = 1 − t`, `σ_t = t`, whose SDE has `f = −1/(1 − t)` and
//! `g² = 2t/(1 − t)`.

use std::fmt;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2};

use super::affine::TimeFn;
use crate::error::check_time;
use crate::sde_basics::ForwardSde;
use crate::error::{invalid, positive};
use crate::sde_basics::{Diffusion, Sde};
use crate::Result;

/// `(f, g)` of the linear SDE whose kernel has mean factor `α` and standard deviation `σ`
/// with time derivatives `α̇`, `σ̇` (all at one time `t`, which the error message names).
///
/// Errors when `α ≤ 0` or when `dσ²/dt < 2 f σ²` (then no real `g` exists: the kernel
/// shrinks its noise faster than the drift can, and no forward SDE has it).
pub fn linear_sde_coefficients(
    t: f64,
    alpha: f64,
    alpha_dot: f64,
    sigma: f64,
    sigma_dot: f64,
) -> Result<(f64, f64)> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return invalid(
            "alpha",
            format!("{alpha} at t = {t}"),
            "must be finite and > 0",
        );
    }
    for (name, v) in [
        ("alpha_dot", alpha_dot),
        ("sigma", sigma),
        ("sigma_dot", sigma_dot),
    ] {
        if !v.is_finite() {
            return invalid(name, format!("{v} at t = {t}"), "must be finite");
        }
    }
    let f = alpha_dot / alpha;
    let g2 = 2.0 * sigma * sigma_dot - 2.0 * f * sigma * sigma;
    // Rounding can leave −1e-16 where g² = 0 exactly (e.g. σ ≡ 0).
    let scale = (2.0 * sigma * sigma_dot).abs() + (2.0 * f * sigma * sigma).abs();
    if g2 < -1e-12 * scale.max(1e-300) {
        return invalid(
            "g²",
            format!("{g2} at t = {t}"),
            "dσ²/dt − 2 f σ² must be ≥ 0 for the kernel to come from an SDE",
        );
    }
    Ok((f, g2.max(0.0).sqrt()))
}

/// The linear SDE of a given perturbation kernel `(α_t, σ_t)` on `[0, T]`: the
/// "kernel → SDE" direction of the lemma. Its `marginal_mean_std` is the kernel itself.
#[derive(Clone)]
pub struct KernelSde {
    alpha: TimeFn,
    alpha_dot: TimeFn,
    sigma: TimeFn,
    sigma_dot: TimeFn,
    t_max: f64,
}

impl fmt::Debug for KernelSde {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(out, "KernelSde {{ t_max: {} }}", self.t_max)
    }
}

/// Points at which [`KernelSde::new`] checks that the kernel defines an SDE.
const CHECK_POINTS: usize = 1024;

impl KernelSde {
    /// The SDE of the kernel `N(α(t) x_0, σ(t)² I)` given `α`, `α̇`, `σ`, `σ̇` on `[0, t_max]`.
    ///
    /// Checks the lemma's conditions on a grid of `[0, T]` and errors naming the first time
    /// where `α ≤ 0` or no real `g` exists.
    pub fn new(
        alpha: impl Fn(f64) -> f64 + Send + Sync + 'static,
        alpha_dot: impl Fn(f64) -> f64 + Send + Sync + 'static,
        sigma: impl Fn(f64) -> f64 + Send + Sync + 'static,
        sigma_dot: impl Fn(f64) -> f64 + Send + Sync + 'static,
        t_max: f64,
    ) -> Result<Self> {
        positive("t_max", t_max)?;
        let sde = Self {
            alpha: Arc::new(alpha),
            alpha_dot: Arc::new(alpha_dot),
            sigma: Arc::new(sigma),
            sigma_dot: Arc::new(sigma_dot),
            t_max,
        };
        for k in 0..=CHECK_POINTS {
            sde.coefficients(t_max * k as f64 / CHECK_POINTS as f64)?;
        }
        Ok(sde)
    }

    /// `(f(t), g(t))` by the lemma.
    pub fn coefficients(&self, t: f64) -> Result<(f64, f64)> {
        let t = check_time(t, self.t_max)?;
        linear_sde_coefficients(
            t,
            (self.alpha)(t),
            (self.alpha_dot)(t),
            (self.sigma)(t),
            (self.sigma_dot)(t),
        )
    }
}

impl Sde for KernelSde {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(&x * self.coefficients(t)?.0)
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(self.coefficients(t)?.1))
    }
}

impl ForwardSde for KernelSde {
    fn t_max(&self) -> f64 {
        self.t_max
    }

    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let t = check_time(t, self.t_max)?;
        Ok(((self.alpha)(t), (self.sigma)(t)))
    }

    /// `σ(T)`.
    fn prior_std(&self) -> f64 {
        (self.sigma)(self.t_max)
    }
}

/// Seed 001's optional section, "与变分扩散模型的联系" (the KL becomes an SNR-weighted
/// regression): one reverse step from `t` to `s < t` of a kernel `N(α x₀, σ² I)`. The posterior
/// `q(x_s | x_t, x₀) = N(a x_t + b x₀, v I)` has `b = α_s σ²_{t|s}/σ_t²`, `v = σ²_{t|s} σ_s²/σ_t²`
/// (`σ²_{t|s} = σ_t² − (α_t/α_s)² σ_s²`); a model that puts `x̂₀` for `x₀` with the same variance
/// is off by `KL = b² ‖x₀ − x̂₀‖²/(2v)`, which is `½ (SNR(s) − SNR(t)) ‖x₀ − x̂₀‖²`, `SNR = α²/σ²`.
/// Returns both forms for `gap_sq = ‖x₀ − x̂₀‖²`.
pub fn variational_step_kl(sde: &dyn ForwardSde, s: f64, t: f64, gap_sq: f64) -> Result<(f64, f64)> {
    if !(s > 0.0 && s < t) {
        return invalid("s", s, format!("must lie in (0, t = {t})"));
    }
    let (a_s, sig_s) = sde.marginal_mean_std(s)?;
    let (a_t, sig_t) = sde.marginal_mean_std(t)?;
    let var_ts = sig_t * sig_t - (a_t / a_s).powi(2) * sig_s * sig_s;
    let b = a_s * var_ts / (sig_t * sig_t);
    let v = var_ts * sig_s * sig_s / (sig_t * sig_t);
    let snr = |a: f64, sig: f64| a * a / (sig * sig);
    Ok((b * b * gap_sq / (2.0 * v), 0.5 * (snr(a_s, sig_s) - snr(a_t, sig_t)) * gap_sq))
}

/// The weight of the continuous-time variational loss `½ ∫ −SNR'(t) ‖x₀ − x̂₀‖² dt` in score
/// space (`x̂₀ = (x + σ² ŝ)/α`, so `‖x₀ − x̂₀‖² = σ⁴/α² ‖s − ŝ‖²`): `−SNR'(t) σ_t⁴/α_t²`, with
/// `SNR'` by central differences of the kernel (step `h`). By the lemma it equals `g(t)²`: the
/// variational loss is the likelihood-weighted score loss of Girsanov's bound.
pub fn variational_score_weight(sde: &dyn ForwardSde, t: f64, h: f64) -> Result<f64> {
    if !(h > 0.0 && t - h > 0.0 && t + h <= sde.t_max()) {
        return invalid("h", h, format!("need 0 < t − h and t + h ≤ T around t = {t}"));
    }
    let snr = |u: f64| -> Result<f64> {
        let (a, sig) = sde.marginal_mean_std(u)?;
        Ok(a * a / (sig * sig))
    };
    let (a, sig) = sde.marginal_mean_std(t)?;
    Ok(-(snr(t + h)? - snr(t - h)?) / (2.0 * h) * sig.powi(4) / (a * a))
}
