//! The variance-exploding SDE (seed 001 §3.1.1 and Table 1, seed 000 §3.3): the continuous
//! limit of SMLD/NCSN's geometric noise ladder.
//!
//! `σ(t) = σ_min (σ_max/σ_min)^t`, `dx = g(t) dW` with `g(t) = √(dσ²/dt) = σ(t) √(2 ln(σ_max/σ_min))`,
//! no drift. Started from the data at `t = 0`, the kernel is `x_t | x_0 ~ N(x_0, (σ(t)² − σ_min²) I)`
//! (seed 001 Table 1: variance `σ²(t) − σ²(0)`); the prior is `N(0, σ_max² I)`.
//!
//! Song et al.'s code uses `σ(t)` itself as the kernel's standard deviation, i.e. it treats the
//! data as already perturbed by `σ_min`; here the kernel is the exact law of this SDE, so the
//! mixture marginals ([`super::MixtureMarginal`]) are exact for simulations started at the data.

use ndarray::{Array2, ArrayView2};

use super::ForwardSde;
use crate::error::{check_time, positive_range};
use crate::sde_basics::{Diffusion, Sde};
use crate::Result;

/// Variance-exploding SDE with the geometric noise schedule of NCSN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VeSde {
    /// `σ(0)`, the smallest noise level.
    pub sigma_min: f64,
    /// `σ(1)`, the largest noise level (the prior's standard deviation).
    pub sigma_max: f64,
}

impl VeSde {
    /// The VE SDE with `0 < σ_min < σ_max`.
    pub fn new(sigma_min: f64, sigma_max: f64) -> Result<Self> {
        positive_range(("sigma_min", sigma_min), ("sigma_max", sigma_max), false)?;
        Ok(Self {
            sigma_min,
            sigma_max,
        })
    }

    /// `ln(σ_max/σ_min)`.
    fn log_ratio(&self) -> f64 {
        (self.sigma_max / self.sigma_min).ln()
    }

    /// `σ(t) = σ_min (σ_max/σ_min)^t`.
    pub fn sigma(&self, t: f64) -> Result<f64> {
        Ok(self.sigma_min * (check_time(t, 1.0)? * self.log_ratio()).exp())
    }

    /// `g(t) = √(dσ²/dt) = σ(t) √(2 ln(σ_max/σ_min))`.
    pub fn g(&self, t: f64) -> Result<f64> {
        Ok(self.sigma(t)? * (2.0 * self.log_ratio()).sqrt())
    }

    /// The kernel variance `σ(t)² − σ_min² = ∫₀ᵗ g(s)² ds`.
    pub fn variance(&self, t: f64) -> Result<f64> {
        // σ_min² (r^{2t} − 1), written with expm1 so that small t keeps its digits.
        let t = check_time(t, 1.0)?;
        Ok(self.sigma_min.powi(2) * (2.0 * t * self.log_ratio()).exp_m1())
    }
}

impl Default for VeSde {
    /// `σ_min = 0.01`, `σ_max = 50` (Song et al. 2021, CIFAR-10); toy data want `σ_max`
    /// about the largest distance between data points (Song & Ermon 2020).
    fn default() -> Self {
        Self {
            sigma_min: 0.01,
            sigma_max: 50.0,
        }
    }
}


impl Sde for VeSde {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        check_time(t, 1.0)?;
        Ok(Array2::zeros(x.dim()))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(self.g(t)?))
    }
}

impl ForwardSde for VeSde {
    /// `α = 1`, `σ = √(σ(t)² − σ_min²)`.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        Ok((1.0, self.variance(t)?.sqrt()))
    }

    /// SMLD's chain (score_sde's `VESDE.discretize`): `f = 0`,
    /// `G = √(σ(t)² − σ(t − dt)²)` — the same numbers as score_sde's on its geometric grid.
    fn discretize(&self, x: ArrayView2<f64>, t: f64, dt: f64) -> Result<(Array2<f64>, f64)> {
        let g2 = self.variance(t)? - self.variance(t - dt)?;
        Ok((Array2::zeros(x.dim()), g2.sqrt()))
    }

    fn prior_std(&self) -> f64 {
        self.sigma_max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_squared_is_the_derivative_of_the_variance() {
        let ve = VeSde::new(0.01, 10.0).unwrap();
        for t in [0.05, 0.3, 0.7, 0.95] {
            let h = 1e-6;
            let fd = (ve.variance(t + h).unwrap() - ve.variance(t - h).unwrap()) / (2.0 * h);
            let g2 = ve.g(t).unwrap().powi(2);
            assert!((fd / g2 - 1.0).abs() < 1e-7, "t = {t}: {fd} vs {g2}");
        }
        assert_eq!(ve.sigma(0.0).unwrap(), 0.01);
        assert!((ve.sigma(1.0).unwrap() - 10.0).abs() < 1e-12);
        assert_eq!(ve.variance(0.0).unwrap(), 0.0);
    }

    #[test]
    fn bad_parameters_name_the_value() {
        let e = VeSde::new(10.0, 1.0).unwrap_err().to_string();
        assert!(e.contains("sigma_min") && e.contains("10"), "{e}");
        let e = VeSde::new(1.0, 1.0).unwrap_err().to_string();
        assert!(e.contains("sigma_min"), "{e}");
        let e = VeSde::new(-0.1, 1.0).unwrap_err().to_string();
        assert!(e.contains("-0.1"), "{e}");
        assert!(VeSde::new(0.0, 1.0).is_err());
        assert!(VeSde::new(0.1, f64::INFINITY).is_err());
        let ve = VeSde::default();
        assert!(ve.sigma(1.5).is_err());
    }
}
