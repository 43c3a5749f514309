//! The sub-VP SDE (Song et al. 2021, §3.4; the third member of the family beside seed 001
//! §3.3's VE and VP): `dx = −½β(t) x dt + √(β(t)(1 − e^{−2∫₀ᵗβ})) dW`.
//!
//! Its drift is VP's, its diffusion is smaller, so its kernel variance stays below VP's:
//! `p_t(x_t | x_0) = N(e^{−½∫β} x_0, (1 − e^{−∫β})² I)` — the standard deviation is VP's
//! variance. The prior is `N(0, I)`.

use ndarray::{Array2, ArrayView2};

use super::forward::{ForwardSde, VpSde};
use crate::error::check_time;
use crate::sde_basics::{Diffusion, Sde};
use crate::Result;

/// Sub-VP SDE with VP's linear `β(t) = β_min + t (β_max − β_min)` on `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubVpSde {
    /// The `β` schedule, shared with the VP SDE.
    pub schedule: VpSde,
}

impl SubVpSde {
    /// Requires `0 < β_min ≤ β_max` (as [`VpSde::new`]).
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        Ok(Self {
            schedule: VpSde::new(beta_min, beta_max)?,
        })
    }
}

impl Default for SubVpSde {
    /// `β_min = 0.1`, `β_max = 20`, as [`VpSde::default`].
    fn default() -> Self {
        Self {
            schedule: VpSde::default(),
        }
    }
}

impl Sde for SubVpSde {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.schedule.drift(x, t)
    }

    /// `g(t) = √(β(t) (1 − e^{−2∫₀ᵗβ}))`.
    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        let t = check_time(t, 1.0)?;
        let b = self.schedule.integrated_beta(t);
        let g2 = self.schedule.beta(t) * -(-2.0 * b).exp_m1();
        Ok(Diffusion::Scalar(g2.sqrt()))
    }
}

impl ForwardSde for SubVpSde {
    /// `(e^{−½∫β}, 1 − e^{−∫β})`.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let b = self.schedule.integrated_beta(check_time(t, 1.0)?);
        Ok(((-0.5 * b).exp(), -(-b).exp_m1()))
    }

    fn prior_std(&self) -> f64 {
        1.0
    }
}
