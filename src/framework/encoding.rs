//! The probability-flow ODE as an invertible map between data and latents (seed 001 §3.2.2
//! "逆映射", seed 004 §3 advantage 3 "隐空间插值"):
//!
//! - [`encode`]: data at `ε` → latent at `T`, the PF-ODE `dx/dt = f − ½ g² s` integrated
//!   forwards in time;
//! - [`decode`]: latent at `T` → data at `ε`, the same ODE backwards (what the PF-ODE samplers do);
//! - [`slerp`]: spherical interpolation between two latents, and [`interpolate`], which decodes
//!   a strip of them.
//!
//! Both directions run chapter 2's solvers ([`FlowSolver`]): the adaptive Dormand–Prince 5(4)
//! pair or fixed-step RK4.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::samplers::check_span;
use super::ForwardSde;
use crate::error::{all_finite, finite, invalid};
use crate::sde_basics::{ProbabilityFlow, Score};
use crate::solvers::{
    dormand_prince, solve_ode, AdaptiveOptions, OdeSystem, Record, Rk4, TimeGrid,
};
use crate::{Error, Result};

/// How the PF-ODE (or the augmented likelihood ODE) is integrated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlowSolver {
    /// Chapter 2's adaptive Dormand–Prince 5(4) ([`dormand_prince`]) with these tolerances.
    Adaptive {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
    /// Classical RK4 on `steps` uniform steps ([`solve_ode`] with [`Rk4`]).
    Rk4 {
        /// Number of steps.
        steps: usize,
    },
}

impl Default for FlowSolver {
    /// Dormand–Prince with `rtol = 10⁻⁶`, `atol = 10⁻⁸`.
    fn default() -> Self {
        FlowSolver::Adaptive {
            rtol: 1e-6,
            atol: 1e-8,
        }
    }
}

impl FlowSolver {
    /// The state at `t1` from `x0` at `t0`, and the right-hand-side evaluations per particle.
    ///
    /// `tolerance_scale` multiplies both adaptive tolerances: a system whose state carries
    /// constant columns (the likelihood's probes) passes `√(evolving/total columns)`, so the
    /// controller's root-mean-square error is taken over the evolving columns only.
    pub(crate) fn integrate(
        &self,
        system: &dyn OdeSystem,
        x0: ArrayView2<f64>,
        t0: f64,
        t1: f64,
        tolerance_scale: f64,
    ) -> Result<(Array2<f64>, usize)> {
        match *self {
            FlowSolver::Adaptive { rtol, atol } => {
                let options = AdaptiveOptions {
                    rtol: crate::error::positive("rtol", rtol)? * tolerance_scale,
                    atol: crate::error::positive("atol", atol)? * tolerance_scale,
                    ..AdaptiveOptions::default()
                };
                let sol = dormand_prince(system, x0, t0, t1, options)?;
                Ok((sol.state, sol.nfe))
            }
            FlowSolver::Rk4 { steps } => {
                let grid = TimeGrid::uniform(t0, t1, steps)?;
                let mut sol = solve_ode(&Rk4, system, x0, &grid, Record::Final)?;
                let state = sol.states.pop().expect("the final state is recorded");
                Ok((state, sol.nfe))
            }
        }
    }
}

/// The latents `x(T)` of data `x` (`n × d`, read as states at time `ε = t_eps`): the PF-ODE of
/// `sde` with `score` integrated from `ε` up to `T` (seed 001 §3.2.2 "逆映射").
pub fn encode(
    sde: &dyn ForwardSde,
    score: &dyn Score,
    x: ArrayView2<f64>,
    t_eps: f64,
    solver: FlowSolver,
) -> Result<Array2<f64>> {
    let (t_max, eps) = check_span(None, t_eps, sde)?;
    let flow = ProbabilityFlow::new(sde, score);
    Ok(solver.integrate(&flow, x, eps, t_max, 1.0)?.0)
}

/// The data `x(ε)` of latents `z` (`n × d`, states at `T`): the PF-ODE integrated from `T`
/// down to `ε = t_eps`; the inverse of [`encode`] up to the solver's error.
pub fn decode(
    sde: &dyn ForwardSde,
    score: &dyn Score,
    z: ArrayView2<f64>,
    t_eps: f64,
    solver: FlowSolver,
) -> Result<Array2<f64>> {
    let (t_max, eps) = check_span(None, t_eps, sde)?;
    let flow = ProbabilityFlow::new(sde, score);
    Ok(solver.integrate(&flow, z, t_max, eps, 1.0)?.0)
}

