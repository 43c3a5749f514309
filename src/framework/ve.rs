//! TEMPORARY minimal VE SDE written on the chapter-4 branch so that Table 1 and the VE erratum
//! can be checked before chapter 3's `framework/ve.rs` lands. The integrator keeps chapter 3's
//! file (same type name, constructor and `Sde`/`ForwardSde` behaviour) and drops this one.
//!
//! Variance-exploding SDE (seed 001 §3.3, Table 1): `dx = g(t) dW` with
//! `g(t) = √(dσ²(t)/dt)` and the NCSN schedule `σ(t) = σ_min (σ_max/σ_min)^t`, so
//! `p_t(x_t | x_0) = N(x_0, (σ²(t) − σ²(0)) I)` and the prior is `N(0, σ²(1) I)`.

use ndarray::{Array2, ArrayView2};

use super::forward::{check_time, ForwardSde};
use crate::error::{invalid, positive};
use crate::sde_basics::{Diffusion, Sde};
use crate::Result;

/// VE SDE with the geometric (NCSN) noise schedule on `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VeSde {
    /// `σ(0)`.
    pub sigma_min: f64,
    /// `σ(1)`.
    pub sigma_max: f64,
}

impl VeSde {
    /// Requires `0 < σ_min < σ_max`.
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        positive("sigma_min", sigma_min)?;
        positive("sigma_max", sigma_max)?;
        if sigma_max <= sigma_min {
            return invalid(
                "sigma_max",
                sigma_max,
                format!("must be > sigma_min = {sigma_min}"),
            );
        }
        Ok(Self {
            sigma_min,
            sigma_max,
        })
    }

    /// `σ(t) = σ_min (σ_max/σ_min)^t`.
    pub fn sigma(&self, t: f64) -> f64 {
        self.sigma_min * (self.sigma_max / self.sigma_min).powf(t)
    }
}

impl Sde for VeSde {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        check_time(t, 1.0)?;
        Ok(Array2::zeros(x.dim()))
    }

    /// `g(t) = √(dσ²/dt) = σ(t) √(2 ln(σ_max/σ_min))`.
    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        let t = check_time(t, 1.0)?;
        let rate = 2.0 * (self.sigma_max / self.sigma_min).ln();
        Ok(Diffusion::Scalar(self.sigma(t) * rate.sqrt()))
    }
}

impl ForwardSde for VeSde {
    /// `(1, √(σ²(t) − σ²(0)))`.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let t = check_time(t, 1.0)?;
        Ok((1.0, (self.sigma(t).powi(2) - self.sigma_min.powi(2)).sqrt()))
    }

    fn prior_std(&self) -> f64 {
        self.sigma_max
    }
}
