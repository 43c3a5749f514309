//! Exact simulation of linear SDEs (seed 000 §2.2.1: "for linear SDEs the analytic solution
//! can be used, avoiding numerical error"), the references of chapter 2's convergence study:
//!
//! - [`Gbm`], geometric Brownian motion, whose solution is a function of `W(t)` alone;
//! - [`OrnsteinUhlenbeck`], whose exact transition is drawn *jointly* with the Wiener
//!   increments, so that numerical schemes fed the same increments can be compared with it;
//! - [`forward_exact`], the exact transitions of any forward SDE with an affine kernel
//!   (the VP SDE of seed 000 §2.2.1 among them).

use ndarray::{Array2, Array3, ArrayView2, Axis};
use rand_distr::{Distribution, StandardNormal};

use crate::sde_basics::{Record, Solution};
use super::TimeGrid;
use crate::error::{invalid, positive};
use crate::sde_basics::ForwardSde;
use crate::rng;
use crate::sde_basics::{wiener::WienerPath, Diffusion, Sde};
use crate::Result;

/// Geometric Brownian motion, chapter 1's worked example; its exact solution along a given
/// Wiener path is [`Gbm::solution`].
pub use crate::sde_basics::examples::Gbm;

/// The Ornstein–Uhlenbeck process `dX = −θ X dt + σ dW` (additive noise), component-wise.
///
/// Over a step `h`: `X(t+h) = e^{−θh} X(t) + σ I`, `I = ∫ₜ^{t+h} e^{−θ(t+h−s)} dW(s)`, where
/// `(ΔW, I)` is Gaussian with `Var ΔW = h`, `Var I = (1 − e^{−2θh})/(2θ)`,
/// `Cov(ΔW, I) = (1 − e^{−θh})/θ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrnsteinUhlenbeck {
    /// Mean-reversion rate `θ > 0`.
    pub theta: f64,
    /// Noise level `σ > 0`.
    pub sigma: f64,
}

impl OrnsteinUhlenbeck {
    /// The OU process with `theta > 0`, `sigma > 0`.
    pub fn new(theta: f64, sigma: f64) -> Result<Self> {
        Ok(Self {
            theta: positive("theta", theta)?,
            sigma: positive("sigma", sigma)?,
        })
    }

    /// `n = x0.nrows()` exact solutions at the end of an increasing `grid`, together with the
    /// Wiener paths on `grid` that drive them (drawn jointly, exactly, from `seed`).
    pub fn sample_exact(
        &self,
        x0: ArrayView2<f64>,
        grid: &TimeGrid,
        seed: u64,
    ) -> Result<(WienerPath, Array2<f64>)> {
        if grid.step(0).1 < 0.0 {
            return invalid(
                "grid",
                "decreasing",
                "the OU process is sampled forward in time",
            );
        }
        crate::error::all_finite("the initial state x0", x0.iter())?;
        let (n, d) = x0.dim();
        let mut rng = rng::seeded(seed);
        let mut dw = Array3::zeros((grid.steps(), n, d));
        let mut x = x0.to_owned();
        let th = self.theta;
        for (k, mut dwk) in dw.axis_iter_mut(Axis(0)).enumerate() {
            let (_, h) = grid.step(k);
            let decay = (-th * h).exp();
            let var_i = -(-2.0 * th * h).exp_m1() / (2.0 * th);
            let cov = -(-th * h).exp_m1() / th;
            // I = (cov/h) ΔW + sqrt(var_i − cov²/h) z₂.
            let resid = (var_i - cov * cov / h).max(0.0).sqrt();
            for (w, xi) in dwk.iter_mut().zip(x.iter_mut()) {
                let z1: f64 = StandardNormal.sample(&mut rng);
                let z2: f64 = StandardNormal.sample(&mut rng);
                *w = h.sqrt() * z1;
                let integral = cov / h * *w + resid * z2;
                *xi = decay * *xi + self.sigma * integral;
            }
        }
        Ok((WienerPath::from_increments(grid, dw)?, x))
    }
}

impl Sde for OrnsteinUhlenbeck {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        Ok(&x * -self.theta)
    }

    fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(self.sigma))
    }
}

/// Exact simulation of a forward SDE with an affine kernel (seed 000 §2.2.1): from `s` to
/// `t > s`, `x_t = (α_t/α_s) x_s + sqrt(σ_t² − (α_t/α_s)² σ_s²) z`, with `(α, σ)` from
/// [`ForwardSde::marginal_mean_std`]. No discretisation error at any step size.
pub fn forward_exact<S: ForwardSde + ?Sized>(
    sde: &S,
    x0: ArrayView2<f64>,
    grid: &TimeGrid,
    seed: u64,
    record: Record,
) -> Result<Solution> {
    if grid.step(0).1 < 0.0 {
        return invalid("grid", "decreasing", "the forward SDE runs forward in time");
    }
    crate::error::all_finite("the initial state x0", x0.iter())?;
    let keep = record.indices(grid.steps())?;
    let mut rng = rng::seeded(seed);
    let mut x = x0.to_owned();
    let mut states = Vec::with_capacity(keep.len());
    if keep[0] == 0 {
        states.push(x.clone());
    }
    let (mut a_prev, mut s_prev) = sde.marginal_mean_std(grid.times()[0])?;
    for k in 0..grid.steps() {
        let (a, s) = sde.marginal_mean_std(grid.times()[k + 1])?;
        let ratio = a / a_prev;
        let std = (s * s - ratio * ratio * s_prev * s_prev).max(0.0).sqrt();
        x = x * ratio + rng::normals(&mut rng, x0.nrows(), x0.ncols()) * std;
        (a_prev, s_prev) = (a, s);
        if keep.contains(&(k + 1)) {
            states.push(x.clone());
        }
    }
    Ok(Solution {
        times: keep.iter().map(|&k| grid.times()[k]).collect(),
        states,
        nfe: 0,
    })
}
