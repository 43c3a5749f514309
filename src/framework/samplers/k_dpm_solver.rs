//! k-diffusion's `DPMSolver` class (Lu et al. 2022, DPM-Solver-1/2/3 with the noise prediction;
//! seed 000 §2.5.3 "DPM-Solver：高阶求解器"): `sample_dpm_fast` ([`DpmFast`]: fixed steps, an
//! NFE budget split into third-order steps) and `sample_dpm_adaptive` ([`DpmAdaptive`]: an
//! embedded pair of orders 1/2 or 2/3 with PID step-size control).
//!
//! As the rest of the k-diffusion family ([`super::k_diffusion`]) they work in the σ view
//! `x̃ = x/α = x_0 + σ̃ z`, on k-diffusion's variable `λ = −log σ̃` (its `t`), with the noise
//! prediction `ε(x̃, λ) = (x̃ − D(x̃, σ̃))/σ̃`. From `λ` to `λ' = λ + h`, with `σ̃(λ) = e^{−λ}`:
//!
//! ```text
//! DPM-Solver-1:  x̃' = x̃ − σ̃(λ') (e^h − 1) ε
//! DPM-Solver-2:  u₁ = x̃ − σ̃(λ + r₁h)(e^{r₁h} − 1) ε,                                  (r₁ = ½)
//!                x̃' = x̃ − σ̃(λ')(e^h − 1) ε − σ̃(λ')/(2r₁) (e^h − 1)(ε(u₁) − ε)
//! DPM-Solver-3:  u₁ as above with r₁ = ⅓,
//!                u₂ = x̃ − σ̃(λ + r₂h)(e^{r₂h} − 1) ε − σ̃(λ + r₂h) (r₂/r₁)((e^{r₂h} − 1)/(r₂h) − 1)(ε(u₁) − ε),
//!                x̃' = x̃ − σ̃(λ')(e^h − 1) ε − σ̃(λ')/r₂ ((e^h − 1)/h − 1)(ε(u₂) − ε)      (r₂ = ⅔)
//! ```
//!
//! DPM-Solver-`k` costs `k` NFE. `dpm_fast` spends a budget of `N` NFE on
//! `m = ⌊N/3⌋ + 1` steps equally spaced in `λ`, of orders `3, …, 3, 2, 1` when `3 | N` and
//! `3, …, 3, N mod 3` otherwise. `dpm_adaptive` takes DPM-Solver-2 (with `r₁ = ⅓`, sharing
//! `ε(u₁)`) as the lower-order partner of DPM-Solver-3 (or DPM-Solver-1 of DPM-Solver-2), and
//! scales the error `‖(x̃_low − x̃_high)/δ‖₂/√(n d)`, `δ = max(atol, rtol·max(|x̃_low|,
//! |x̃_prev|))`, over the whole batch: the particles share one step size, as in k-diffusion (so
//! [`DpmAdaptive`] runs the batch itself, not in the driver's chunks). Its tolerances apply to
//! `x̃`, which is `x` on the VE SDE. After a rejected step `ε` at the start is evaluated again,
//! as k-diffusion does, so the NFE counts agree. With `η > 0` the step goes to
//! `σ_down` (capped at the end) and noise tops it up to `σ̃(λ')` (k-diffusion's ancestral
//! variant); `tests/samplers_kdiffusion.rs` compares `η = 0` runs with k-diffusion to 1e-10.

use ndarray::{Array2, ArrayView2, Zip};

use super::k_diffusion::{ancestral_step, View};
use super::schedule::{check_span, log_snr, time_of_sigma, DEFAULT_EPS};
use super::{History, Model, Sampler, Schedule, Spacing};
use crate::error::{all_finite, batch_shape, invalid, positive};
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, Record, Score, Solution, TimeGrid};
use crate::Result;

