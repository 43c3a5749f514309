//! Worked SDEs with closed-form laws (seed 000 §1.3; chapter 2 uses them as references):
//!
//! - [`CorrelatedBrownian`]: `dx = A dW` from `x(0) = 0`, so `x(t) = A W(t) ~ N(0, A Aᵀ t)`,
//!   its score `−(A Aᵀ t)⁻¹ x` and its reverse SDE `dx = (x / t) dt + A dW̄` (seed 000 §1.3.1–§1.3.4);
//! - [`Ou`]: the Ornstein–Uhlenbeck process `dx = θ(μ − x) dt + σ dW`, Gaussian at every time;
//! - [`Gbm`]: geometric Brownian motion `dx = μ x dt + σ x dW`, `x(t) = x₀ exp((μ − σ²/2) t + σ W(t))`.

use std::f64::consts::PI;

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::wiener::WienerPath;
use super::{Diffusion, ReverseSde, Score, Sde};
use crate::data::GaussianMixture;
use crate::error::{all_finite, finite, invalid, positive};
use crate::linalg;
use crate::rng::{self, Rng};
use crate::{Error, Result};

fn check_dim(x: ArrayView2<f64>, d: usize, what: &str) -> Result<()> {
    if x.ncols() == d {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "{what} has {} columns but the SDE has dimension {d}",
            x.ncols()
        )))
    }
}

fn time_nonneg(t: f64) -> Result<f64> {
    if t.is_finite() && t >= 0.0 {
        Ok(t)
    } else {
        invalid("t", t, "must be finite and ≥ 0")
    }
}

fn time_positive(t: f64) -> Result<f64> {
    if t.is_finite() && t > 0.0 {
        Ok(t)
    } else {
        invalid(
            "t",
            t,
            "must be finite and > 0 (p_t is a point mass at t = 0: no density, no score)",
        )
    }
}

/// `dx = A dW` with a constant square matrix `A`, started at `x(0) = 0` (seed 000 §1.3).
///
/// `x(t) = A W(t)` is Gaussian with covariance `A Aᵀ t`; the density, score and reverse SDE
/// need `A Aᵀ` invertible (a singular `A` can still be simulated).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelatedBrownian {
    a: Array2<f64>,
}

impl CorrelatedBrownian {
    /// `dx = A dW`; `A` must be square, non-empty and finite.
    pub fn new(a: Array2<f64>) -> Result<Self> {
        if a.nrows() != a.ncols() || a.nrows() == 0 {
            return invalid(
                "A",
                format!("a {}×{} matrix", a.nrows(), a.ncols()),
                "must be square and non-empty (G(t) = A is d×d, seed 000 §1.1)",
            );
        }
        if !a.iter().all(|v| v.is_finite()) {
            return invalid("A", &a, "must have finite entries");
        }
        Ok(Self { a })
    }

    /// The matrix `A`.
    pub fn a(&self) -> &Array2<f64> {
        &self.a
    }

    /// The dimension `d`.
    pub fn dim(&self) -> usize {
        self.a.nrows()
    }

    /// `A Aᵀ`, the diffusion tensor of seed 000 §1.3.2's Fokker–Planck equation.
    pub fn aat(&self) -> Array2<f64> {
        self.a.dot(&self.a.t())
    }

    /// `A Aᵀ t`, the covariance of `x(t)` (seed 000 §1.3.2).
    pub fn covariance(&self, t: f64) -> Result<Array2<f64>> {
        Ok(self.aat() * time_nonneg(t)?)
    }

    /// The Cholesky factor of `A Aᵀ t`; an error when `A` is singular or `t ≤ 0`.
    fn cholesky(&self, t: f64) -> Result<Array2<f64>> {
        let t = time_positive(t)?;
        linalg::cholesky("A Aᵀ", self.aat().view()).map(|l| l * t.sqrt())
    }

    /// `log p_t(x)` per row for `p_t = N(0, A Aᵀ t)`:
    /// `−½ xᵀ (A Aᵀ t)⁻¹ x − ½ log((2π)^d |A Aᵀ| t^d)`.
    pub fn log_density(&self, x: ArrayView2<f64>, t: f64) -> Result<Array1<f64>> {
        let l = self.cholesky(t)?;
        let norm = -0.5 * (self.dim() as f64 * (2.0 * PI).ln() + linalg::log_det(l.view()));
        self.quadratic(x, &l).map(|q| q.mapv(|q| norm - 0.5 * q))
    }

