//! The k-diffusion samplers (Crowson's `k_diffusion/sampling.py`; Karras et al. 2022, Lu et al.
//! 2022; seed 000 §2.5.3) with its step conventions, on any forward SDE of the crate.
//!
//! **The mapping.** k-diffusion works in the VE form `x̃ = x_0 + σ̃ z` with a denoiser
//! `D(x̃, σ̃)`. Every forward SDE of the crate is that form after dividing by `α`
//! (`σ̃ = σ/α`, see [`super::Schedule`]'s σ view), and its denoiser is Tweedie's
//! `D = x̂_0 = (x + σ² s)/α` ([`Model::denoise`]). A step from `t` to `t_next` therefore takes
//! `x̃ = x/α(t)`, runs k-diffusion's update from `σ̃(t)` to `σ̃(t_next)` (its extra
//! evaluations at `σ̃` between grid points at the times `λ⁻¹(−log σ̃)`), and returns
//! `α(t_next) x̃`. On the crate's VE SDE `α = 1`: the states are k-diffusion's own, and
//! `tests/samplers_kdiffusion.rs` compares them with the fixtures made by the real package.
//!
//! `λ = −log σ̃` is k-diffusion's `t` (`t_fn`) in the DPM-Solver++ steps. Every method lands on
//! `σ = 0` its own way (an Euler step onto `x̂_0`, or `x̂_0` itself; `lms` keeps its multistep
//! formula), so a grid ending at `t = 0` ([`super::Schedule::to_zero`]) runs it unchanged.
//!
//! | name | update | NFE per step |
//! |---|---|---|
//! | `euler` | Euler in σ̃ on `dx̃/dσ̃ = (x̃ − D)/σ̃` | 1 |
//! | `heun` | Heun (explicit trapezoid) in σ̃, Euler onto σ̃ = 0 | 2 |
//! | `dpm_2` | midpoint at the geometric mean `√(σ̃_i σ̃_{i+1})` | 2 |
//! | `lms` | linear multistep of order ≤ 4 in σ̃, Lagrange basis integrated exactly | 1 |
//! | `dpmpp_2m` | DPM-Solver++(2M) | 1 |
//! | `euler_ancestral` | Euler to `σ_down`, noise `σ_up` | 1 |
//! | `dpm_2_ancestral` | `dpm_2` to `σ_down`, noise `σ_up` | 2 |
//! | `dpmpp_2s_ancestral` | DPM-Solver++(2S) to `σ_down`, noise `σ_up` | 2 |
//! | `dpmpp_sde` | stochastic DPM-Solver++ with a midpoint (`r = ½`) | 2 |
//! | `dpmpp_2m_sde` | DPM-Solver++(2M) SDE, midpoint or Heun correction | 1 |
//! | `dpmpp_3m_sde` | DPM-Solver++(3M) SDE | 1 |
//!
//! The ancestral split (`get_ancestral_step`): `σ_up = min(σ̃', η √(σ̃'² (σ̃² − σ̃'²)/σ̃²))`,
//! `σ_down = √(σ̃'² − σ_up²)`. The noise is the crate's seeded normals (same seed → same
//! numbers); `dpmpp_sde` draws its two increments as one Brownian path in σ̃ (the midpoint
//! increment, then the rest), as k-diffusion's Brownian-tree sampler does. With `η = 0` the
//! stochastic methods are deterministic and match k-diffusion to rounding.

use ndarray::{Array2, ArrayView2};

use super::schedule::{sigma_tilde, time_of_sigma};
use super::{History, Model, Sampler, Schedule, Spacing};
use crate::error::invalid;
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// The k-diffusion update rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KMethod {
    /// `sample_euler` (no churn).
    Euler,
    /// `sample_heun` (no churn).
    Heun,
    /// `sample_dpm_2` (no churn).
    Dpm2,
    /// `sample_lms` with its order (k-diffusion's default 4).
    Lms {
        /// Order `1 ≤ order ≤ 8`, at most the number of steps.
        order: usize,
    },
    /// `sample_dpmpp_2m`.
    DpmPP2M,
    /// `sample_euler_ancestral`.
    EulerAncestral,
    /// `sample_dpm_2_ancestral`.
    Dpm2Ancestral,
    /// `sample_dpmpp_2s_ancestral`.
    DpmPP2SAncestral,
    /// `sample_dpmpp_sde` (`r = ½`).
    DpmPPSde,
    /// `sample_dpmpp_2m_sde`; `heun` picks `solver_type='heun'` over `'midpoint'`.
    DpmPP2MSde {
        /// Heun's correction instead of the midpoint's.
        heun: bool,
    },
    /// `sample_dpmpp_3m_sde`.
    DpmPP3MSde,
}

