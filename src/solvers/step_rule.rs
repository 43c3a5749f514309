//! The step-size rule of an adaptive solver (seed 000 §2.1.1 and §2.4.1) — and its erratum.
//!
//! The seed writes `h_{i+1} = h_i (tol/err_i)^{1/p}` with `p` the method's order. A method of
//! order `p` has a *local* error `err ≈ C h^{p+1}`, so the step that makes the next error equal
//! `tol` is `h (tol/err)^{1/(p+1)}`. With `1/p` the controller over-corrects: after an accepted
//! step with `err = tol/r` it grows `h` by `r^{(p+1)/p}` too much, the next error overshoots to
//! about `tol · r^{1/p}`, the step is rejected, and the cycle repeats. (The seed's §2.4.1 code,
//! `return h * (tol / error) ** (1.0 / order)`, also reads an undefined `h`.)
//!
//! [`heun_euler`] runs the simplest embedded pair (Heun, order 2, with Euler, order `p = 1`, as the
//! error estimate, local error `∝ h²`) on a scalar ODE under either [`StepRule`], and logs every
//! accepted step and every rejection.

use crate::error::{invalid, positive, Result};

/// Which exponent turns `tol/err` into the step-size factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRule {
    /// Seed 000 §2.1.1: `(tol/err)^{1/p}`.
    AsWritten,
    /// `(tol/err)^{1/(p+1)}`, the exponent for a local error `∝ h^{p+1}`.
    Correct,
}

impl StepRule {
    /// The exponent for an error estimate of order `p` (local error `∝ h^{p+1}`).
    pub fn exponent(self, p: u32) -> f64 {
        match self {
            StepRule::AsWritten => 1.0 / p as f64,
            StepRule::Correct => 1.0 / (p as f64 + 1.0),
        }
    }
}

/// What an adaptive run did: the accepted steps (start time, size), the rejected attempts and
/// the error estimate of every accepted step relative to `tol`.
#[derive(Debug, Clone)]
pub struct StepLog {
    pub times: Vec<f64>,
    pub steps: Vec<f64>,
    pub error_ratios: Vec<f64>,
    pub rejected: usize,
    pub x_final: f64,
}

/// Safety factor of the controller (the same for both rules).
const SAFETY: f64 = 0.9;

/// Integrates `x' = f(t, x)` from `t0` to `t1 > t0` with the Heun–Euler pair, accepting a step when
/// the estimate `|x_Heun − x_Euler| ≤ tol` and setting the next trial step by `rule`
/// (`h ← h · 0.9 (tol/err)^{exponent}`, the factor clamped to `[0.1, 10]`).
pub fn heun_euler(
    f: &dyn Fn(f64, f64) -> f64,
    x0: f64,
    (t0, t1): (f64, f64),
    h0: f64,
    tol: f64,
    rule: StepRule,
) -> Result<StepLog> {
    positive("tol", tol)?;
    positive("h0", h0)?;
    if !(t1 > t0) {
        return invalid("t1", t1, format!("must exceed t0 = {t0}"));
    }
    let k = rule.exponent(1);
    let mut log = StepLog { times: vec![], steps: vec![], error_ratios: vec![], rejected: 0, x_final: x0 };
    let (mut t, mut x, mut h) = (t0, x0, h0);
    while t < t1 {
        if log.steps.len() + log.rejected > 1_000_000 {
            return invalid("tol", tol, "needs more than 10⁶ steps");
        }
        let h_try = h.min(t1 - t);
        let k1 = f(t, x);
        let euler = x + h_try * k1;
        let heun = x + 0.5 * h_try * (k1 + f(t + h_try, euler));
        let err = (heun - euler).abs().max(1e-300);
        if !err.is_finite() {
            return invalid("f", err, format!("non-finite error estimate at t = {t}"));
        }
        if err <= tol {
            log.times.push(t);
            log.steps.push(h_try);
            log.error_ratios.push(err / tol);
            t += h_try;
            x = heun;
        } else {
            log.rejected += 1;
        }
        h = h_try * (SAFETY * (tol / err).powf(k)).clamp(0.1, 10.0);
    }
    log.x_final = x;
    Ok(log)
}
