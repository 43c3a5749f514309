//! The reverse-time SDE and the probability-flow ODE of a forward SDE with additive noise
//! (seed 000 §1.2, seed 001 §3.1.3–§3.1.4):
//!
//! - reverse SDE: `dx = [f(x,t) − G Gᵀ ∇log p_t(x)] dt + G dW̄`, integrated from `T` down to `0`;
//! - PF-ODE:      `dx/dt = f(x,t) − ½ G Gᵀ ∇log p_t(x)`, same marginals, no noise.
//!
//! Both are ordinary [`Sde`] / [`OdeSystem`] values, so every solver of chapter 2 runs them:
//! a grid that decreases in time is all it takes to go backwards.

use ndarray::{Array2, ArrayView2};

use super::{Diffusion, Score, Sde};
use crate::real::Real;
use crate::sde_basics::OdeSystem;
use crate::{Error, Result};

fn additive<F: Real>(g: Diffusion<F>) -> Result<Diffusion<F>> {
    if g.is_additive() {
        Ok(g)
    } else {
        Err(Error::InvalidArgument {
            name: "diffusion",
            value: "state-dependent (Diagonal)".into(),
            reason: "the reverse SDE / PF-ODE here assume G independent of x (seed 000 §1.2)"
                .into(),
        })
    }
}

/// `f − G Gᵀ s`, the reverse-time drift written in forward time.
pub struct ReverseSde<S, C> {
    /// The forward SDE.
    pub forward: S,
    /// The score of its marginals `p_t`.
    pub score: C,
}

impl<S, C> ReverseSde<S, C> {
    /// The reverse SDE of `forward` given the score of its marginals.
    pub fn new(forward: S, score: C) -> Self {
        Self { forward, score }
    }
}

/// In `f64`, or in `f32` where the forward SDE and the score are (e.g. [`crate::framework::VpSde`]
/// with [`crate::framework::MixtureMarginal`]).
impl<F: Real, S: Sde<F>, C: Score<F>> Sde<F> for ReverseSde<S, C> {
    fn drift(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>> {
        Ok(self.drift_and_diffusion(x, t)?.0)
    }

    fn diffusion(&self, x: ArrayView2<F>, t: f64) -> Result<Diffusion<F>> {
        self.forward.diffusion(x, t)
    }

    /// `G` evaluated once for both.
    fn drift_and_diffusion(&self, x: ArrayView2<F>, t: f64) -> Result<(Array2<F>, Diffusion<F>)> {
        let g = additive(self.forward.diffusion(x, t)?)?;
        let s = self.score.score(x, t)?;
        let ggt_s = match &g {
            // In place: the same numbers as `apply_ggt`, without a new array.
            Diffusion::Scalar(g) => s * F::of(g * g),
            g => g.apply_ggt(s.view())?,
        };
        Ok((self.forward.drift(x, t)? - ggt_s, g))
    }
}

/// `dx/dt = f − ½ G Gᵀ s`: deterministic, with the same marginals as the forward SDE.
pub struct ProbabilityFlow<S, C> {
    /// The forward SDE.
    pub forward: S,
    /// The score of its marginals `p_t`.
    pub score: C,
}

impl<S, C> ProbabilityFlow<S, C> {
    /// The probability-flow ODE of `forward` given the score of its marginals.
    pub fn new(forward: S, score: C) -> Self {
        Self { forward, score }
    }
}

impl<S: Sde, C: Score> OdeSystem for ProbabilityFlow<S, C> {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let g = additive(self.forward.diffusion(x, t)?)?;
        let s = self.score.score(x, t)?;
        Ok(self.forward.drift(x, t)? - g.apply_ggt(s.view())? * 0.5)
    }
}
