//! The probability-flow view (seed 000 §3.5): the PF-ODE `dx/dt = f − ½ g² s` of a forward SDE,
//! and what the reverse SDE does on average from one start point.
//!
//! **Erratum (b).** Seed 000 §3.5.2 calls the PF-ODE "the expected trajectory of the SDE". It is
//! not: the PF-ODE transports the *density* (same marginals `p_t`), while the mean of the reverse
//! SDE's paths from one start `x_T` is the conditional mean [`conditional_mean`]
//! `E[x_t | x_T]`, which for a multi-modal `p_0` ends between the modes, where the PF-ODE
//! path never goes (seed 001 §3.1.2's figure note says the same).

use ndarray::{Array2, ArrayView2};

use crate::error::invalid;
use crate::sde_basics::{ForwardSde, ProbabilityFlow, Record, Score, Sde, Solution, TimeGrid};
use crate::solvers::{solve_ode, Euler};
use crate::Result;

/// Integrates the PF-ODE `dx/dt = f − ½ G Gᵀ s` of `forward` over `grid` (decreasing from `T`
/// to sample, increasing to encode) with chapter 2's Euler method on the [`ProbabilityFlow`].
pub fn probability_flow(
    forward: impl Sde,
    score: impl Score,
    x: ArrayView2<f64>,
    grid: &TimeGrid,
    record: Record,
) -> Result<Solution> {
    solve_ode(&Euler, &ProbabilityFlow::new(forward, score), x, grid, record)
}

/// `E[x_t | x_T]` under the forward SDE, for `t ≤ T`: the mean of the reverse SDE's paths
/// started at `x_T` (each row of `x_end` one start), by Tweedie's formula on the kernel
/// `x_T | x_t ~ N(a x_t, c² I)`, `a = α_T/α_t`, `c² = σ_T² − a² σ_t²`:
/// `E[x_t | x_T] = (x_T + c² ∇log p_T(x_T)) / a`.
pub fn conditional_mean(
    forward: &impl ForwardSde,
    score: &impl Score,
    x_end: ArrayView2<f64>,
    t_end: f64,
    t: f64,
) -> Result<Array2<f64>> {
    if t.is_nan() || t > t_end {
        return invalid("t", t, format!("must be ≤ t_end = {t_end}"));
    }
    let (alpha_end, sigma_end) = forward.marginal_mean_std(t_end)?;
    let (alpha_t, sigma_t) = forward.marginal_mean_std(t)?;
    let a = alpha_end / alpha_t;
    let c2 = sigma_end * sigma_end - a * a * sigma_t * sigma_t;
    let s = score.score(x_end, t_end)?;
    Ok((&x_end + &(s * c2)) / a)
}