    /// The density **as printed in seed 000 §1.3.2**, `exp(−xᵀ(A Aᵀ)⁻¹x / 2t) / √((2π)^d |A Aᵀ| t)`.
    ///
    /// Erratum: the covariance is `A Aᵀ t`, whose determinant is `|A Aᵀ| t^d`, so the factor
    /// must be `t^{d/2}`, not `t^{1/2}`; for `d ≥ 2` and `t ≠ 1` this integrates to
    /// `t^{(d−1)/2}`, not 1. Kept only to show the difference; use [`Self::log_density`].
    pub fn log_density_seed_000(&self, x: ArrayView2<f64>, t: f64) -> Result<Array1<f64>> {
        let d = self.dim() as f64;
        Ok(self.log_density(x, t)? + 0.5 * (d - 1.0) * t.ln())
    }

    /// `xᵀ (A Aᵀ t)⁻¹ x` per row, from the Cholesky factor `l` of `A Aᵀ t`.
    fn quadratic(&self, x: ArrayView2<f64>, l: &Array2<f64>) -> Result<Array1<f64>> {
        check_dim(x, self.dim(), "x")?;
        all_finite("x", x.iter())?;
        Ok(x.map_axis(Axis(1), |r| r.dot(&linalg::solve(l.view(), r))))
    }

    /// `n` exact samples of `x(t) ~ N(0, A Aᵀ t)`, i.e. `√t · A z` (works for a singular `A`).
    pub fn sample(&self, n: usize, t: f64, seed: u64) -> Result<Array2<f64>> {
        let t = time_nonneg(t)?;
        if n == 0 {
            return invalid("n", n, "need at least one sample");
        }
        let z = rng::normals(&mut rng::seeded(seed), n, self.dim());
        Ok(z.dot(&self.a.t()) * t.sqrt())
    }

    /// `m` points on the ellipse `xᵀ (A Aᵀ t)⁻¹ x = k²` (the `k`-standard-deviation contour of
    /// `p_t`), as an `m × 2` array; only for `d = 2`.
    pub fn covariance_ellipse(&self, t: f64, k: f64, m: usize) -> Result<Array2<f64>> {
        if self.dim() != 2 {
            return invalid(
                "A",
                format!("{}×{}", self.dim(), self.dim()),
                "ellipses are drawn for d = 2 only",
            );
        }
        positive("k", k)?;
        if m < 3 {
            return invalid("m", m, "need at least 3 points");
        }
        let l = self.cholesky(t)?;
        // x = k L u with |u| = 1 gives xᵀ(L Lᵀ)⁻¹x = k² |u|² = k².
        let u = Array2::from_shape_fn((m, 2), |(i, j)| {
            let phi = 2.0 * PI * i as f64 / (m - 1) as f64;
            if j == 0 {
                phi.cos()
            } else {
                phi.sin()
            }
        });
        Ok(u.dot(&l.t()) * k)
    }

    /// The reverse-time SDE `dx = [0 − A Aᵀ ∇log p_t(x)] dt + A dW̄ = (x / t) dt + A dW̄`
    /// (seed 000 §1.3.3), with this process's own score; integrate it on a grid from `T` down
    /// to some `ε > 0` (the drift is singular at `t = 0`).
    pub fn reverse_sde(&self) -> Result<ReverseSde<Self, Self>> {
        linalg::cholesky("A Aᵀ", self.aat().view())?;
        Ok(ReverseSde::new(self.clone(), self.clone()))
    }
}

impl CorrelatedBrownian {
    /// The exact flow of the probability-flow ODE `dx/dt = f − ½ A Aᵀ ∇log p_t = x / 2t`
    /// (seed 003 §3): `x(t) = √(t / s) x(s)`. It carries `N(0, A Aᵀ s)` to `N(0, A Aᵀ t)` —
    /// the same marginals as the SDE — along straight lines, with no noise.
    pub fn flow_map(&self, x_s: ArrayView2<f64>, s: f64, t: f64) -> Result<Array2<f64>> {
        let s = time_positive(s)?;
        let t = time_nonneg(t)?;
        check_dim(x_s, self.dim(), "x_s")?;
        all_finite("x_s", x_s.iter())?;
        Ok(&x_s * (t / s).sqrt())
    }
}

impl Sde for CorrelatedBrownian {
    /// `f = 0` (seed 000 §1.3.1).
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        check_dim(x, self.dim(), "x")?;
        Ok(Array2::zeros(x.raw_dim()))
    }

    /// `G = A`.
    fn diffusion(&self, x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        check_dim(x, self.dim(), "x")?;
        Ok(Diffusion::Matrix(self.a.clone()))
    }
}