/// `ε(x̃, λ) = (x̃ − D(x̃, σ̃))/σ̃` at `σ̃ = e^{−λ}`.
fn noise(view: &View, xs: &Array2<f64>, lam: f64) -> Result<Array2<f64>> {
    let sigma = (-lam).exp();
    Ok((xs - &view.denoise(xs, sigma)?) / sigma)
}

/// DPM-Solver-`order` from `λ` to `λ_next` given `ε` at the start, and its embedded partner of
/// one order less (none for order 1): `(x̃_low, x̃_high)`, `order − 1` evaluations.
fn dpm_solver(
    view: &View,
    xs: &Array2<f64>,
    eps: &Array2<f64>,
    lam: f64,
    lam_next: f64,
    order: usize,
) -> Result<(Option<Array2<f64>>, Array2<f64>)> {
    let h = lam_next - lam;
    let sigma = |l: f64| (-l).exp();
    let s_next = sigma(lam_next);
    let first = xs - &(eps * (s_next * h.exp_m1()));
    if order == 1 {
        return Ok((None, first));
    }
    let r1 = if order == 2 { 0.5 } else { 1.0 / 3.0 };
    let stage = |r: f64, correction: Option<(f64, &Array2<f64>)>| -> Result<Array2<f64>> {
        let s = sigma(lam + r * h);
        let mut u = xs - &(eps * (s * (r * h).exp_m1()));
        if let Some((c, d)) = correction {
            u.scaled_add(-s * c, d);
        }
        noise(view, &u, lam + r * h)
    };
    let d1 = stage(r1, None)? - eps;
    let second = &first - &(&d1 * (s_next / (2.0 * r1) * h.exp_m1()));
    if order == 2 {
        return Ok((Some(first), second));
    }
    let r2 = 2.0 / 3.0;
    let c = (r2 / r1) * ((r2 * h).exp_m1() / (r2 * h) - 1.0);
    let d2 = stage(r2, Some((c, &d1)))? - eps;
    let third = &first - &(d2 * (s_next / r2 * (h.exp_m1() / h - 1.0)));
    Ok((Some(second), third))
}

fn check_noise(eta: f64, s_noise: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&eta) {
        return invalid("eta (η)", eta, "must lie in [0, 1]");
    }
    if !(s_noise >= 0.0 && s_noise.is_finite()) {
        return invalid("s_noise", s_noise, "must be ≥ 0 and finite");
    }
    Ok(())
}

/// `(λ_to, σ_up)`: where an (ancestral, `η > 0`) step from `λ` to `λ_next` goes before its
/// noise — `σ_down`, capped at `λ_end` — and the noise that tops it up to `σ̃(λ_next)`.
fn ancestral_target(eta: f64, lam: f64, lam_next: f64, lam_end: f64) -> (f64, f64) {
    if eta == 0.0 {
        return (lam_next, 0.0);
    }
    let (down, _) = ancestral_step(eta, (-lam).exp(), (-lam_next).exp());
    let to = lam_end.min(-down.ln());
    let up = ((-2.0 * lam_next).exp() - (-2.0 * to).exp())
        .max(0.0)
        .sqrt();
    (to, up)
}

/// k-diffusion's `sample_dpm_fast`: DPM-Solver-3 steps (then one of order 2 and/or 1) spending
/// exactly `nfe` evaluations on `⌊nfe/3⌋ + 1` steps equally spaced in `λ = −log σ̃`.
#[derive(Debug, Clone, PartialEq)]
pub struct DpmFast {
    /// The NFE budget `≥ 1`.
    pub nfe: usize,
    /// First time; `None` is `T` (k-diffusion's `sigma_max = σ̃(t_start)`).
    pub t_start: Option<f64>,
    /// Last time `ε > 0` (`sigma_min = σ̃(ε)`).
    pub t_end: f64,
    /// Noise scale `η ∈ [0, 1]` (`0`: deterministic, k-diffusion's default).
    pub eta: f64,
    /// Multiplier of the injected noise.
    pub s_noise: f64,
}

