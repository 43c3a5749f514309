//! Many processes with the same marginals (seed 001 §3.1.5 "边缘分布对齐" and its flow map `Ψ`):
//! for every `η ≥ 0` the reverse-time process
//!
//! ```text
//! dx = [f(x, t) − ½(1 + η²) g(t)² ∇log p_t(x)] dt + η g(t) dW̄       (dt < 0)
//! ```
//!
//! run from `p_T` has the marginals `p_t` of the forward SDE. Its Fokker–Planck equation differs
//! from the PF-ODE's (`η = 0`) by `−½η²g² ∇·(p ∇log p) + ½η²g² Δp = 0`: the extra score term's
//! flux cancels the extra noise's. `η = 0` is the PF-ODE (the flow map `Ψ`), `η = 1` the reverse
//! SDE; larger `η` adds noise and pulls harder. Only the path law changes with `η`, never the
//! marginals.

use ndarray::{Array2, ArrayView2};

use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::sde_basics::{Diffusion, Score, Sde};
use crate::Result;

/// The member `η` of the family (an [`Sde`] to run backwards in time with chapter 2's solvers).
#[derive(Debug, Clone)]
pub struct ReverseFamily<S, C> {
    /// The forward SDE (scalar diffusion `g(t)`).
    pub forward: S,
    /// The score of its marginals.
    pub score: C,
    /// `η ≥ 0`: 0 the PF-ODE, 1 the reverse SDE.
    eta: f64,
}

impl<S, C> ReverseFamily<S, C> {
    /// The member `eta ≥ 0` of the family of `forward` with `score`.
    pub fn new(forward: S, score: C, eta: f64) -> Result<Self> {
        if !(eta.is_finite() && eta >= 0.0) {
            return invalid("eta", eta, "must be finite and ≥ 0");
        }
        Ok(Self { forward, score, eta })
    }

    /// `η`.
    pub fn eta(&self) -> f64 {
        self.eta
    }
}

fn scalar(g: Diffusion<f64>) -> Result<f64> {
    match g {
        Diffusion::Scalar(g) => Ok(g),
        other => invalid("diffusion", format!("{other:?}"), "the family needs a scalar g(t)"),
    }
}

impl<S: Sde, C: Score> Sde for ReverseFamily<S, C> {
    /// `f − ½(1 + η²) g² s`.
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let g = scalar(self.forward.diffusion(x, t)?)?;
        Ok(self.forward.drift(x, t)? - self.score.score(x, t)? * (0.5 * (1.0 + self.eta * self.eta) * g * g))
    }

    /// `η g`.
    fn diffusion(&self, x: ArrayView2<f64>, t: f64) -> Result<Diffusion<f64>> {
        Ok(Diffusion::Scalar(self.eta * scalar(self.forward.diffusion(x, t)?)?))
    }
}

/// The reverse SDE with its time frozen at `level`, in the time `u = ∫ g²` (seed 001 §3.1.3's
/// Langevin reading): `dx = ∇log p_level(x) du + dW_u`. Langevin dynamics for `π` is
/// `dx = ∇log π du + √2 dW_u`; with the reverse SDE's noise, half of that, the stationary law is
/// `∝ p_level²` ([`squared_1d`]), not `p_level`. The reverse SDE is the PF-ODE's transport plus
/// Langevin dynamics for `p_t` at rate `½g²` — the η = 1 member of [`ReverseFamily`].
#[derive(Debug, Clone)]
pub struct FrozenReverse<C> {
    /// The score.
    pub score: C,
    /// The frozen time `t`.
    pub level: f64,
}

impl<C: Score> Sde for FrozenReverse<C> {
    /// `∇log p_level(x)`.
    fn drift(&self, x: ArrayView2<f64>, _u: f64) -> Result<Array2<f64>> {
        self.score.score(x, self.level)
    }

    /// `1`.
    fn diffusion(&self, _x: ArrayView2<f64>, _u: f64) -> Result<Diffusion<f64>> {
        Ok(Diffusion::Scalar(1.0))
    }
}

/// `p² / ∫p²` of a 1-D mixture `p = Σ w_k N(m_k, V_k)`, itself a mixture: the pair `(j, k)` has
/// weight `∝ w_j w_k N(m_j; m_k, V_j + V_k)`, mean `(V_k m_j + V_j m_k)/(V_j + V_k)` and
/// variance `V_j V_k/(V_j + V_k)`.
pub fn squared_1d(p: &GaussianMixture) -> Result<GaussianMixture> {
    if p.dim() != 1 {
        return invalid("p", format!("{}-D", p.dim()), "the square is built in 1-D");
    }
    let k = p.weights().len();
    let (mut weights, mut means, mut covs) = (Vec::new(), Vec::new(), Vec::new());
    for a in 0..k {
        for b in 0..k {
            let (ma, mb) = (p.means()[[a, 0]], p.means()[[b, 0]]);
            let (va, vb) = (p.covs()[a][[0, 0]], p.covs()[b][[0, 0]]);
            let overlap = (-(ma - mb).powi(2) / (2.0 * (va + vb))).exp() / (2.0 * std::f64::consts::PI * (va + vb)).sqrt();
            weights.push(p.weights()[a] * p.weights()[b] * overlap);
            means.push((vb * ma + va * mb) / (va + vb));
            covs.push(Array2::from_elem((1, 1), va * vb / (va + vb)));
        }
    }
    let total: f64 = weights.iter().sum();
    let means = Array2::from_shape_vec((k * k, 1), means).map_err(|e| crate::Error::Shape(e.to_string()))?;
    GaussianMixture::new(weights.iter().map(|w| w / total).collect(), means, covs)
}