impl Score for CorrelatedBrownian {
    /// `∇ log p_t(x) = −(A Aᵀ t)⁻¹ x` (seed 000 §1.3.3); an error for `t ≤ 0` or singular `A`.
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let l = self.cholesky(t)?;
        check_dim(x, self.dim(), "x")?;
        all_finite("x", x.iter())?;
        // Rows: s_i = −Σ⁻¹ x_i, and Σ⁻¹ is symmetric, so S = −X Σ⁻¹.
        Ok(-x.dot(&linalg::inverse(l.view())))
    }
}

/// Ornstein–Uhlenbeck, componentwise: `dx = θ(μ − x) dt + σ dW` with `θ, σ > 0`.
///
/// Gaussian at all times: from `x(0) ~ N(m₀, v₀)`,
/// `x(t) ~ N(μ + (m₀ − μ)e^{−θt}, v₀ e^{−2θt} + σ²(1 − e^{−2θt}) / 2θ)`, stationary law `N(μ, σ²/2θ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ou {
    /// Mean-reversion rate `θ > 0`.
    pub theta: f64,
    /// Long-run mean `μ`.
    pub mu: f64,
    /// Noise level `σ > 0`.
    pub sigma: f64,
}

impl Ou {
    /// Checks `θ > 0`, `σ > 0`, `μ` finite.
    pub fn new(theta: f64, mu: f64, sigma: f64) -> Result<Self> {
        Self { theta, mu, sigma }.checked()
    }

    fn checked(self) -> Result<Self> {
        positive("theta", self.theta)?;
        finite("mu", self.mu)?;
        positive("sigma", self.sigma)?;
        Ok(self)
    }

    /// `(mean, variance)` of `x(t)` when `x(0) ~ N(m0, v0)` (`v0 = 0`: a fixed start).
    pub fn marginal(&self, m0: f64, v0: f64, t: f64) -> Result<(f64, f64)> {
        let s = self.checked()?;
        finite("m0", m0)?;
        if !(v0.is_finite() && v0 >= 0.0) {
            return invalid("v0", v0, "must be finite and ≥ 0");
        }
        let t = time_nonneg(t)?;
        let decay = (-s.theta * t).exp();
        let mean = s.mu + (m0 - s.mu) * decay;
        // σ²(1 − e^{−2θt})/2θ via expm1 keeps precision for small θt.
        let var = v0 * decay * decay
            - s.sigma * s.sigma * (-2.0 * s.theta * t).exp_m1() / (2.0 * s.theta);
        Ok((mean, var))
    }

    /// The exact law of `x(t)` when `x(0) ~ p0`, a Gaussian mixture: OU is affine, so each
    /// component `N(m, C)` moves to `N(μ + (m − μ)e^{−θt}, C e^{−2θt} + σ²(1 − e^{−2θt})/2θ · I)`.
    pub fn marginal_mixture(&self, p0: &GaussianMixture, t: f64) -> Result<GaussianMixture> {
        let s = self.checked()?;
        let (_, var) = s.marginal(0.0, 0.0, t)?;
        let decay = (-s.theta * t).exp();
        let d = p0.dim();
        let means = p0.means().mapv(|m| s.mu + (m - s.mu) * decay);
        let covs = p0
            .covs()
            .iter()
            .map(|c| c * (decay * decay) + Array2::<f64>::eye(d) * var)
            .collect();
        GaussianMixture::new(p0.weights().to_vec(), means, covs)
    }

    /// `N(μ, σ²/2θ)`, the stationary law: `(mean, variance)`.
    pub fn stationary(&self) -> Result<(f64, f64)> {
        let s = self.checked()?;
        Ok((s.mu, s.sigma * s.sigma / (2.0 * s.theta)))
    }

    /// Exact transition: a draw of `x(t + dt)` given `x(t) = x` for every entry of `x`
    /// (`dt ≥ 0`), with no discretisation error whatever `dt`.
    pub fn sample_transition(
        &self,
        x: ArrayView2<f64>,
        dt: f64,
        rng: &mut Rng,
    ) -> Result<Array2<f64>> {
        let s = self.checked()?;
        let dt = time_nonneg(dt)?;
        all_finite("x", x.iter())?;
        let decay = (-s.theta * dt).exp();
        let (_, var) = s.marginal(0.0, 0.0, dt)?;
        let z = rng::normals(rng, x.nrows(), x.ncols());
        Ok(x.mapv(|v| s.mu + (v - s.mu) * decay) + z * var.sqrt())
    }
}

