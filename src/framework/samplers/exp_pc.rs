//! An exponential multistep predictor–corrector in the style of UniPC (Zhao et al. 2023),
//! the crate's few-step sampler for the PF-ODE (seed 000 §2.5.3 加速技术).
//!
//! Written in the half log-SNR `λ = log(α/σ)` with the data prediction `D = x̂_0`, the PF-ODE
//! has the exact solution (the linear part integrated exactly)
//!
//! ```text
//! x_s = (σ_s/σ_t) x_t + α_s ∫₀ʰ e^{u−h} D(λ_t + u) du,     h = λ_s − λ_t,
//! ```
//!
//! so a step only has to approximate `D` along `[λ_t, λ_s]`, by a polynomial in `λ`, and
//! integrate it against `e^{u−h}` exactly (`∫₀ʰ e^{u−h} u^k du = h^k − k·∫₀ʰ e^{u−h} u^{k−1} du`):
//!
//! - predictor (exponential Adams–Bashforth `p`, default `p = 2`): `D` extrapolated by the
//!   polynomial through the last `p` evaluations — for `p = 2` the line, DPM-Solver++(2M) with
//!   the exact weights;
//! - corrector (exponential Adams–Moulton `p + 1`): once `D` has been evaluated at the
//!   predicted point, the step is redone with the polynomial through the last `p + 1`
//!   evaluations (for `p = 2` the parabola through three).
//!
//! The evaluation at the predicted point serves both the correction and the next
//! prediction, so the corrector costs no extra NFE: one NFE per step, order `p + 1` (one more
//! than DPM-Solver++(2M) at `p = 2`). While the history is short the orders are lower (the
//! first step is DDIM). The last step (to `ε`) is not corrected.
//!
//! **Where it differs from UniPC** (diffusers' `UniPCMultistepScheduler` with its defaults
//! `solver_order=2`, `solver_type="bh2"`, `predict_x0=True`; `tests/samplers_diffusers.rs`):
//! the structure is the same — UniP-2 predictor, UniC corrector reusing the next step's
//! evaluation, first step DDIM, the last prediction not corrected — and so is the corrector
//! through three evaluations (UniC-2 solves for the exact weights of the parabola). The
//! difference is in the two-point rules: UniPC fixes the weight of the difference term at
//! `ρ = ½` with `B(h) = 1 − e^{−h}` — `α_s(1 − e^{−h})[D_0 + ½ (h/u_1)(D_1 − D_0)]` for the
//! line through `D_0` (at `u = 0`) and `D_1` (at `u_1`) — where this sampler integrates the
//! line exactly, `α_s[(1 − e^{−h}) D_0 + (h − 1 + e^{−h})/u_1 (D_1 − D_0)]`. The two weights
//! of `D_1 − D_0` differ by `α_s h³/(12 u_1) + O(h⁴/u_1)`, so the steps differ by `O(h³)`:
//! both are second-order steps (UniPC's predictor is DPM-Solver++(2M)'s), the exact rule
//! without the extra `O(h³)` from its weights. That touches every prediction and the first
//! correction. [`Weights::UniPcBh2`] takes UniPC's rule and then reproduces diffusers'
//! trajectories to 1e-10 (on its discrete timesteps, ending at `σ = 0` with its
//! `lower_order_final`: the last step from the uncorrected state onto `x̂_0`, which is
//! [`super::Sampler::step_to_zero`]). With `order = 3` the structure is UniPC-3's
//! (`solver_order=3`, which diffusers recommends for unconditional sampling): its three- and
//! four-point rules are exact, so again only the two-point ones differ (the warm-up, and the
//! step before last, which `lower_order_final` — applied only with UniPC's rule — lowers to
//! order 2; the exact rule keeps order 3 there).

use ndarray::{Array2, ArrayView2};

use super::schedule::log_snr;
use super::{History, Model, Sampler, Schedule, Spacing};
use crate::error::invalid;
use crate::rng::Rng;
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// How a step through two evaluations weighs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// The line integrated exactly against `e^{u−h}`.
    #[default]
    Exact,
    /// UniPC's `bh2` rule (`ρ = ½`, `B(h) = 1 − e^{−h}`), as diffusers' `UniPCMultistepScheduler`.
    UniPcBh2,
}

