//! The variance-preserving SDE of any noise schedule (seed 002 §5.3, seed 001 §3.3):
//! `dx = −½ β(t) x dt + √β(t) dW` with `ᾱ(t) = exp(−∫₀ᵗ β)`, so that
//! `x_t | x_0 ~ N(√ᾱ(t) x_0, (1 − ᾱ(t)) I)`. With the linear schedule this is [`VpSde`];
//! with Nichol & Dhariwal's cosine schedule ([`CosineSchedule`], seed 002 §5.3's
//! `cosine_schedule`) `β(t) → ∞` as `t → 1`, so the process is stopped at `T < 1`
//! ([`ScheduledVpSde::cosine`]), the continuous counterpart of the seed's clip of `β_i`.
//!
//! [`VpSde`]: super::VpSde

use ndarray::{Array2, ArrayView2};

use crate::error::check_time;
use crate::sde_basics::ForwardSde;
use crate::error::invalid;
use crate::sde_basics::{Diffusion, Sde};
use crate::smld::{CosineSchedule, NoiseSchedule};
use crate::Result;

/// `dx = −½ β(t) x dt + √β(t) dW` on `[0, T]` for a [`NoiseSchedule`] `β`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduledVpSde<N> {
    /// The schedule `β(t)`.
    pub schedule: N,
    t_max: f64,
}

impl<N: NoiseSchedule> ScheduledVpSde<N> {
    /// The VP SDE of `schedule` on `[0, t_max]`, `0 < t_max ≤ 1`, with `β` finite there
    /// (`ᾱ(T)` above machine epsilon).
    pub fn new(schedule: N, t_max: f64) -> Result<Self> {
        if !(t_max > 0.0 && t_max <= 1.0) {
            return invalid("t_max", t_max, "must lie in (0, 1]");
        }
        let (b, abar) = (schedule.beta(t_max), schedule.alpha_bar(t_max));
        // The cosine schedule's ᾱ(1) = 0 exactly, but cos(π/2) rounds to 6e-17, so β(1)
        // comes out finite (≈ 1.6e16): ᾱ(T) below machine epsilon is the real test.
        if !b.is_finite() || abar <= f64::EPSILON {
            return invalid(
                "t_max",
                t_max,
                format!(
                    "β(T) = {b:e}, ᾱ(T) = {abar:e} for the {} schedule: the rate blows up there; stop earlier",
                    schedule.name()
                ),
            );
        }
        Ok(Self { schedule, t_max })
    }
}

impl ScheduledVpSde<CosineSchedule> {
    /// End time of [`cosine`](Self::cosine): `β(T) ≈ 200`, `√ᾱ(T) ≈ 0.016`, so `N(0, I)`
    /// is the marginal at `T` to within 2 % of the data's scale.
    pub const COSINE_T: f64 = 0.99;

    /// The cosine schedule (`s = 0.008`) on `[0, 0.99]`.
    pub fn cosine() -> Self {
        Self {
            schedule: CosineSchedule::default(),
            t_max: Self::COSINE_T,
        }
    }
}

impl<N: NoiseSchedule + Sync> Sde for ScheduledVpSde<N> {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(&x * (-0.5 * self.schedule.beta(check_time(t, self.t_max)?)))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(
            self.schedule.beta(check_time(t, self.t_max)?).sqrt(),
        ))
    }
}

impl<N: NoiseSchedule + Sync> ForwardSde for ScheduledVpSde<N> {
    fn t_max(&self) -> f64 {
        self.t_max
    }

    /// `α = exp(−½∫β)`, `σ² = 1 − exp(−∫β)` (no cancellation near `t = 0`).
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let b = self.schedule.integrated_beta(check_time(t, self.t_max)?) + 0.0;
        Ok(((-0.5 * b).exp(), (-(-b).exp_m1()).sqrt()))
    }

    fn prior_std(&self) -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{linear_sde_coefficients, VpSde};

    /// The kernel lemma: `f = α̇/α = −½β` and `g² = dσ²/dt − 2fσ² = β`, with the derivatives
    /// by central differences (error `O(h²)`).
    #[test]
    fn cosine_kernel_is_the_kernel_of_its_sde() {
        let sde = ScheduledVpSde::cosine();
        let h = 1e-5;
        for t in [0.05, 0.3, 0.6, 0.9, 0.98] {
            let (a, s) = sde.marginal_mean_std(t).unwrap();
            let (ap, sp) = sde.marginal_mean_std(t + h).unwrap();
            let (am, sm) = sde.marginal_mean_std(t - h).unwrap();
            let (f, g) =
                linear_sde_coefficients(t, a, (ap - am) / (2.0 * h), s, (sp - sm) / (2.0 * h))
                    .unwrap();
            let beta = sde.schedule.beta(t);
            assert!(
                (f + 0.5 * beta).abs() < 1e-6 * beta.max(1.0),
                "t = {t}: f = {f}"
            );
            assert!(
                (g * g - beta).abs() < 1e-5 * beta.max(1.0),
                "t = {t}: g² = {}",
                g * g
            );
        }
        let (a, s) = sde.marginal_mean_std(sde.t_max()).unwrap();
        assert!(a < 0.02 && (s - 1.0).abs() < 2e-4, "α(T) = {a}, σ(T) = {s}");
    }

    #[test]
    fn linear_schedule_is_the_vp_sde_and_bad_ends_are_errors() {
        let vp = VpSde::default();
        let sched = ScheduledVpSde::new(vp, 1.0).unwrap();
        for t in [0.0, 0.25, 1.0] {
            assert_eq!(
                sched.marginal_mean_std(t).unwrap(),
                vp.marginal_mean_std(t).unwrap()
            );
        }
        assert!(ScheduledVpSde::new(CosineSchedule::default(), 1.0).is_err());
        assert!(ScheduledVpSde::new(vp, 1.5).is_err());
        assert!(ScheduledVpSde::cosine().marginal_mean_std(0.995).is_err());
    }
}