impl KMethod {
    /// The method by its k-diffusion name (`"euler"`, …, `"dpmpp_2m_sde_heun"`).
    pub fn by_name(name: &str) -> Result<Self> {
        Ok(match name {
            "euler" => KMethod::Euler,
            "heun" => KMethod::Heun,
            "dpm_2" => KMethod::Dpm2,
            "lms" => KMethod::Lms { order: 4 },
            "dpmpp_2m" => KMethod::DpmPP2M,
            "euler_ancestral" => KMethod::EulerAncestral,
            "dpm_2_ancestral" => KMethod::Dpm2Ancestral,
            "dpmpp_2s_ancestral" => KMethod::DpmPP2SAncestral,
            "dpmpp_sde" => KMethod::DpmPPSde,
            "dpmpp_2m_sde" => KMethod::DpmPP2MSde { heun: false },
            "dpmpp_2m_sde_heun" => KMethod::DpmPP2MSde { heun: true },
            "dpmpp_3m_sde" => KMethod::DpmPP3MSde,
            _ => {
                return invalid(
                    "k-diffusion sampler name",
                    format!("{name:?}"),
                    format!(
                        "known: {} (dpm_fast and dpm_adaptive are DpmFast and DpmAdaptive)",
                        Self::NAMES.join(", ")
                    ),
                )
            }
        })
    }

    /// Every name [`Self::by_name`] knows.
    pub const NAMES: [&'static str; 12] = [
        "euler",
        "heun",
        "dpm_2",
        "lms",
        "dpmpp_2m",
        "euler_ancestral",
        "dpm_2_ancestral",
        "dpmpp_2s_ancestral",
        "dpmpp_sde",
        "dpmpp_2m_sde",
        "dpmpp_2m_sde_heun",
        "dpmpp_3m_sde",
    ];

    /// Its k-diffusion name.
    pub fn name(self) -> String {
        match self {
            KMethod::Euler => "euler".into(),
            KMethod::Heun => "heun".into(),
            KMethod::Dpm2 => "dpm_2".into(),
            KMethod::Lms { order } => format!("lms (order {order})"),
            KMethod::DpmPP2M => "dpmpp_2m".into(),
            KMethod::EulerAncestral => "euler_ancestral".into(),
            KMethod::Dpm2Ancestral => "dpm_2_ancestral".into(),
            KMethod::DpmPP2SAncestral => "dpmpp_2s_ancestral".into(),
            KMethod::DpmPPSde => "dpmpp_sde".into(),
            KMethod::DpmPP2MSde { heun: false } => "dpmpp_2m_sde".into(),
            KMethod::DpmPP2MSde { heun: true } => "dpmpp_2m_sde (heun)".into(),
            KMethod::DpmPP3MSde => "dpmpp_3m_sde".into(),
        }
    }

    /// True for the methods that take `η` and `s_noise`.
    pub fn is_stochastic(self) -> bool {
        matches!(
            self,
            KMethod::EulerAncestral
                | KMethod::Dpm2Ancestral
                | KMethod::DpmPP2SAncestral
                | KMethod::DpmPPSde
                | KMethod::DpmPP2MSde { .. }
                | KMethod::DpmPP3MSde
        )
    }
}

/// A k-diffusion sampler: its method, its schedule, `η` and `s_noise`.
#[derive(Debug, Clone, PartialEq)]
pub struct KDiffusion {
    /// The update rule.
    pub method: KMethod,
    /// The grid (default: Karras ρ = 7 from `T` to `ε`, then onto `σ = 0`, as k-diffusion).
    pub schedule: Schedule,
    /// Noise scale `η ∈ [0, 1]` of the stochastic methods (`0`: deterministic).
    pub eta: f64,
    /// Multiplier of the injected noise (k-diffusion's `s_noise`, default 1).
    pub s_noise: f64,
}