impl DpmFast {
    /// `nfe` evaluations from `T` to `ε = 10⁻³`, `η = 0`.
    pub fn new(nfe: usize) -> Self {
        Self {
            nfe,
            t_start: None,
            t_end: DEFAULT_EPS,
            eta: 0.0,
            s_noise: 1.0,
        }
    }

    /// The same with another `η`.
    pub fn eta(self, eta: f64) -> Self {
        Self { eta, ..self }
    }

    /// The order of each step: `[3, …, 3, 2, 1]` if `3 | nfe`, else `[3, …, 3, nfe mod 3]`.
    pub fn orders(&self) -> Vec<usize> {
        let m = self.nfe / 3 + 1;
        if self.nfe % 3 == 0 {
            let mut orders = vec![3; m.saturating_sub(2)];
            orders.extend([2, 1]);
            orders
        } else {
            let mut orders = vec![3; m - 1];
            orders.push(self.nfe % 3);
            orders
        }
    }

    fn schedule(&self) -> Schedule {
        let schedule = Schedule::new(self.orders().len())
            .spacing(Spacing::LogSnr)
            .to(self.t_end);
        match self.t_start {
            Some(t) => schedule.from(t),
            None => schedule,
        }
    }
}

impl Sampler for DpmFast {
    fn name(&self) -> String {
        let eta = if self.eta > 0.0 {
            format!(" η={}", self.eta)
        } else {
            String::new()
        };
        format!("k-diffusion dpm_fast{eta}, {} NFE", self.nfe)
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.check()?;
        self.schedule().grid(sde)
    }

    fn check(&self) -> Result<()> {
        if self.nfe == 0 {
            return invalid("nfe", 0, "dpm_fast needs a budget of at least 1 evaluation");
        }
        check_noise(self.eta, self.s_noise)
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
        let orders = self.orders();
        let Some(&order) = orders.get(history.step) else {
            return invalid(
                "dpm_fast step",
                history.step,
                format!("its grid has {} steps", orders.len()),
            );
        };
        let sde = model.sde;
        let (a, s) = sde.marginal_mean_std(t)?;
        let (a_next, _) = sde.marginal_mean_std(t_next)?;
        let (lam, lam_next) = (log_snr(sde, t)?, log_snr(sde, t_next)?);
        let lam_end = log_snr(sde, self.t_end)?;
        let xs = &x / a;
        let eps = (&xs - &model.denoise(x, t)?) / (s / a);
        let (to, up) = ancestral_target(self.eta, lam, lam_next, lam_end);
        let (_, mut next) = dpm_solver(&View { model }, &xs, &eps, lam, to, order)?;
        if up > 0.0 {
            let (n, d) = x.dim();
            next.scaled_add(up * self.s_noise, &rng::normals(rng, n, d));
        }
        Ok((next * a_next, order))
    }
}

/// k-diffusion's `PIDStepSizeController`: the step grows by `1 + atan(f − 1)` with
/// `f = ε₀^{b₁} ε₁^{b₂} ε₂^{b₃}` of the inverse errors `ε_k = 1/(err_k + 10⁻⁸)` of this and the
/// last two accepted steps; a step is accepted when that factor is `≥ accept_safety`.
struct Pid {
    h: f64,
    b: [f64; 3],
    accept_safety: f64,
    inverse_errors: Option<[f64; 3]>,
}

impl Pid {
    fn new(adaptive: &DpmAdaptive) -> Self {
        let order = if adaptive.eta > 0.0 {
            1.5
        } else {
            adaptive.order as f64
        };
        let (p, i, d) = (adaptive.pcoeff, adaptive.icoeff, adaptive.dcoeff);
        Self {
            h: adaptive.h_init,
            b: [(p + i + d) / order, -(p + 2.0 * d) / order, d / order],
            accept_safety: adaptive.accept_safety,
            inverse_errors: None,
        }
    }

