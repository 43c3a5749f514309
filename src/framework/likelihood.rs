//! Exact log-likelihood through the probability-flow ODE (seed 001 §3.2.2 "精确对数似然"):
//! the PF-ODE `dx/dt = v(x, t) = f(t) x − ½ g(t)² s(x, t)` is a neural ODE, and along one of
//! its paths the instantaneous change of variables gives `d/dt log p_t(x(t)) = −∇·v(x(t), t)`, so
//!
//! ```text
//! log p_ε(x) = log p_T(x(T)) + δ(T),   δ(T) = ∫_ε^T ∇·v(x(t), t) dt,   x(ε) = x,
//! ```
//!
//! with `p_T ≈` the prior. [`log_likelihood`] integrates the augmented ODE `[x, δ]` from `ε` to
//! `T` with chapter 2's solvers ([`FlowSolver`]). The divergence
//! `∇·v = d f(t) − ½ g(t)² ∇·s` needs the score's Jacobian ([`ScoreJacobian`]) and is either
//!
//! - [`Divergence::Exact`]: `∇·s = tr ∂s/∂x`, in closed form for a mixture, or by `d`
//!   vector–Jacobian products (backward passes) through a network;
//! - [`Divergence::Hutchinson`]: `tr A = E[εᵀ A ε]` for probes with `E[ε εᵀ] = I`
//!   (Rademacher or Gaussian), one backward pass per probe. Each probe stays fixed along the
//!   path (it is carried in the ODE state), so each gives an unbiased estimate of `δ(T)`, and the
//!   spread over probes gives a standard error ([`LogLikelihood::standard_error`]).
//!   Only `∇·s` is estimated: the drift's `d f(t)` is known.
//!
//! The result is in nats; bits per dimension are `nll / (d ln 2)` ([`bits_per_dim`]). No
//! dequantisation is done: the data are continuous.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rand::Rng as _;

use super::encoding::FlowSolver;
use super::samplers::check_span;
use super::ForwardSde;
use crate::error::invalid;
use crate::rng;
use crate::sde_basics::{Diffusion, ScoreJacobian};
use crate::solvers::OdeSystem;
use crate::{Error, Result};

/// The distribution of Hutchinson's probes (both have `E[ε εᵀ] = I`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Entries `±1` with probability ½ (the smallest variance of the estimator).
    Rademacher,
    /// Entries `N(0, 1)`.
    Gaussian,
}

/// How `∇·s` is computed along the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Divergence {
    /// The trace of the score's Jacobian ([`ScoreJacobian::score_divergence`]).
    Exact,
    /// Hutchinson's estimator with `probes ≥ 1` probes of `kind` drawn from `seed`.
    Hutchinson {
        /// Number of probes per point.
        probes: usize,
        /// Rademacher or Gaussian.
        kind: Probe,
        /// Seed of the probes.
        seed: u64,
    },
}

/// What [`log_likelihood`] computed, per point (at least one point and one column).
#[derive(Debug, Clone)]
pub struct LogLikelihood {
    latent: Array2<f64>,
    prior_log_density: Array1<f64>,
    divergence_integrals: Array2<f64>,
    nfe: usize,
}

impl LogLikelihood {
    /// The latents `x(T)` (`n × d`).
    pub fn latent(&self) -> &Array2<f64> {
        &self.latent
    }

    /// `log p_prior(x(T))` per point.
    pub fn prior_log_density(&self) -> &Array1<f64> {
        &self.prior_log_density
    }

    /// `δ(T) = ∫_ε^T ∇·v dt` per point, one column per probe (one for [`Divergence::Exact`]).
    pub fn divergence_integrals(&self) -> &Array2<f64> {
        &self.divergence_integrals
    }

    /// Right-hand-side evaluations of the augmented ODE per point.
    pub fn nfe(&self) -> usize {
        self.nfe
    }

    /// `δ(T)` per point, averaged over the probes.
    pub fn divergence_integral(&self) -> Array1<f64> {
        self.divergence_integrals
            .mean_axis(Axis(1))
            .expect("at least one column")
    }

    /// `log p_ε(x) ≈ log p_prior(x(T)) + δ(T)` per point, in nats.
    pub fn log_density(&self) -> Array1<f64> {
        &self.prior_log_density + &self.divergence_integral()
    }

    /// The standard error of the probe average of `δ(T)` per point — the sample standard
    /// deviation over the probes divided by `√probes` — or `None` with fewer than two probes
    /// (the exact divergence has none).
    pub fn standard_error(&self) -> Option<Array1<f64>> {
        let m = self.divergence_integrals.ncols();
        (m >= 2).then(|| {
            self.divergence_integrals
                .std_axis(Axis(1), 1.0)
                .mapv(|sd| sd / (m as f64).sqrt())
        })
    }

    /// The negative log-likelihood averaged over the points, in nats.
    pub fn nll(&self) -> f64 {
        -self.log_density().mean().expect("at least one point")
    }

    /// [`Self::nll`] in bits per dimension.
    pub fn bits_per_dim(&self) -> f64 {
        bits_per_dim(self.nll(), self.latent.ncols())
    }
}