impl KDiffusion {
    /// `method` on `steps` steps of Karras's schedule ending at `σ = 0`, `η = 1`, `s_noise = 1`.
    pub fn new(method: KMethod, steps: usize) -> Self {
        Self {
            method,
            schedule: Schedule::new(steps).spacing(Spacing::edm()).to_zero(),
            eta: 1.0,
            s_noise: 1.0,
        }
    }

    /// The sampler by its k-diffusion name ([`KMethod::by_name`]).
    pub fn by_name(name: &str, steps: usize) -> Result<Self> {
        Ok(Self::new(KMethod::by_name(name)?, steps))
    }

    /// The same with another `η`.
    pub fn eta(self, eta: f64) -> Self {
        Self { eta, ..self }
    }

    /// The same on another schedule.
    pub fn schedule(self, schedule: Schedule) -> Self {
        Self { schedule, ..self }
    }

    fn ancestral(&self, s: f64, s_next: f64) -> (f64, f64) {
        ancestral_step(self.eta, s, s_next)
    }
}

/// `(σ_down, σ_up)` of an ancestral step from `s` to `s_next` with noise scale `eta`
/// (k-diffusion's `get_ancestral_step`).
pub(super) fn ancestral_step(eta: f64, s: f64, s_next: f64) -> (f64, f64) {
    if eta == 0.0 {
        return (s_next, 0.0);
    }
    let up = s_next.min(eta * (s_next * s_next * (s * s - s_next * s_next) / (s * s)).sqrt());
    ((s_next * s_next - up * up).sqrt(), up)
}

/// The denoiser in the σ view: `D(x̃, σ̃)` at the time with that `σ̃`.
pub(super) struct View<'a> {
    pub(super) model: Model<'a>,
}

impl View<'_> {
    pub(super) fn denoise(&self, xs: &Array2<f64>, sigma: f64) -> Result<Array2<f64>> {
        let sde = self.model.sde;
        let t = time_of_sigma(sde, sigma, 0.0, sde.t_max())?;
        self.denoise_at(xs, t)
    }

    fn denoise_at(&self, xs: &Array2<f64>, t: f64) -> Result<Array2<f64>> {
        let (a, _) = self.model.sde.marginal_mean_std(t)?;
        self.model.denoise((xs * a).view(), t)
    }
}

/// `dx̃/dσ̃ = (x̃ − D)/σ̃` (k-diffusion's `to_d`).
fn to_d(xs: &Array2<f64>, sigma: f64, denoised: &Array2<f64>) -> Array2<f64> {
    (xs - denoised) / sigma
}

/// `∫_{σ_i}^{σ_{i+1}} ℓ_j(τ) dτ` for the Lagrange basis `ℓ_j` on the nodes `past` (newest
/// first), exactly (4-point Gauss–Legendre: degree ≤ 7, order ≤ 8).
fn lms_coefficient(past: &[f64], j: usize, from: f64, to: f64) -> f64 {
    const NODES: [f64; 4] = [
        -0.861_136_311_594_052_6,
        -0.339_981_043_584_856_3,
        0.339_981_043_584_856_3,
        0.861_136_311_594_052_6,
    ];
    const WEIGHTS: [f64; 4] = [
        0.347_854_845_137_453_9,
        0.652_145_154_862_546_1,
        0.652_145_154_862_546_1,
        0.347_854_845_137_453_9,
    ];
    let (mid, half) = (0.5 * (from + to), 0.5 * (to - from));
    let basis = |tau: f64| {
        past.iter()
            .enumerate()
            .filter(|&(k, _)| k != j)
            .map(|(_, &s_k)| (tau - s_k) / (past[j] - s_k))
            .product::<f64>()
    };
    NODES
        .iter()
        .zip(WEIGHTS)
        .map(|(&u, w)| w * basis(mid + half * u))
        .sum::<f64>()
        * half
}

/// The increments of one Brownian path in σ̃ from `s` over `[s, s_mid]` and `[s, s_next]`,
/// each divided by the square root of its length (k-diffusion's Brownian-tree noise sampler
/// asked for these two from the same start).
fn brownian_pair(rng: &mut Rng, n: usize, d: usize, s: f64, s_mid: f64, s_next: f64) -> [Array2<f64>; 2] {
    let (first, rest) = ((s - s_mid).abs(), (s_mid - s_next).abs());
    let z1 = rng::normals(rng, n, d);
    let z2 = rng::normals(rng, n, d);
    let whole = (&z1 * first.sqrt() + &z2 * rest.sqrt()) / (first + rest).sqrt();
    [z1, whole]
}

