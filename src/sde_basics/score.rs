//! The score `∇ₓ log p_t(x)` (seed 000 §1.2.2): the one quantity the reverse SDE and the
//! probability-flow ODE need beyond the forward SDE.
//!
//! Analytic scores (Gaussians, mixtures pushed through a forward SDE) and learned candle
//! networks implement the same trait, so a sampler never knows which one it is given.

use ndarray::{Array2, ArrayView2};

use crate::real::Real;
use crate::Result;

/// `s(x, t) ≈ ∇ₓ log p_t(x)` for a batch `x` (`n × d`), one row per particle; the element
/// type `F` defaults to `f64` (see [`Real`]).
pub trait Score<F: Real = f64>: Sync {
    /// The score at time `t` of every particle.
    fn score(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>>;
}

impl<F: Real, S: Score<F> + ?Sized> Score<F> for &S {
    fn score(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>> {
        (**self).score(x, t)
    }
}

/// A closure as a score, for notebooks and exercises: `ScoreFn(|x, t| Ok(-x.to_owned()))`.
pub struct ScoreFn<F>(pub F);

impl<F> Score for ScoreFn<F>
where
    F: Fn(ArrayView2<f64>, f64) -> Result<Array2<f64>> + Sync,
{
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        (self.0)(x, t)
    }
}
