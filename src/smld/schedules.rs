//! Noise schedules (seed 000 §3.2.1, §3.3.3, §3.6.3 and A.2): one interface, [`NoiseSchedule`],
//! for the rate `β(t)` of a variance-preserving process on `t ∈ [0, 1]` and what follows from it,
//!
//! - `ᾱ(t) = exp(−∫₀ᵗ β(s) ds)`: the signal kept, `x_t = √ᾱ x_0 + √(1 − ᾱ) ε`;
//! - `SNR(t) = ᾱ / (1 − ᾱ)`.
//!
//! Schedules: linear (the [`VpSde`] itself, DDPM's continuous limit), cosine defined on `ᾱ`
//! (Nichol & Dhariwal 2021), geometric/exponential `β(t) = β_min (β_max/β_min)^t`, and a
//! [`DiscreteSchedule`] `β_1 … β_N` with its continuous rate `β(t) = β_i / Δt` (seed 000 §3.3.3).
//! [`CosSquaredBeta`] is the seed's "cosine" `β(t) = β₀ cos²(πt/2T)`, kept to show erratum (d).

use crate::error::{invalid, positive, positive_range};
use crate::sde_basics::VpSde;
use crate::Result;

/// A variance-preserving noise schedule on `t ∈ [0, 1]`.
pub trait NoiseSchedule {
    /// A short name for legends.
    fn name(&self) -> String;

    /// The continuous rate `β(t)`.
    fn beta(&self, t: f64) -> f64;

    /// `∫₀ᵗ β(s) ds`.
    fn integrated_beta(&self, t: f64) -> f64;

    /// `ᾱ(t) = exp(−∫₀ᵗ β)`.
    fn alpha_bar(&self, t: f64) -> f64 {
        (-self.integrated_beta(t)).exp()
    }

    /// `SNR(t) = ᾱ / (1 − ᾱ)`, with `1 − ᾱ` computed without cancellation.
    fn snr(&self, t: f64) -> f64 {
        // `+ 0.0` turns a −0 integral (t = 0) into +0, so SNR(0) = +∞ rather than −∞.
        let b = self.integrated_beta(t) + 0.0;
        (-b).exp() / -(-b).exp_m1()
    }
}

/// The linear schedule `β(t) = β_min + t (β_max − β_min)` is the VP SDE's own (seed 001 §3.3).
impl NoiseSchedule for VpSde {
    fn name(&self) -> String {
        "linear".into()
    }

    fn beta(&self, t: f64) -> f64 {
        VpSde::beta(self, t)
    }

    fn integrated_beta(&self, t: f64) -> f64 {
        VpSde::integrated_beta(self, t)
    }
}

/// The cosine schedule of Nichol & Dhariwal (2021), defined on `ᾱ`:
/// `ᾱ(t) = f(t)/f(0)`, `f(t) = cos²(π/2 · (t + s)/(1 + s))`, so that `ᾱ(1) = 0`.
/// Its rate `β(t) = −d ln ᾱ/dt = π/(1 + s) · tan(π/2 · (t + s)/(1 + s))` grows without bound
/// as `t → 1` (the price of reaching the prior exactly); discretisations clip it
/// ([`DiscreteSchedule::from_continuous`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineSchedule {
    /// The offset `s` that keeps `β` small near `t = 0` (0.008 in the paper).
    pub s: f64,
}

impl CosineSchedule {
    /// The cosine schedule with offset `s > 0`.
    pub fn new(s: f64) -> Result<Self> {
        positive("s", s)?;
        Ok(Self { s })
    }

    fn phase(&self, t: f64) -> f64 {
        std::f64::consts::FRAC_PI_2 * (t + self.s) / (1.0 + self.s)
    }
}

impl Default for CosineSchedule {
    /// `s = 0.008` (Nichol & Dhariwal 2021).
    fn default() -> Self {
        Self { s: 0.008 }
    }
}