/// Exponential Adams–Bashforth 2 predictor with Adams–Moulton 3 corrector, 1 NFE per step.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpPc {
    /// The time grid.
    pub schedule: Schedule,
    /// The two-point rule (exact by default; UniPC's as an option).
    pub weights: Weights,
    /// The predictor's order `p ∈ {1, 2, 3}` (default 2): Adams–Bashforth through `p`
    /// evaluations, Adams–Moulton through `p + 1`, order `p + 1`.
    pub order: usize,
}

impl ExpPc {
    /// `steps` steps equally spaced in `λ` from `T` to `ε = 10⁻³`, order 2.
    pub fn new(steps: usize) -> Self {
        Self {
            schedule: Schedule::new(steps).spacing(Spacing::LogSnr),
            weights: Weights::Exact,
            order: 2,
        }
    }

    /// UniPC (bh2, order 2) on the same grid: [`Weights::UniPcBh2`].
    pub fn unipc(steps: usize) -> Self {
        Self {
            weights: Weights::UniPcBh2,
            ..Self::new(steps)
        }
    }

    /// The same with predictor order `p` (`p = 3`: AB3 + AM4, UniPC-3's structure).
    pub fn order(self, p: usize) -> Self {
        Self { order: p, ..self }
    }

    /// The same on another schedule.
    pub fn schedule(self, schedule: Schedule) -> Self {
        Self { schedule, ..self }
    }

    /// The predictor's order at step `i`: `p`, lowered while the history is short
    /// (`i + 1` evaluations) and, for UniPC's rule, near the end as diffusers'
    /// `lower_order_final` (`steps − i`).
    fn order_at(&self, i: usize) -> usize {
        let order = self.order.min(i + 1);
        match self.weights {
            Weights::Exact => order,
            Weights::UniPcBh2 => order.min(self.schedule.steps.saturating_sub(i)).max(1),
        }
    }
}

/// The weights of `rule` on the nodes `u_j` (at most three): [`exact_weights`], except that
/// UniPC's rule replaces those of a line through `u = 0` and `u_1`.
fn weights(nodes: &[f64], h: f64, rule: Weights) -> Vec<f64> {
    match (rule, nodes) {
        (Weights::UniPcBh2, &[u0, u1]) if u0 == 0.0 || u1 == 0.0 => {
            let other = if u0 == 0.0 { u1 } else { u0 };
            let b = -(-h).exp_m1();
            let w_other = 0.5 * b * h / other;
            if u0 == 0.0 {
                vec![b - w_other, w_other]
            } else {
                vec![w_other, b - w_other]
            }
        }
        _ => exact_weights(nodes, h),
    }
}

/// Weights `w_j = ∫₀ʰ e^{u−h} ℓ_j(u) du` of the Lagrange basis `ℓ_j` on the nodes `u_j`
/// (at most four here), so that `∫₀ʰ e^{u−h} P(u) du = Σ_j w_j P(u_j)` for `deg P < nodes`.
fn exact_weights(nodes: &[f64], h: f64) -> Vec<f64> {
    let mut moments = vec![-(-h).exp_m1()];
    for k in 1..nodes.len() {
        let prev = moments[k - 1];
        moments.push(h.powi(k as i32) - k as f64 * prev);
    }
    nodes
        .iter()
        .enumerate()
        .map(|(j, &uj)| {
            // ℓ_j(u) = Π_{m≠j} (u − u_m)/(u_j − u_m), expanded in powers of u.
            let mut poly = vec![1.0];
            let mut denom = 1.0;
            for (m, &um) in nodes.iter().enumerate() {
                if m == j {
                    continue;
                }
                let mut next = vec![0.0; poly.len() + 1];
                for (k, c) in poly.iter().enumerate() {
                    next[k] -= c * um;
                    next[k + 1] += c;
                }
                poly = next;
                denom *= uj - um;
            }
            poly.iter().zip(&moments).map(|(c, mk)| c * mk).sum::<f64>() / denom
        })
        .collect()
}

