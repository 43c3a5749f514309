//! What Girsanov's theorem says about score matching (seed 004 §6's table row "分数匹配目标 ↔
//! Girsanov定理"), checked in 1-D on a grid.
//!
//! The reverse SDE with the true score, started at `p_T`, and the model's reverse SDE with
//! `s_θ`, started at the prior `π`, have the same diffusion `g`; Girsanov's theorem gives the KL
//! divergence between their path laws, and the data-processing inequality passes it down to the
//! time-`ε` marginals:
//!
//! ```text
//! KL(p_ε ‖ p_θ^SDE) ≤ KL(p_T ‖ π) + ½ ∫_ε^T g(t)² E_{p_t} ‖∇log p_t − s_θ‖² dt.
//! ```
//!
//! So the score-matching loss **weighted by `g²`** (the likelihood weighting, not DSM's `σ²`)
//! bounds the KL of the samples of the **SDE** sampler (Song, Durkan, Murray & Ermon 2021). It
//! is an equality when `s_θ` is the score of its own forward marginals (the identity
//! `d/dt KL(p_t ‖ q_t) = −½ g² E_{p_t}‖∇log p_t − ∇log q_t‖²`, up to the start `π` vs `q_T`). It
//! does not bound the **PF-ODE** model's KL: an error in `s_θ` small in value but large in
//! derivative (`a sin(ωx)`, large `ω`) barely moves the bound, is averaged out by the SDE's noise,
//! and distorts the ODE's density through `∇·s_θ` (Lu et al. 2022).
//!
//! [`girsanov_check_1d`] computes every term on a grid: `p_t` exact ([`MixtureMarginal`]),
//! `p_θ^SDE` from the Fokker–Planck equation of the model's reverse SDE
//! ([`FokkerPlanck1d`]), `p_θ^ODE` by the PF-ODE likelihood ([`log_likelihood`], exact
//! divergence), each KL by quadrature.

use ndarray::{Array1, Array2, ArrayView2};

use super::encoding::FlowSolver;
use super::likelihood::{log_likelihood, Divergence};
use super::{ForwardSde, MixtureMarginal};
use crate::data::GaussianMixture;
use crate::error::{finite, invalid};
use crate::sde_basics::fokker_planck::FokkerPlanck1d;
use crate::sde_basics::{Diffusion, Score, ScoreJacobian, Sde, TimeGrid};
use crate::solvers::Record;
use crate::Result;

/// `s_θ(x, t) = s(x, t) + a sin(ω x)` (every coordinate): a score error of size `a` whose
/// derivative is `a ω`.
#[derive(Debug, Clone)]
pub struct PerturbedScore<S> {
    /// The score perturbed.
    pub base: S,
    /// `a`.
    pub amplitude: f64,
    /// `ω`.
    pub frequency: f64,
}

impl<S: Score> Score for PerturbedScore<S> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(self.base.score(x, t)? + x.mapv(|v| self.amplitude * (self.frequency * v).sin()))
    }
}

impl<S: ScoreJacobian> ScoreJacobian for PerturbedScore<S> {
    /// The perturbation's Jacobian is diagonal: `a ω cos(ω x_j)`.
    fn score_vjp(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        let (s, products) = self.base.score_vjp(x, t, probes)?;
        let slope = x.mapv(|v| self.amplitude * self.frequency * (self.frequency * v).cos());
        let products = products.into_iter().zip(probes).map(|(p, v)| p + &(&slope * v)).collect();
        Ok((s + x.mapv(|v| self.amplitude * (self.frequency * v).sin()), products))
    }
}

/// The model's reverse SDE in the reverse time `τ = T − t`, forward in `τ` (what the
/// Fokker–Planck solver integrates): `dx = [g² s_θ − f] dτ + g dW`.
struct ReverseInTau<'a> {
    sde: &'a dyn ForwardSde,
    score: &'a dyn Score,
}

impl Sde for ReverseInTau<'_> {
    fn drift(&self, x: ArrayView2<f64>, tau: f64) -> Result<Array2<f64>> {
        let t = self.sde.t_max() - tau;
        let g = scalar(self.sde.diffusion(x, t)?)?;
        Ok(self.score.score(x, t)? * (g * g) - self.sde.drift(x, t)?)
    }

    fn diffusion(&self, x: ArrayView2<f64>, tau: f64) -> Result<Diffusion<f64>> {
        self.sde.diffusion(x, self.sde.t_max() - tau)
    }
}

