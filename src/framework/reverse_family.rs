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
