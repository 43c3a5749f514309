//! The exact marginals `p_t` of a Gaussian-mixture data law under a forward SDE
//! (seed 001 §3.1.6 for one Gaussian; a mixture is a sum of such): the "true score"
//! that samplers are checked against and that learned networks approximate.

use ndarray::{Array1, Array2, ArrayView2};

use super::ForwardSde;
use crate::data::GaussianMixture;
use crate::real::Real;
use crate::sde_basics::{Score, ScoreJacobian};
use crate::Result;

/// `p_t = Σ_k w_k N(α(t) μ_k, α(t)² Σ_k + σ(t)² I)` for data `p_0` = a Gaussian mixture.
#[derive(Debug, Clone)]
pub struct MixtureMarginal<S> {
    /// The forward SDE.
    pub sde: S,
    /// The data distribution `p_0`.
    pub data: GaussianMixture,
}

impl<S: ForwardSde> MixtureMarginal<S> {
    /// The marginals of `data` under `sde`.
    pub fn new(sde: S, data: GaussianMixture) -> Self {
        Self { sde, data }
    }

    /// `p_t` itself, as a mixture.
    pub fn at(&self, t: f64) -> Result<GaussianMixture> {
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        self.data.perturbed(alpha, sigma)
    }

    /// `log p_t(x)` per row.
    pub fn log_density(&self, x: ArrayView2<f64>, t: f64) -> Result<Array1<f64>> {
        self.at(t)?.log_density(x)
    }
}

/// In `f64` and `f32`; for isotropic components without building `p_t` as a mixture
/// ([`GaussianMixture::perturbed_score`]: the same numbers as `self.at(t)?.score(x)`).
impl<F: Real, S: ForwardSde> Score<F> for MixtureMarginal<S> {
    fn score(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>> {
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        self.data.perturbed_score(alpha, sigma, x)
    }
}

/// The Hessian of `log p_t` in closed form ([`GaussianMixture::score_hvp`],
/// [`GaussianMixture::score_laplacian`]): the exact divergence of the PF-ODE velocity.
impl<S: ForwardSde> ScoreJacobian for MixtureMarginal<S> {
    fn score_vjp(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        self.at(t)?.score_hvp(x, probes)
    }

    fn score_divergence(&self, x: ArrayView2<f64>, t: f64) -> Result<(Array2<f64>, Array1<f64>)> {
        self.at(t)?.score_laplacian(x)
    }
}
