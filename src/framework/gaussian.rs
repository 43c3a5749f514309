//! Seed 001 §3.1.6, "可计算例子：高斯动力学的演化": data `p_0 = N(m_0, s_0²)` (1-D) under an
//! affine forward SDE `dx = f(t) x dt + g(t) dW` with kernel `N(α x_0, σ² )`. Everything is
//! Gaussian and in closed form:
//!
//! - marginals `p_t = N(m_t, s_t²)`, `m_t = α m_0`, `s_t² = α² s_0² + σ²`;
//! - score `∂_x log p_t(x) = −(x − m_t)/s_t²`;
//! - reverse SDE `dx = [f x + g² (x − m_t)/s_t²] dt + g dW̄`: linear, its drift is
//!   `a(t) x + b(t)` with `a = f + g²/s_t²`, `b = −g² m_t/s_t²`;
//! - PF-ODE `x' = f x + ½ g² (x − m_t)/s_t²`, solved by the flow map
//!   `x_t = m_t + (s_t/s_u)(x_u − m_u)`: it moves every quantile of `p_u` to the same
//!   quantile of `p_t`, so both keep the forward SDE's marginals at every `t`.

use ndarray::{array, Array2, ArrayView2};

use super::ForwardSde;
use crate::error::{finite, positive};
use crate::sde_basics::{Diffusion, Score};
use crate::{Error, Result};

/// `p_0 = N(mean0, std0²)` under `sde`.
#[derive(Debug, Clone)]
pub struct GaussianExample<S> {
    /// The forward SDE.
    pub sde: S,
    /// `m_0`.
    pub mean0: f64,
    /// `s_0 > 0`.
    pub std0: f64,
}

impl<S: ForwardSde> GaussianExample<S> {
    /// The example with data `N(mean0, std0²)`.
    pub fn new(sde: S, mean0: f64, std0: f64) -> Result<Self> {
        finite("mean0", mean0)?;
        positive("std0", std0)?;
        Ok(Self { sde, mean0, std0 })
    }

    /// `(m_t, s_t)`.
    pub fn marginal(&self, t: f64) -> Result<(f64, f64)> {
        let (a, s) = self.sde.marginal_mean_std(t)?;
        Ok((
            a * self.mean0,
            (a * a * self.std0 * self.std0 + s * s).sqrt(),
        ))
    }

    /// `(f(t), g(t))` of the forward SDE.
    fn coefficients(&self, t: f64) -> Result<(f64, f64)> {
        let one = array![[1.0]];
        let f = self.sde.drift(one.view(), t)?[[0, 0]];
        match self.sde.diffusion(one.view(), t)? {
            Diffusion::Scalar(g) => Ok((f, g)),
            other => Err(Error::Shape(format!(
                "expected a scalar diffusion, got {other:?}"
            ))),
        }
    }

    /// `(a(t), b(t))`: the reverse SDE's drift is `a(t) x + b(t)` (in forward time).
    pub fn reverse_drift(&self, t: f64) -> Result<(f64, f64)> {
        let (f, g) = self.coefficients(t)?;
        let (m, s) = self.marginal(t)?;
        Ok((f + g * g / (s * s), -g * g * m / (s * s)))
    }

    /// The PF-ODE's solution at `to` of the states `x` at `from` (any order of times).
    pub fn flow_map(&self, x: ArrayView2<f64>, from: f64, to: f64) -> Result<Array2<f64>> {
        let (m_u, s_u) = self.marginal(from)?;
        let (m_t, s_t) = self.marginal(to)?;
        Ok(x.mapv(|v| m_t + s_t / s_u * (v - m_u)))
    }
}

impl<S: ForwardSde> Score for GaussianExample<S> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        if x.ncols() != 1 {
            return Err(Error::Shape(format!(
                "the Gaussian example is 1-D, points have d = {}",
                x.ncols()
            )));
        }
        let (m, s) = self.marginal(t)?;
        Ok(x.mapv(|v| -(v - m) / (s * s)))
    }
}