impl NoiseSchedule for CosineSchedule {
    fn name(&self) -> String {
        "cosine (on ᾱ)".into()
    }

    fn beta(&self, t: f64) -> f64 {
        std::f64::consts::PI / (1.0 + self.s) * self.phase(t).tan()
    }

    fn integrated_beta(&self, t: f64) -> f64 {
        -2.0 * (self.phase(t).cos() / self.phase(0.0).cos()).ln()
    }

    fn alpha_bar(&self, t: f64) -> f64 {
        (self.phase(t).cos() / self.phase(0.0).cos()).powi(2)
    }
}

/// The geometric (exponential) schedule `β(t) = β_min (β_max/β_min)^t` (seed 000 §3.6.3, A.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeometricSchedule {
    /// `β(0)`.
    pub beta_min: f64,
    /// `β(1)`.
    pub beta_max: f64,
}

impl GeometricSchedule {
    /// `β(t) = β_min (β_max/β_min)^t`, requires `0 < β_min ≤ β_max`.
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        positive_range(("beta_min", beta_min), ("beta_max", beta_max), true)?;
        Ok(Self { beta_min, beta_max })
    }

    fn log_ratio(&self) -> f64 {
        (self.beta_max / self.beta_min).ln()
    }
}

impl NoiseSchedule for GeometricSchedule {
    fn name(&self) -> String {
        "geometric".into()
    }

    fn beta(&self, t: f64) -> f64 {
        self.beta_min * (t * self.log_ratio()).exp()
    }

    /// `β_min ((β_max/β_min)^t − 1) / ln(β_max/β_min)`, and `β_min t` when the two are equal.
    fn integrated_beta(&self, t: f64) -> f64 {
        let l = self.log_ratio();
        if l == 0.0 {
            self.beta_min * t
        } else {
            self.beta_min * (t * l).exp_m1() / l
        }
    }
}

/// The seed's "cosine" schedule as written, `β(t) = β_start + (β_end − β_start) cos²(πt/2)`
/// (seed 000 A.2; §3.6.3's `β₀ cos²(πt/2T)` is `β_start = 0`, `β_end = β₀`, `T = 1`).
///
/// **Erratum (d).** It *decreases* in `t` (most noise is added at the start) and its
/// `ᾱ(1) = exp(−(β_start + β_end)/2)` is fixed by `β_end` alone, never 0; it is not the cosine
/// schedule of Nichol & Dhariwal ([`CosineSchedule`]), which is a cosine in `ᾱ`, not in `β`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosSquaredBeta {
    /// `β(1)`.
    pub beta_start: f64,
    /// `β(0)`.
    pub beta_end: f64,
}

impl CosSquaredBeta {
    /// Requires `β_start ≥ 0`, `β_end > 0`.
    pub fn new(beta_start: f64, beta_end: f64) -> Result<Self> {
        if !(beta_start.is_finite() && beta_start >= 0.0) {
            return invalid("beta_start", beta_start, "must be finite and ≥ 0");
        }
        positive("beta_end", beta_end)?;
        Ok(Self {
            beta_start,
            beta_end,
        })
    }
}

impl NoiseSchedule for CosSquaredBeta {
    fn name(&self) -> String {
        "β₀cos²(πt/2) (seed, as written)".into()
    }

    fn beta(&self, t: f64) -> f64 {
        let c = (std::f64::consts::FRAC_PI_2 * t).cos();
        self.beta_start + (self.beta_end - self.beta_start) * c * c
    }

    /// `β_start t + (β_end − β_start) (t/2 + sin(πt)/(2π))`.
    fn integrated_beta(&self, t: f64) -> f64 {
        let pi = std::f64::consts::PI;
        self.beta_start * t
            + (self.beta_end - self.beta_start) * (0.5 * t + (pi * t).sin() / (2.0 * pi))
    }
}