/// `nll / (d ln 2)`: a negative log-likelihood of `d`-dimensional data in nats, as bits per
/// dimension.
pub fn bits_per_dim(nll_nats: f64, d: usize) -> f64 {
    nll_nats / (d as f64 * std::f64::consts::LN_2)
}

/// The augmented PF-ODE: each row is `[x (d), probes (m·d), δ (max(m, 1))]`; the probes have
/// zero derivative.
struct AugmentedFlow<'a> {
    sde: &'a dyn ForwardSde,
    score: &'a dyn ScoreJacobian,
    d: usize,
    probes: usize,
}

/// `f(t)` of the drift `f(t) x` of a forward SDE (the drift at the point `x = 1`).
fn drift_coefficient(sde: &dyn ForwardSde, t: f64) -> Result<f64> {
    Ok(sde.drift(Array2::ones((1, 1)).view(), t)?[[0, 0]])
}

fn scalar_diffusion(sde: &dyn ForwardSde, t: f64) -> Result<f64> {
    match sde.diffusion(Array2::zeros((1, 1)).view(), t)? {
        Diffusion::Scalar(g) => Ok(g),
        other => Err(Error::Shape(format!(
            "the likelihood ODE needs a scalar diffusion g(t), got {other:?}"
        ))),
    }
}

impl OdeSystem for AugmentedFlow<'_> {
    fn rhs(&self, state: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let (d, m) = (self.d, self.probes);
        let x = state.slice(s![.., ..d]);
        let f = drift_coefficient(self.sde, t)?;
        let g2 = scalar_diffusion(self.sde, t)?.powi(2);
        let mut out = Array2::zeros(state.dim());
        let score = if m == 0 {
            let (score, div) = self.score.score_divergence(x, t)?;
            out.column_mut(d)
                .assign(&(div * (-0.5 * g2) + d as f64 * f));
            score
        } else {
            let probes: Vec<ArrayView2<f64>> = (0..m)
                .map(|k| state.slice_move(s![.., d * (k + 1)..d * (k + 2)]))
                .collect();
            let (score, products) = self.score.score_vjp(x, t, &probes)?;
            for (k, (p, e)) in products.iter().zip(&probes).enumerate() {
                let quad = (p * e).sum_axis(Axis(1));
                out.column_mut(d * (m + 1) + k)
                    .assign(&(quad * (-0.5 * g2) + d as f64 * f));
            }
            score
        };
        out.slice_mut(s![.., ..d])
            .assign(&(&x * f - &(score * (0.5 * g2))));
        Ok(out)
    }
}

/// `log p_ε(x)` for every row of `x` (`n × d`, states at `ε = t_eps`) under the PF-ODE of
/// `sde` with `score`, by integrating `[x, δ]` from `ε` to `T` with `solver` (see the module
/// docs). With the exact score of the data's marginals this is the data's `log p_ε`; with a
/// learned score, the model's likelihood `log p^ODE_θ`.
///
/// Errors on an empty or non-finite `x`, a dimension the score rejects, `0 < ε < T` violated,
/// zero Hutchinson probes, a non-scalar diffusion, or a failed solve.
pub fn log_likelihood(
    sde: &dyn ForwardSde,
    score: &dyn ScoreJacobian,
    x: ArrayView2<f64>,
    t_eps: f64,
    divergence: Divergence,
    solver: FlowSolver,
) -> Result<LogLikelihood> {
    let (t_max, eps) = check_span(None, t_eps, sde)?;
    let (n, d) = x.dim();
    if n == 0 || d == 0 {
        return invalid(
            "x.shape",
            format!("{n}×{d}"),
            "need at least one point and one dimension",
        );
    }
    crate::error::all_finite("the points x", x.iter())?;
    let (m, probes) = match divergence {
        Divergence::Exact => (0, Array2::zeros((n, 0))),
        Divergence::Hutchinson { probes: 0, .. } => {
            return invalid(
                "probes",
                0,
                "Hutchinson's estimator needs at least one probe",
            )
        }
        Divergence::Hutchinson { probes, kind, seed } => {
            let mut rng = rng::seeded(seed);
            let e = match kind {
                Probe::Gaussian => rng::normals(&mut rng, n, probes * d),
                Probe::Rademacher => Array2::from_shape_simple_fn((n, probes * d), || {
                    if rng.random::<bool>() {
                        1.0
                    } else {
                        -1.0
                    }
                }),
            };
            (probes, e)
        }
    };
    let columns = m.max(1);
    let mut state = Array2::zeros((n, d * (m + 1) + columns));
    state.slice_mut(s![.., ..d]).assign(&x);
    state.slice_mut(s![.., d..d * (m + 1)]).assign(&probes);
    let system = AugmentedFlow {
        sde,
        score,
        d,
        probes: m,
    };
    let evolving = (d + columns) as f64 / state.ncols() as f64;
    let (end, nfe) = solver.integrate(&system, state.view(), eps, t_max, evolving.sqrt())?;
    let latent = end.slice(s![.., ..d]).to_owned();
    Ok(LogLikelihood {
        prior_log_density: sde.prior_log_density(latent.view()),
        latent,
        divergence_integrals: end.slice(s![.., d * (m + 1)..]).to_owned(),
        nfe,
    })
}