    fn propose(&mut self, error: f64) -> bool {
        let inverse = 1.0 / (error + 1e-8);
        let e = self.inverse_errors.get_or_insert([inverse; 3]);
        e[0] = inverse;
        let f = e[0].powf(self.b[0]) * e[1].powf(self.b[1]) * e[2].powf(self.b[2]);
        let factor = 1.0 + (f - 1.0).atan();
        let accept = factor >= self.accept_safety;
        if accept {
            e[2] = e[1];
            e[1] = e[0];
        }
        self.h *= factor;
        accept
    }
}

/// k-diffusion's `sample_dpm_adaptive`: DPM-Solver-3 with DPM-Solver-2 (or 2 with 1) as an
/// embedded error estimate, steps in `λ = −log σ̃` chosen by a PID controller.
#[derive(Debug, Clone, PartialEq)]
pub struct DpmAdaptive {
    /// `2` (DPM-Solver-1/2) or `3` (DPM-Solver-2/3, k-diffusion's default).
    pub order: usize,
    /// Relative tolerance (default 0.05).
    pub rtol: f64,
    /// Absolute tolerance (default 0.0078).
    pub atol: f64,
    /// First trial step in `λ` (default 0.05).
    pub h_init: f64,
    /// Proportional coefficient of the controller (default 0).
    pub pcoeff: f64,
    /// Integral coefficient (default 1).
    pub icoeff: f64,
    /// Derivative coefficient (default 0).
    pub dcoeff: f64,
    /// Smallest step factor that accepts the step (default 0.81).
    pub accept_safety: f64,
    /// Noise scale `η ∈ [0, 1]` (`0`: deterministic, the default).
    pub eta: f64,
    /// Multiplier of the injected noise.
    pub s_noise: f64,
    /// Most attempted steps before giving up (k-diffusion has no limit).
    pub max_attempts: usize,
    /// First time; `None` is `T`.
    pub t_start: Option<f64>,
    /// Last time `ε > 0`.
    pub t_end: f64,
}

impl Default for DpmAdaptive {
    /// k-diffusion's defaults, from `T` to `ε = 10⁻³`, at most 10 000 attempts.
    fn default() -> Self {
        Self {
            order: 3,
            rtol: 0.05,
            atol: 0.0078,
            h_init: 0.05,
            pcoeff: 0.0,
            icoeff: 1.0,
            dcoeff: 0.0,
            accept_safety: 0.81,
            eta: 0.0,
            s_noise: 1.0,
            max_attempts: 10_000,
            t_start: None,
            t_end: DEFAULT_EPS,
        }
    }
}

impl DpmAdaptive {
    /// Order `order` (2 or 3) with tolerances `rtol`, `atol`, the rest k-diffusion's defaults.
    pub fn new(order: usize, rtol: f64, atol: f64) -> Self {
        Self {
            order,
            rtol,
            atol,
            ..Self::default()
        }
    }