/// A discrete schedule `β_1 … β_N` (DDPM: `x_i = √(1 − β_i) x_{i−1} + √β_i ε`) on the grid
/// `t_i = i/N`, `Δt = 1/N`.
///
/// As a [`NoiseSchedule`] it is the piecewise-constant rate `β(t) = β_i / Δt` on `(t_{i−1}, t_i]`
/// (seed 000 §3.3.3: `β(t) = lim β_i / Δt`). The chain itself keeps `ᾱ_i = Π_{j≤i} (1 − β_j)`
/// ([`alpha_bar_at_level`](Self::alpha_bar_at_level)), which differs from `exp(−Σ β_j)` by
/// `O(Δt)`: the DDPM-to-VP limit.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteSchedule {
    betas: Vec<f64>,
}

/// Nichol & Dhariwal's clip of the discrete cosine `β_i` near `t = 1`.
pub const MAX_BETA: f64 = 0.999;

impl DiscreteSchedule {
    /// A schedule from `β_1 … β_N`, each in `(0, 1)`.
    pub fn new(betas: Vec<f64>) -> Result<Self> {
        if betas.is_empty() {
            return invalid("betas", "[]", "need at least one level");
        }
        if let Some((i, b)) = betas
            .iter()
            .enumerate()
            .find(|(_, b)| !(b.is_finite() && **b > 0.0 && **b < 1.0))
        {
            return invalid(
                "betas",
                format!("β_{} = {b}", i + 1),
                "every β_i must lie in (0, 1)",
            );
        }
        Ok(Self { betas })
    }

    /// Ho et al.'s DDPM schedule: `β_i` linear from `beta_1` to `beta_n` over `n` levels
    /// (`1e-4`, `0.02`, `1000` in the paper; its limit is the VP SDE with `β_min = N β_1`,
    /// `β_max = N β_N`).
    pub fn ddpm_linear(beta_1: f64, beta_n: f64, n: usize) -> Result<Self> {
        if n < 2 {
            return invalid("n", n, "need at least two levels");
        }
        Self::new(
            (0..n)
                .map(|i| beta_1 + (beta_n - beta_1) * i as f64 / (n - 1) as f64)
                .collect(),
        )
    }

    /// The seed's conversion `β_i = β(t_i) Δt`, `t_i = i/n` (seed 000 §3.3.3): first-order
    /// accurate, and an error where `β(t_i) Δt ≥ 1` (the cosine schedule near `t = 1`).
    pub fn sampled(schedule: &(impl NoiseSchedule + ?Sized), n: usize) -> Result<Self> {
        if n == 0 {
            return invalid("n", n, "need at least one level");
        }
        let dt = 1.0 / n as f64;
        Self::new((1..=n).map(|i| schedule.beta(i as f64 * dt) * dt).collect())
    }

    /// The `n`-level discretisation of a continuous schedule whose chain has exactly the
    /// continuous `ᾱ` at the grid points: `β_i = 1 − ᾱ(t_i)/ᾱ(t_{i−1}) = 1 − exp(−∫ β)`
    /// (≈ `β(t_i) Δt` to first order), clipped at [`MAX_BETA`] as Nichol & Dhariwal do.
    pub fn from_continuous(schedule: &(impl NoiseSchedule + ?Sized), n: usize) -> Result<Self> {
        if n == 0 {
            return invalid("n", n, "need at least one level");
        }
        let b: Vec<f64> = (0..=n)
            .map(|i| schedule.integrated_beta(i as f64 / n as f64))
            .collect();
        Self::new(
            b.windows(2)
                .map(|w| (-(-(w[1] - w[0])).exp_m1()).min(MAX_BETA))
                .collect(),
        )
    }

    /// `β_1 … β_N`.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// The number of levels `N`.
    pub fn levels(&self) -> usize {
        self.betas.len()
    }