/// `(σ_s/σ_t) x_t + α_s Σ_j w_j D_j` for evaluations `D_j` at `λ_j`.
fn exp_step(
    model: Model,
    rule: Weights,
    x_t: ArrayView2<f64>,
    t: f64,
    s: f64,
    points: &[(f64, &Array2<f64>)],
) -> Result<Array2<f64>> {
    let (_, s_t) = model.sde.marginal_mean_std(t)?;
    let (a_s, s_s) = model.sde.marginal_mean_std(s)?;
    let (l_t, l_s) = (log_snr(model.sde, t)?, log_snr(model.sde, s)?);
    let nodes: Vec<f64> = points.iter().map(|(l, _)| l - l_t).collect();
    let mut out = &x_t * (s_s / s_t);
    for (w, (_, d)) in weights(&nodes, l_s - l_t, rule).into_iter().zip(points) {
        out.scaled_add(a_s * w, d);
    }
    Ok(out)
}

impl Sampler for ExpPc {
    fn name(&self) -> String {
        let (p, steps) = (self.order, self.schedule.steps);
        match self.weights {
            Weights::Exact => format!("exponential PC (AB{p} + AM{}), {steps} steps", p + 1),
            Weights::UniPcBh2 => format!("UniPC (bh2, order {p}), {steps} steps"),
        }
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    fn check(&self) -> Result<()> {
        if !(1..=3).contains(&self.order) {
            return invalid("order", self.order, "the exponential PC's order must be 1, 2 or 3");
        }
        Ok(())
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        _rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let l_t = log_snr(model.sde, t)?;
        let d_t = model.denoise(x, t)?;
        let newest = |k: usize| -> Vec<(f64, &Array2<f64>)> {
            let e = &history.evaluations;
            e[e.len() - k..].iter().map(|(l, d)| (*l, d)).collect()
        };
        // Correct the state at t with the polynomial through the previous step's
        // evaluations and this one.
        let corrected = match &history.start {
            Some((t_prev, x_prev)) => {
                let mut pts = newest(self.order_at(history.step - 1));
                pts.push((l_t, &d_t));
                exp_step(model, self.weights, x_prev.view(), *t_prev, t, &pts)?
            }
            None => x.to_owned(),
        };
        // Predict t_next with the polynomial through the newest evaluations.
        let mut pts = newest(self.order_at(history.step) - 1);
        pts.push((l_t, &d_t));
        let next = exp_step(model, self.weights, corrected.view(), t, t_next, &pts)?;
        if history.evaluations.len() == self.order {
            history.evaluations.remove(0);
        }
        history.evaluations.push((l_t, d_t));
        history.start = Some((t, corrected));
        Ok((next, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::exact_weights;

    /// The weights integrate `e^{u−h} P(u)` exactly for polynomials of degree < nodes
    /// (checked against Simpson's rule on a fine grid).
    #[test]
    fn weights_integrate_polynomials_exactly() {
        let h = 0.7;
        let nodes = [-0.9, -0.4, h];
        let w = exact_weights(&nodes, h);
        for p in [[1.0, 0.0, 0.0], [0.3, -2.0, 0.0], [-1.0, 0.5, 1.5]] {
            let poly = |u: f64| p[0] + p[1] * u + p[2] * u * u;
            let m = 2000;
            let dx = h / m as f64;
            let simpson: f64 = (0..=m)
                .map(|k| {
                    let u = k as f64 * dx;
                    let c = if k == 0 || k == m {
                        1.0
                    } else if k % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    c * (u - h).exp() * poly(u)
                })
                .sum::<f64>()
                * dx
                / 3.0;
            let rule: f64 = w.iter().zip(nodes).map(|(w, u)| w * poly(u)).sum();
            assert!((rule - simpson).abs() < 1e-12, "{rule} vs {simpson}");
        }
    }
}