    /// The adaptive solve of the batch `x` from `t` to `t_next`: the accepted `(t, x)` (the
    /// start first) and the NFE per particle.
    fn solve(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        rng: &mut Rng,
    ) -> Result<(Vec<(f64, Array2<f64>)>, usize)> {
        batch_shape("x_start.shape", x)?;
        all_finite("the initial state x_start", x.iter())?;
        let sde = model.sde;
        let view = View { model };
        let (lam_end, mut s) = (log_snr(sde, t_next)?, log_snr(sde, t)?);
        let (a, _) = sde.marginal_mean_std(t)?;
        let mut xs = &x / a;
        let mut x_prev = xs.clone();
        let mut pid = Pid::new(self);
        let (mut accepted, mut nfe) = (vec![(t, x.to_owned())], 0);
        let scale = (x.len() as f64).sqrt();
        let mut attempts = 0;
        while s < lam_end - 1e-5 {
            if attempts == self.max_attempts {
                return invalid(
                    "max_attempts",
                    self.max_attempts,
                    format!(
                        "dpm_adaptive stopped at σ̃ = {} before σ̃ = {}",
                        (-s).exp(),
                        (-lam_end).exp()
                    ),
                );
            }
            attempts += 1;
            let target = lam_end.min(s + pid.h);
            let (to, up) = ancestral_target(self.eta, s, target, lam_end);
            let eps = noise(&view, &xs, s)?;
            let (low, high) = dpm_solver(&view, &xs, &eps, s, to, self.order)?;
            let low = low.expect("orders 2 and 3 have a partner");
            nfe += self.order;
            let mut sum = 0.0;
            Zip::from(&low)
                .and(&high)
                .and(&x_prev)
                .for_each(|&l, &hi, &p| {
                    let delta = self.atol.max(self.rtol * l.abs().max(p.abs()));
                    sum += ((l - hi) / delta).powi(2);
                });
            let error = sum.sqrt() / scale;
            all_finite(
                format!("dpm_adaptive's error estimate at σ̃ = {}", (-s).exp()),
                [&error],
            )?;
            if pid.propose(error) {
                x_prev = low;
                xs = high;
                if up > 0.0 {
                    let (n, d) = xs.dim();
                    xs.scaled_add(up * self.s_noise, &rng::normals(rng, n, d));
                }
                s = target;
                let time = if s == lam_end {
                    t_next
                } else {
                    time_of_sigma(sde, (-s).exp(), 0.0, sde.t_max())?
                };
                let (a, _) = sde.marginal_mean_std(time)?;
                accepted.push((time, &xs * a));
            }
        }
        Ok((accepted, nfe))
    }
}

impl Sampler for DpmAdaptive {
    fn name(&self) -> String {
        let eta = if self.eta > 0.0 {
            format!(" η={}", self.eta)
        } else {
            String::new()
        };
        format!(
            "k-diffusion dpm_adaptive order {}{eta}, rtol {}",
            self.order, self.rtol
        )
    }

    /// One step from `t_start` to `ε`: inside it the controller chooses the steps.
    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        let (t0, t1) = check_span(self.t_start, self.t_end, sde)?;
        TimeGrid::from_times(vec![t0, t1])
    }

    fn check(&self) -> Result<()> {
        if !(self.order == 2 || self.order == 3) {
            return invalid("order", self.order, "dpm_adaptive's order must be 2 or 3");
        }
        positive("rtol", self.rtol)?;
        positive("atol", self.atol)?;
        positive("h_init", self.h_init)?;
        positive("accept_safety", self.accept_safety)?;
        for (name, c) in [
            ("pcoeff", self.pcoeff),
            ("icoeff", self.icoeff),
            ("dcoeff", self.dcoeff),
        ] {
            if !c.is_finite() {
                return invalid(name, c, "must be finite");
            }
        }
        check_noise(self.eta, self.s_noise)
    }

    /// The adaptive solve of these particles from `t` to `t_next` (one error norm over them).
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let (mut accepted, nfe) = self.solve(model, x, t, t_next, rng)?;
        let (_, last) = accepted.pop().expect("the start is always there");
        Ok((last, nfe))
    }

    /// The whole batch is one system with one step size, as in k-diffusion: it is not split
    /// into the driver's chunks. The solution's times are the accepted steps (`record` picks
    /// among them), the noise (`η > 0`) one stream from `seed`.
    fn sample(
        &self,
        sde: &dyn ForwardSde,
        score: &dyn Score,
        x_start: ArrayView2<f64>,
        seed: u64,
        record: Record,
    ) -> Result<Solution> {
        self.check()?;
        let (t0, t1) = self.span(sde)?;
        let model = Model { sde, score };
        let (accepted, nfe) = self.solve(model, x_start, t0, t1, &mut rng::seeded(seed))?;
        let keep = record.indices(accepted.len() - 1)?;
        let (times, states) = accepted
            .into_iter()
            .enumerate()
            .filter(|(k, _)| keep.contains(k))
            .map(|(_, ts)| ts)
            .unzip();
        Ok(Solution { times, states, nfe })
    }
}