    /// The chain's `ᾱ_i = Π_{j≤i} (1 − β_j)` for `i = 0 … N` (`ᾱ_0 = 1`).
    pub fn alpha_bar_at_level(&self, i: usize) -> Result<f64> {
        if i > self.levels() {
            return invalid("i", i, format!("must be ≤ N = {}", self.levels()));
        }
        Ok(self.betas[..i]
            .iter()
            .map(|b| (-b).ln_1p())
            .sum::<f64>()
            .exp())
    }
}

impl NoiseSchedule for DiscreteSchedule {
    fn name(&self) -> String {
        format!("discrete, N = {}", self.levels())
    }

    fn beta(&self, t: f64) -> f64 {
        let n = self.levels();
        let i = ((t * n as f64).ceil() as usize).clamp(1, n);
        self.betas[i - 1] * n as f64
    }

    fn integrated_beta(&self, t: f64) -> f64 {
        let n = self.levels() as f64;
        let t = t.clamp(0.0, 1.0);
        let full = ((t * n).floor() as usize).min(self.levels());
        let done: f64 = self.betas[..full].iter().sum();
        let partial = if full < self.levels() {
            self.betas[full] * (t * n - full as f64)
        } else {
            0.0
        };
        done + partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrated_beta_is_the_integral_of_beta() {
        let schedules: Vec<Box<dyn NoiseSchedule>> = vec![
            Box::new(VpSde::default()),
            Box::new(CosineSchedule::default()),
            Box::new(GeometricSchedule::new(0.1, 20.0).unwrap()),
            Box::new(CosSquaredBeta::new(0.1, 20.0).unwrap()),
        ];
        for s in &schedules {
            for t in [0.1, 0.5, 0.9] {
                // Simpson's rule on 2000 panels: error far below 1e-9 for these smooth rates.
                let m = 2000;
                let h = t / m as f64;
                let simpson: f64 = (0..=m)
                    .map(|k| {
                        let w = if k == 0 || k == m {
                            1.0
                        } else if k % 2 == 1 {
                            4.0
                        } else {
                            2.0
                        };
                        w * s.beta(k as f64 * h)
                    })
                    .sum::<f64>()
                    * h
                    / 3.0;
                let exact = s.integrated_beta(t);
                assert!(
                    (simpson - exact).abs() < 1e-9 * exact.max(1.0),
                    "{} at t = {t}: {simpson} vs {exact}",
                    s.name()
                );
            }
        }
    }

    #[test]
    fn cosine_reaches_the_prior_and_starts_gently() {
        let c = CosineSchedule::default();
        assert!((c.alpha_bar(0.0) - 1.0).abs() < 1e-15);
        assert!(c.alpha_bar(1.0) < 1e-30);
        assert!((c.alpha_bar(0.5) - (-c.integrated_beta(0.5)).exp()).abs() < 1e-14);
        assert!(c.beta(0.0) < 0.04 && c.beta(0.99) > 100.0);
        let d = DiscreteSchedule::from_continuous(&c, 1000).unwrap();
        assert_eq!(*d.betas().last().unwrap(), MAX_BETA);
    }

    #[test]
    fn bad_schedules_name_the_value() {
        let e = DiscreteSchedule::new(vec![0.1, 1.2])
            .unwrap_err()
            .to_string();
        assert!(e.contains("β_2 = 1.2"), "{e}");
        assert!(DiscreteSchedule::new(vec![]).is_err());
        assert!(DiscreteSchedule::new(vec![0.0]).is_err());
        let e = GeometricSchedule::new(1.0, 0.5).unwrap_err().to_string();
        assert!(e.contains("beta_max") && e.contains("0.5"), "{e}");
        assert!(CosineSchedule::new(-0.1).is_err());
        assert!(CosSquaredBeta::new(-1.0, 1.0).is_err());
        assert!(DiscreteSchedule::ddpm_linear(1e-4, 0.02, 1).is_err());
        let d = DiscreteSchedule::ddpm_linear(1e-4, 0.02, 10).unwrap();
        assert!(d.alpha_bar_at_level(11).is_err());
    }
}
