//! The reverse SDE by Bayes' rule, one step at a time (seed 001's optional section
//! "Fokker–Planck 与逆向 SDE").
//!
//! Going back from `x_t = y` to time `s = t − Δt`, Bayes' rule gives the exact kernel
//! `p(x_s | x_t = y) ∝ p(y | x_s) p_s(x_s)`, with the forward transition
//! `x_t = a x_s + √v z`, `a = α_t/α_s`, `v = σ_t² − a² σ_s²`. For mixture data `p_s` is a mixture
//! of Gaussians `N(m_k, V_k)`, so the kernel is one too:
//!
//! ```text
//! weights ∝ w_k N(y; a m_k, a² V_k + v),   means (m_k/V_k + a y/v) P_k,   variances P_k = (1/V_k + a²/v)⁻¹.
//! ```
//!
//! The seed's derivation (a first-order Taylor expansion of `log p_s`) turns it into the
//! Euler–Maruyama step of the reverse SDE: mean `y − [f(y, t) − g(t)² ∇log p_t(y)] Δt`, variance
//! `g(t)² Δt`. [`bayes_vs_euler`] computes both: the means differ by `O(Δt²)` (Euler's local
//! error), the variances by a relative `O(Δt)`.

use ndarray::array;

use super::ForwardSde;
use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::sde_basics::Diffusion;
use crate::Result;

/// The exact one-step kernel and the reverse SDE's Euler step at one `Δt`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseStep {
    /// `Δt`.
    pub dt: f64,
    /// Mean of `p(x_{t−Δt} | x_t)`.
    pub bayes_mean: f64,
    /// Variance of `p(x_{t−Δt} | x_t)`.
    pub bayes_var: f64,
    /// `y − [f − g² s] Δt`.
    pub euler_mean: f64,
    /// `g² Δt`.
    pub euler_var: f64,
}

/// Bayes' kernel against the Euler step for 1-D mixture `data` under `sde`, from `x_t = y`,
/// for each `Δt` in `dts` (each in `(0, t)`).
pub fn bayes_vs_euler(
    sde: &dyn ForwardSde,
    data: &GaussianMixture,
    y: f64,
    t: f64,
    dts: &[f64],
) -> Result<Vec<ReverseStep>> {
    if data.dim() != 1 {
        return invalid("data", format!("{}-D", data.dim()), "the kernel is computed in 1-D");
    }
    let (alpha_t, sigma_t) = sde.marginal_mean_std(t)?;
    let point = array![[y]];
    let g = match sde.diffusion(point.view(), t)? {
        Diffusion::Scalar(g) => g,
        other => return invalid("diffusion", format!("{other:?}"), "needs a scalar g(t)"),
    };
    let p_t = data.perturbed(alpha_t, sigma_t)?;
    let drift = sde.drift(point.view(), t)?[[0, 0]] - g * g * p_t.score(point.view())?[[0, 0]];
    dts.iter()
        .map(|&dt| {
            if !(dt > 0.0 && dt < t) {
                return invalid("dt", dt, format!("must lie in (0, t = {t})"));
            }
            let (alpha_s, sigma_s) = sde.marginal_mean_std(t - dt)?;
            let a = alpha_t / alpha_s;
            let v = sigma_t * sigma_t - a * a * sigma_s * sigma_s;
            let p_s = data.perturbed(alpha_s, sigma_s)?;
            // Per component: log weight, mean and variance of the posterior.
            let parts: Vec<(f64, f64, f64)> = (0..p_s.weights().len())
                .map(|k| {
                    let (w, m, var) = (p_s.weights()[k], p_s.means()[[k, 0]], p_s.covs()[k][[0, 0]]);
                    let evidence = a * a * var + v;
                    let log_w = w.ln() - 0.5 * ((y - a * m).powi(2) / evidence + evidence.ln());
                    let p = 1.0 / (1.0 / var + a * a / v);
                    (log_w, (m / var + a * y / v) * p, p)
                })
                .collect();
            let top = parts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = parts.iter().map(|p| (p.0 - top).exp()).sum();
            let (mut mean, mut second) = (0.0, 0.0);
            for (log_w, m, p) in &parts {
                let r = (log_w - top).exp() / total;
                mean += r * m;
                second += r * (p + m * m);
            }
            Ok(ReverseStep {
                dt,
                bayes_mean: mean,
                bayes_var: second - mean * mean,
                euler_mean: y - drift * dt,
                euler_var: g * g * dt,
            })
        })
        .collect()
}