/// Spherical linear interpolation (Shoemake 1985) between latents `z0` and `z1` at
/// `λ ∈ [0, 1]`: with `θ` the angle between them,
/// `slerp = sin((1−λ)θ)/sin θ · z0 + sin(λθ)/sin θ · z1`.
///
/// It returns `z0` at `λ = 0` and `z1` at `λ = 1`; when `‖z0‖ = ‖z1‖ = r` every point has norm
/// `r` — a Gaussian latent of dimension `d` concentrates near `‖z‖ ≈ √d`, and the straight line
/// between two such latents dips to `r cos(θ/2)` in the middle, off the prior's typical set.
/// Nearly parallel latents
/// (`sin θ < 10⁻⁹`) fall back to linear interpolation; opposite ones have no unique great
/// circle and are an error, as are zero, non-finite or mismatched vectors.
pub fn slerp(z0: ArrayView1<f64>, z1: ArrayView1<f64>, lambda: f64) -> Result<Array1<f64>> {
    if z0.len() != z1.len() || z0.is_empty() {
        return Err(Error::Shape(format!(
            "slerp needs two latents of one non-zero length, got {} and {}",
            z0.len(),
            z1.len()
        )));
    }
    all_finite("the latent z0", z0.iter())?;
    all_finite("the latent z1", z1.iter())?;
    if !(finite("lambda", lambda)? >= 0.0 && lambda <= 1.0) {
        return invalid("lambda", lambda, "must lie in [0, 1]");
    }
    let (n0, n1) = (z0.dot(&z0).sqrt(), z1.dot(&z1).sqrt());
    if n0 == 0.0 || n1 == 0.0 {
        return invalid("latent norm", n0.min(n1), "slerp needs non-zero latents");
    }
    // θ = 2 atan2(‖u0 − u1‖, ‖u0 + u1‖) for the unit vectors u: accurate at every angle,
    // where acos of the cosine loses half the digits near 0 and π.
    let (u0, u1) = (&z0 / n0, &z1 / n1);
    let (minus, plus) = (&u0 - &u1, &u0 + &u1);
    let theta = 2.0 * minus.dot(&minus).sqrt().atan2(plus.dot(&plus).sqrt());
    let sin = theta.sin();
    if sin < 1e-9 {
        if theta < 1.0 {
            return Ok(&z0 * (1.0 - lambda) + &(&z1 * lambda));
        }
        return invalid(
            "z1",
            "−c·z0",
            "opposite latents have no unique great circle between them",
        );
    }
    Ok(&z0 * (((1.0 - lambda) * theta).sin() / sin) + &(&z1 * ((lambda * theta).sin() / sin)))
}

/// A decoded interpolation strip: latents along the great circle and the data they decode to.
#[derive(Debug, Clone)]
pub struct Interpolation {
    /// The interpolation parameters `λ_i`, evenly spaced on `[0, 1]`.
    pub lambdas: Vec<f64>,
    /// `slerp(z0, z1, λ_i)`, one per row.
    pub latents: Array2<f64>,
    /// The decoded points, one per row.
    pub decoded: Array2<f64>,
}

/// `count ≥ 2` latents [`slerp`]ed between `z0` and `z1`, decoded with the PF-ODE to `ε`
/// (seed 004 §3, "隐空间插值"): for images a morphing strip, for 2-D data a path through
/// the data space.
pub fn interpolate(
    sde: &dyn ForwardSde,
    score: &dyn Score,
    z0: ArrayView1<f64>,
    z1: ArrayView1<f64>,
    count: usize,
    t_eps: f64,
    solver: FlowSolver,
) -> Result<Interpolation> {
    if count < 2 {
        return invalid(
            "count",
            count,
            "an interpolation needs at least its two ends",
        );
    }
    let lambdas: Vec<f64> = (0..count).map(|i| i as f64 / (count - 1) as f64).collect();
    let rows: Vec<Array1<f64>> = lambdas
        .iter()
        .map(|&l| slerp(z0, z1, l))
        .collect::<Result<_>>()?;
    let views: Vec<ArrayView1<f64>> = rows.iter().map(|r| r.view()).collect();
    let latents = ndarray::stack(Axis(0), &views).map_err(|e| Error::Shape(e.to_string()))?;
    let decoded = decode(sde, score, latents.view(), t_eps, solver)?;
    Ok(Interpolation {
        lambdas,
        latents,
        decoded,
    })
}