impl Sde for Ou {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        let s = self.checked()?;
        Ok(x.mapv(|v| s.theta * (s.mu - v)))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(self.checked()?.sigma))
    }
}

/// Geometric Brownian motion, componentwise: `dx = μ x dt + σ x dW` (multiplicative noise,
/// [`Diffusion::Diagonal`]; chapter 2's Milstein scheme uses `∂g/∂x = σ`).
///
/// `x(t) = x₀ exp((μ − σ²/2) t + σ W(t))`: log-normal, mean `x₀ e^{μt}`,
/// variance `x₀² e^{2μt}(e^{σ²t} − 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gbm {
    /// Drift rate `μ`.
    pub mu: f64,
    /// Volatility `σ > 0`.
    pub sigma: f64,
}

impl Gbm {
    /// Checks `μ` finite, `σ > 0`.
    pub fn new(mu: f64, sigma: f64) -> Result<Self> {
        Self { mu, sigma }.checked()
    }

    fn checked(self) -> Result<Self> {
        finite("mu", self.mu)?;
        positive("sigma", self.sigma)?;
        Ok(self)
    }

    /// The exact solution `x₀ exp((μ − σ²/2) t + σ W(t))` given the Wiener values `w_t = W(t)`
    /// (same shape as `x0`): the reference a strong-error measurement compares a scheme with.
    pub fn exact_solution(
        &self,
        x0: ArrayView2<f64>,
        t: f64,
        w_t: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        let s = self.checked()?;
        let t = time_nonneg(t)?;
        if x0.dim() != w_t.dim() {
            return Err(Error::Shape(format!(
                "x0 is {:?} but w_t is {:?}",
                x0.dim(),
                w_t.dim()
            )));
        }
        all_finite("x0", x0.iter())?;
        all_finite("w_t", w_t.iter())?;
        let c = (s.mu - 0.5 * s.sigma * s.sigma) * t;
        Ok(&x0 * &w_t.mapv(|w| (c + s.sigma * w).exp()))
    }

    /// [`Gbm::exact_solution`] at grid point `k` of `path` from `x0` (one row per path), started
    /// at the path's first time: the reference of chapter 2's strong-error ladders.
    pub fn solution(
        &self,
        x0: ArrayView2<f64>,
        path: &WienerPath,
        k: usize,
    ) -> Result<Array2<f64>> {
        let times = path.grid().times();
        if k >= times.len() {
            return invalid("k", k, format!("the path has {} grid points", times.len()));
        }
        if times[1] < times[0] {
            return invalid("path.grid", "decreasing", "GBM runs forward in time");
        }
        self.exact_solution(
            x0,
            times[k] - times[0],
            path.values().index_axis(Axis(0), k),
        )
    }

    /// `(E x(t), Var x(t))` from a fixed `x(0) = x0`.
    pub fn moments(&self, x0: f64, t: f64) -> Result<(f64, f64)> {
        let s = self.checked()?;
        finite("x0", x0)?;
        let t = time_nonneg(t)?;
        let m = x0 * (s.mu * t).exp();
        Ok((m, m * m * (s.sigma * s.sigma * t).exp_m1()))
    }
}

impl Sde for Gbm {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
        Ok(&x * self.checked()?.mu)
    }

    /// `g_j(x) = σ x_j`.
    fn diffusion(&self, x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Diagonal(&x * self.checked()?.sigma))
    }

    /// `∂g_j/∂x_j = σ`.
    fn diffusion_derivative(&self, x: ArrayView2<f64>, _t: f64) -> Result<Option<Array2<f64>>> {
        Ok(Some(Array2::from_elem(x.raw_dim(), self.checked()?.sigma)))
    }
}

/// The sample covariance `(1/n) Σ (x_i − x̄)(x_i − x̄)ᵀ` of a batch (`n × d`, `n ≥ 2`).
pub fn sample_covariance(x: ArrayView2<f64>) -> Result<Array2<f64>> {
    let n = x.nrows();
    if n < 2 {
        return invalid("x.nrows()", n, "need at least two samples for a covariance");
    }
    all_finite("x", x.iter())?;
    let mean = x.mean_axis(Axis(0)).expect("n ≥ 2");
    let c = &x - &mean;
    Ok(c.t().dot(&c) / n as f64)
}