impl Sampler for KDiffusion {
    fn name(&self) -> String {
        let eta = if self.method.is_stochastic() {
            format!(" η={}", self.eta)
        } else {
            String::new()
        };
        format!("k-diffusion {}{eta}, {} steps", self.method.name(), self.schedule.steps)
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.eta) {
            return invalid("eta (η)", self.eta, "must lie in [0, 1]");
        }
        if !(self.s_noise >= 0.0 && self.s_noise.is_finite()) {
            return invalid("s_noise", self.s_noise, "must be ≥ 0 and finite");
        }
        if let KMethod::Lms { order } = self.method {
            if !(1..=8).contains(&order) || order > self.schedule.steps {
                return invalid(
                    "lms order",
                    order,
                    format!(
                        "must lie in 1..=8 and not exceed the {} steps of history available",
                        self.schedule.steps
                    ),
                );
            }
        }
        Ok(())
    }

    /// k-diffusion's own formula lands on `σ = 0`.
    fn lands_on_zero(&self) -> bool {
        true
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let sde = model.sde;
        let view = View { model };
        let (a, _) = sde.marginal_mean_std(t)?;
        let (a_next, _) = sde.marginal_mean_std(t_next)?;
        let s = sigma_tilde(sde, t)?;
        let s_next = if t_next == 0.0 { 0.0 } else { sigma_tilde(sde, t_next)? };
        let (n, dim) = x.dim();
        let xs = &x / a;
        let den = model.denoise(x, t)?;
        let lam = -s.ln();
        let lam_next = -s_next.ln();
        let euler = |to: f64| &xs + &(to_d(&xs, s, &den) * (to - s));
        let noise = |rng: &mut Rng, scale: f64| rng::normals(rng, n, dim) * (self.s_noise * scale);
        let mid = |to: f64| (s.ln() + 0.5 * (to.ln() - s.ln())).exp();

        let (next, evals) = match self.method {
            KMethod::Euler => (euler(s_next), 1),
            KMethod::Heun if s_next == 0.0 => (euler(s_next), 1),
            KMethod::Heun => {
                let d = to_d(&xs, s, &den);
                let x2 = &xs + &(&d * (s_next - s));
                let d2 = to_d(&x2, s_next, &view.denoise_at(&x2, t_next)?);
                (&xs + &((d + d2) * (0.5 * (s_next - s))), 2)
            }
            KMethod::Dpm2 if s_next == 0.0 => (euler(s_next), 1),
            KMethod::Dpm2 => {
                let s_mid = mid(s_next);
                let x2 = euler(s_mid);
                let d2 = to_d(&x2, s_mid, &view.denoise(&x2, s_mid)?);
                (&xs + &(d2 * (s_next - s)), 2)
            }
            KMethod::Lms { order } => {
                history.derivatives.push((s, to_d(&xs, s, &den)));
                if history.derivatives.len() > order {
                    history.derivatives.remove(0);
                }
                let past: Vec<f64> = history.derivatives.iter().rev().map(|(s, _)| *s).collect();
                let mut next = xs.clone();
                for (j, (_, d)) in history.derivatives.iter().rev().enumerate() {
                    next = next + d * lms_coefficient(&past, j, s, s_next);
                }
                (next, 1)
            }
            KMethod::DpmPP2M => {
                let h = lam_next - lam;
                let d = match history.evaluations.last() {
                    Some((lam_prev, old)) if s_next > 0.0 => {
                        let r = (lam - lam_prev) / h;
                        &den * (1.0 + 1.0 / (2.0 * r)) - &(old * (1.0 / (2.0 * r)))
                    }
                    _ => den.clone(),
                };
                history.evaluations = vec![(lam, den)];
                (&xs * (s_next / s) - &(d * (-h).exp_m1()), 1)
            }
            KMethod::EulerAncestral => {
                let (down, up) = self.ancestral(s, s_next);
                let x = euler(down);
                if s_next > 0.0 {
                    (x + noise(rng, up), 1)
                } else {
                    (x, 1)
                }
            }
            KMethod::Dpm2Ancestral => {
                let (down, up) = self.ancestral(s, s_next);
                if down == 0.0 {
                    (euler(down), 1)
                } else {
                    let s_mid = mid(down);
                    let x2 = euler(s_mid);
                    let d2 = to_d(&x2, s_mid, &view.denoise(&x2, s_mid)?);
                    (&xs + &(d2 * (down - s)) + noise(rng, up), 2)
                }
            }
            KMethod::DpmPP2SAncestral => {
                let (down, up) = self.ancestral(s, s_next);
                let (x, evals) = if down == 0.0 {
                    (euler(down), 1)
                } else {
                    let t_down = -down.ln();
                    let h = t_down - lam;
                    let s_mid = (-(lam + 0.5 * h)).exp();
                    let x2 = &xs * (s_mid / s) - &(&den * (-0.5 * h).exp_m1());
                    let d2 = view.denoise(&x2, s_mid)?;
                    (&xs * (down / s) - &(d2 * (-h).exp_m1()), 2)
                };
                if s_next > 0.0 {
                    (x + noise(rng, up), evals)
                } else {
                    (x, evals)
                }
            }
            KMethod::DpmPPSde if s_next == 0.0 => (euler(s_next), 1),
            KMethod::DpmPPSde => {
                let (r, h) = (0.5, lam_next - lam);
                let s_mid = (-(lam + h * r)).exp();
                let fac = 1.0 / (2.0 * r);
                let [z_mid, z_next] = if self.eta > 0.0 {
                    brownian_pair(rng, n, dim, s, s_mid, s_next)
                } else {
                    [Array2::zeros((n, dim)), Array2::zeros((n, dim))]
                };
                let (sd, su) = self.ancestral(s, s_mid);
                let x2 = &xs * (sd / s) - &(&den * (lam + sd.ln()).exp_m1())
                    + z_mid * (self.s_noise * su);
                let d2 = view.denoise(&x2, s_mid)?;
                let (sd, su) = self.ancestral(s, s_next);
                let dd = &den * (1.0 - fac) + &(d2 * fac);
                let x = &xs * (sd / s) - &(dd * (lam + sd.ln()).exp_m1()) + z_next * (self.s_noise * su);
                (x, 2)
            }
            KMethod::DpmPP2MSde { .. } | KMethod::DpmPP3MSde if s_next == 0.0 => {
                history.evaluations.clear();
                (den.clone(), 1)
            }
            KMethod::DpmPP2MSde { heun } => {
                let h = lam_next - lam;
                let eh = self.eta * h;
                let phi = -(-h - eh).exp_m1();
                let mut x = &xs * (s_next / s * (-eh).exp()) + &(&den * phi);
                if let Some((lam_prev, old)) = history.evaluations.last() {
                    let r = (lam - lam_prev) / h;
                    let c = if heun { phi / (-h - eh) + 1.0 } else { 0.5 * phi };
                    x = x + (&den - old) * (c / r);
                }
                if self.eta > 0.0 {
                    x = x + noise(rng, s_next * (-(-2.0 * eh).exp_m1()).sqrt());
                }
                history.evaluations = vec![(lam, den)];
                (x, 1)
            }
            KMethod::DpmPP3MSde => {
                let h = lam_next - lam;
                let he = h * (self.eta + 1.0);
                let mut x = &xs * (-he).exp() + &(&den * -(-he).exp_m1());
                let phi2 = (-he).exp_m1() / he + 1.0;
                match history.evaluations.as_slice() {
                    [(l2, d_2), (l1, d_1)] => {
                        let (r0, r1) = ((lam - l1) / h, (l1 - l2) / h);
                        let d1_0 = (&den - d_1) / r0;
                        let d1_1 = (d_1 - d_2) / r1;
                        let d1 = &d1_0 + &((&d1_0 - &d1_1) * (r0 / (r0 + r1)));
                        let d2 = (&d1_0 - &d1_1) / (r0 + r1);
                        let phi3 = phi2 / he - 0.5;
                        x = x + d1 * phi2 - d2 * phi3;
                    }
                    [(l1, d_1)] => x = x + (&den - d_1) * (phi2 * h / (lam - l1)),
                    _ => {}
                }
                if self.eta > 0.0 {
                    x = x + noise(rng, s_next * (-(-2.0 * h * self.eta).exp_m1()).sqrt());
                }
                history.evaluations.push((lam, den));
                if history.evaluations.len() > 2 {
                    history.evaluations.remove(0);
                }
                (x, 1)
            }
        };
        Ok((next * a_next, evals))
    }
}
