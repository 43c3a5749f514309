//! Forward SDEs with an affine perturbation kernel (seed 001 §3.2–§3.3, seed 004's table):
//! `dx = f(t) x dt + g(t) dW`, so that `x_t | x_0 ~ N(α(t) x_0, σ(t)² I)`.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::{check_time, positive_range};
use crate::real::Real;
use crate::rng::{self, Rng};
use crate::sde_basics::{Diffusion, ProbabilityFlow, ReverseSde, Sde};
use crate::Result;

/// A forward SDE whose perturbation kernel is `N(α(t) x_0, σ(t)² I)` and whose prior is
/// (approximately) `p_T`.
pub trait ForwardSde: Sde {
    /// The end time `T`.
    fn t_max(&self) -> f64 {
        1.0
    }

    /// `(α(t), σ(t))`: mean factor and standard deviation of the kernel `p_{0t}(x_t | x_0)`.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)>;

    /// The prior's standard deviation (`N(0, σ_prior² I)` approximates `p_T`).
    fn prior_std(&self) -> f64;

    /// One step of the SDE's discrete chain from `t − dt` to `t` (`dt > 0`), score_sde's
    /// `discretize`: `x_t = x_{t−dt} + f + G z`, returned as `(f, G)`. The default is
    /// Euler's, `f = drift(x, t) dt`, `G = g(t) √dt` (score_sde's `SDE.discretize`, which its
    /// sub-VP SDE keeps); the VE SDE gives SMLD's chain and the VP SDE DDPM's.
    fn discretize(&self, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<(Array2<f64>, f64)> {
        match self.diffusion(x, t)? {
            Diffusion::Scalar(g) => Ok((self.drift(x, t)? * dt, g * dt.sqrt())),
            _ => crate::error::invalid(
                "diffusion",
                "a matrix or state-dependent G",
                "discretize needs a scalar g(t)",
            ),
        }
    }

    /// `n` samples of the `d`-dimensional prior.
    fn prior_sample(&self, n: usize, d: usize, rng: &mut Rng) -> Array2<f64> {
        rng::normals(rng, n, d) * self.prior_std()
    }

    /// `log N(x; 0, σ_prior² I)` per row.
    fn prior_log_density(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let s2 = self.prior_std().powi(2);
        let d = x.ncols() as f64;
        let norm = -0.5 * d * (2.0 * std::f64::consts::PI * s2).ln();
        x.map_axis(Axis(1), |r| norm - 0.5 * r.dot(&r) / s2)
    }

    /// The reverse-time SDE `dx = [f − g² s] dt + g dW̄` of this forward SDE given a score
    /// (seed 001 §3.1.3); integrate it on a grid from `T` down to `ε`.
    fn reverse_sde<C>(&self, score: C) -> ReverseSde<&Self, C>
    where
        Self: Sized,
    {
        ReverseSde::new(self, score)
    }

    /// The probability-flow ODE `dx/dt = f − ½ g² s` of this forward SDE given a score
    /// (seed 001 §3.1.4).
    fn probability_flow<C>(&self, score: C) -> ProbabilityFlow<&Self, C>
    where
        Self: Sized,
    {
        ProbabilityFlow::new(self, score)
    }
}

impl<S: ForwardSde + ?Sized> ForwardSde for &S {
    fn t_max(&self) -> f64 {
        (**self).t_max()
    }
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        (**self).marginal_mean_std(t)
    }
    fn prior_std(&self) -> f64 {
        (**self).prior_std()
    }
    fn prior_sample(&self, n: usize, d: usize, rng: &mut Rng) -> Array2<f64> {
        (**self).prior_sample(n, d, rng)
    }
    fn discretize(&self, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<(Array2<f64>, f64)> {
        (**self).discretize(x, t, dt)
    }
    fn prior_log_density(&self, x: ArrayView2<f64>) -> Array1<f64> {
        (**self).prior_log_density(x)
    }
}


/// Variance-preserving SDE (seed 001 §3.3): `dx = −½β(t) x dt + √β(t) dW`, `β` linear on `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpSde {
    /// `β(0)`.
    pub beta_min: f64,
    /// `β(1)`.
    pub beta_max: f64,
}

impl VpSde {
    /// `β(t) = β_min + t (β_max − β_min)`; requires `0 < β_min ≤ β_max`.
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        positive_range(("beta_min", beta_min), ("beta_max", beta_max), true)?;
        Ok(Self { beta_min, beta_max })
    }

    /// `β(t)`.
    pub fn beta(&self, t: f64) -> f64 {
        self.beta_min + t * (self.beta_max - self.beta_min)
    }

    /// `∫₀ᵗ β(s) ds`.
    pub fn integrated_beta(&self, t: f64) -> f64 {
        self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t
    }
}

impl Default for VpSde {
    /// The usual `β_min = 0.1`, `β_max = 20` (Song et al. 2021; the bench's anchor).
    fn default() -> Self {
        Self {
            beta_min: 0.1,
            beta_max: 20.0,
        }
    }
}

/// In `f64` and `f32` (the coefficients are computed in `f64`, then rounded).
impl<F: Real> Sde<F> for VpSde {
    fn drift(&self, x: ArrayView2<F>, t: f64) -> Result<Array2<F>> {
        Ok(&x * F::of(-0.5 * self.beta(check_time(t, 1.0)?)))
    }

    fn diffusion(&self, _x: ArrayView2<F>, t: f64) -> Result<Diffusion<F>> {
        Ok(Diffusion::Scalar(self.beta(check_time(t, 1.0)?).sqrt()))
    }
}

impl ForwardSde for VpSde {
    /// `α = exp(−½∫β)`, `σ² = 1 − exp(−∫β)`.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let b = self.integrated_beta(check_time(t, 1.0)?);
        Ok(((-0.5 * b).exp(), (-(-b).exp_m1()).sqrt()))
    }

    fn prior_std(&self) -> f64 {
        1.0
    }

    /// DDPM's chain (score_sde's `VPSDE.discretize`): `x_t = √(1 − β) x_{t−dt} + √β z` with the
    /// step's exact `1 − β = (α(t)/α(t − dt))²` (score_sde uses `β_i = β(t_i)/N`, its first-order
    /// value on its own grid).
    fn discretize(&self, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<(Array2<f64>, f64)> {
        let a = self.marginal_mean_std(t)?.0 / self.marginal_mean_std(t - dt)?.0;
        Ok((&x * (a - 1.0), (1.0 - a * a).sqrt()))
    }
}
