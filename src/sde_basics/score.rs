//! The score `∇ₓ log p_t(x)` (seed 000 §1.2.2): the one quantity the reverse SDE and the
//! probability-flow ODE need beyond the forward SDE.
//!
//! Analytic scores (Gaussians, mixtures pushed through a forward SDE) and learned candle
//! networks implement the same trait, so a sampler never knows which one it is given.

use ndarray::{Array1, Array2, ArrayView2};

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

/// A score whose Jacobian `∂s/∂x` (the Hessian of `log p_t`) can be applied: what the exact
/// log-likelihood of the probability-flow ODE needs, `∇·s = tr ∂s/∂x` (seed 001 §3.2.2).
///
/// Closed-form scores (Gaussian mixtures pushed through a forward SDE) give the products
/// exactly; a candle network gives them by backpropagation, one backward pass per probe.
pub trait ScoreJacobian: Score {
    /// The score `s(x, t)` and, for every probe batch `v` (`n × d`, like `x`), the
    /// vector–Jacobian products `vᵢᵀ ∂s/∂x (xᵢ)`, one row per particle.
    fn score_vjp(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)>;

    /// The score and its divergence `∇·s = tr ∂s/∂x` per particle. The default takes `d`
    /// vector–Jacobian products with the basis vectors `e_k` and sums their `k`-th entries;
    /// closed forms override it.
    fn score_divergence(&self, x: ArrayView2<f64>, t: f64) -> Result<(Array2<f64>, Array1<f64>)> {
        let (n, d) = x.dim();
        let basis: Vec<Array2<f64>> = (0..d)
            .map(|k| Array2::from_shape_fn((n, d), |(_, j)| if j == k { 1.0 } else { 0.0 }))
            .collect();
        let views: Vec<ArrayView2<f64>> = basis.iter().map(|b| b.view()).collect();
        let (s, products) = self.score_vjp(x, t, &views)?;
        let mut div = Array1::zeros(n);
        for (k, p) in products.iter().enumerate() {
            div += &p.column(k);
        }
        Ok((s, div))
    }
}

impl<S: ScoreJacobian + ?Sized> ScoreJacobian for &S {
    fn score_vjp(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        (**self).score_vjp(x, t, probes)
    }

    fn score_divergence(&self, x: ArrayView2<f64>, t: f64) -> Result<(Array2<f64>, Array1<f64>)> {
        (**self).score_divergence(x, t)
    }
}

/// A score that can be given a class label: `∇log p_t(x | y)` for `Some(y)`, `∇log p_t(x)`
/// for `None` (the null label `∅`).
pub trait ConditionalScore: Sync {
    /// Number of classes `k` (labels `0..k`).
    fn classes(&self) -> usize;

    /// The score given `label` at time `t` of every particle.
    fn conditional_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: Option<usize>,
    ) -> Result<Array2<f64>>;

    /// The classifier-free guided score `(1 + w) s(x, t, y) − w s(x, t, ∅)` of
    /// [`crate::framework::guidance::ClassifierFree`]: two calls of [`Self::conditional_score`].
    /// A learned network overrides it to evaluate both halves in one batched pass
    /// ([`crate::models::LearnedScore`]).
    fn guided_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: usize,
        w: f64,
    ) -> Result<Array2<f64>> {
        let conditional = self.conditional_score(x, t, Some(label))?;
        let unconditional = self.conditional_score(x, t, None)?;
        Ok(conditional * (1.0 + w) - unconditional * w)
    }
}