fn scalar(g: Diffusion<f64>) -> Result<f64> {
    match g {
        Diffusion::Scalar(g) => Ok(g),
        other => invalid("diffusion", format!("{other:?}"), "the check needs a scalar g(t)"),
    }
}

/// Every term of the Girsanov bound and the two KL divergences it is compared with (nats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GirsanovCheck {
    /// `KL(p_T ‖ π)`.
    pub prior_kl: f64,
    /// `½ ∫_ε^T g² E_{p_t} ‖∇log p_t − s_θ‖² dt`, the `g²`-weighted score-matching loss.
    pub score_term: f64,
    /// `KL(p_ε ‖ p_θ^SDE)`: the model's reverse SDE from `π`.
    pub kl_sde: f64,
    /// `KL(p_ε ‖ p_θ^ODE)`: the model's PF-ODE from `π`.
    pub kl_ode: f64,
}

impl GirsanovCheck {
    /// The bound `prior_kl + score_term`.
    pub fn bound(&self) -> f64 {
        self.prior_kl + self.score_term
    }
}

/// `Σ h p log(p/q)` of two densities at the cell centres (the grid must hold their mass).
fn kl_on_grid(p: &Array1<f64>, q: &Array1<f64>, h: f64) -> Result<f64> {
    let kl = p
        .iter()
        .zip(q)
        .filter(|(pi, _)| **pi > 0.0)
        .map(|(pi, qi)| h * pi * (pi / qi.max(f64::MIN_POSITIVE)).ln())
        .sum();
    finite("KL", kl)
}

/// The Girsanov bound for 1-D mixture `data` under `sde` and the model score `model`, on
/// `grid` (its walls where every density is negligible) with `steps` time steps from `T` to
/// `t_eps` (Crank–Nicolson for the Fokker–Planck equation and RK4 for the PF-ODE on the same
/// steps; the trapezoid rule for the time integral).
pub fn girsanov_check_1d<S: ForwardSde + Clone>(
    sde: &S,
    data: &GaussianMixture,
    model: &dyn ScoreJacobian,
    grid: &FokkerPlanck1d,
    t_eps: f64,
    steps: usize,
) -> Result<GirsanovCheck> {
    if data.dim() != 1 {
        return invalid("data", format!("{}-D", data.dim()), "the grid check is 1-D");
    }
    let t_max = sde.t_max();
    if !(t_eps > 0.0 && t_eps < t_max) {
        return invalid("t_eps", t_eps, format!("must lie in (0, T = {t_max})"));
    }
    let truth = MixtureMarginal::new(sde.clone(), data.clone());
    let x = grid.centres().insert_axis(ndarray::Axis(1));
    let h = grid.cell_width();
    let density = |t: f64| -> Result<Array1<f64>> { Ok(truth.log_density(x.view(), t)?.mapv(f64::exp)) };
    let prior = sde.prior_log_density(x.view()).mapv(f64::exp);
    let prior_kl = kl_on_grid(&density(t_max)?, &prior, h)?;

    let taus = TimeGrid::uniform(0.0, t_max - t_eps, steps)?;
    let integrand = taus
        .times()
        .iter()
        .map(|tau| {
            let t = t_max - tau;
            let g = scalar(sde.diffusion(x.view(), t)?)?;
            let p = density(t)?;
            let gap = (truth.score(x.view(), t)? - model.score(x.view(), t)?).column(0).mapv(|v| v * v);
            Ok(0.5 * g * g * h * (&p * &gap).sum() / (p.sum() * h))
        })
        .collect::<Result<Vec<f64>>>()?;
    let dt = (t_max - t_eps) / steps as f64;
    let score_term = dt * (integrand.iter().sum::<f64>() - 0.5 * (integrand[0] + integrand[steps]));

    let p_eps = density(t_eps)?;
    let reverse = ReverseInTau { sde, score: model };
    let q_sde = grid.solve(&reverse, prior.view(), &taus, Record::Final)?;
    let kl_sde = kl_on_grid(&p_eps, q_sde.last(), h)?;
    let q_ode = log_likelihood(sde, model, x.view(), t_eps, Divergence::Exact, FlowSolver::Rk4 { steps })?
        .log_density()
        .mapv(f64::exp);
    let kl_ode = kl_on_grid(&p_eps, &q_ode, h)?;
    Ok(GirsanovCheck { prior_kl, score_term, kl_sde, kl_ode })
}
