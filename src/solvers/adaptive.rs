//! Adaptive step sizes (seed 000 §2.1.1 "自适应步长", §2.4.1): the Dormand–Prince 5(4) pair
//! with a PI step-size controller, as in Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4–II.5
//! (their code DOPRI5) and scipy's `RK45`.
//!
//! One Runge–Kutta tableau gives a fifth-order solution and an embedded fourth-order one;
//! their difference estimates the local error. A step is accepted when the error, measured
//! relative to `atol + rtol·|x|`, is at most 1; the next step size comes from the PI rule
//! `h ← h · err⁻ᵅ · err_prevᵝ` (safety factor 0.9, change limited to ×[1/5, 10]). The seed's
//! `h ← h (tol/err)^{1/p}` is the pure-I special case (β = 0).
//!
//! The same tableau run without control is the fixed-step [`DormandPrince`] stepper, so the
//! order 5 can be checked on a ladder of step sizes like every other method.

use ndarray::{Array2, ArrayView2, Zip};

use crate::sde_basics::OdeSystem;
use super::ode_fixed::OdeStepper;
use crate::error::{batch_shape, finite, invalid, positive, Error};
use crate::Result;

// The Dormand–Prince 5(4) tableau (Hairer–Nørsett–Wanner, Table II.5.2).
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [&[f64]; 6] = [
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    // The fifth-order weights; the seventh stage is evaluated at the new point (FSAL).
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Fifth-order minus embedded fourth-order weights: the local error estimate is `h Σ Eᵢ kᵢ`.
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// The fifth-order solution `x + h Σ bᵢ kᵢ` from `k₁ = F(x, t)`, and the stages `k₁…k₆`.
fn fifth_order<S: OdeSystem + ?Sized>(
    system: &S,
    x: ArrayView2<f64>,
    t: f64,
    h: f64,
    k1: Array2<f64>,
) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
    let mut ks = vec![k1];
    let mut y = x.to_owned();
    for (s, row) in A.iter().enumerate() {
        y.assign(&x);
        for (a, k) in row.iter().zip(&ks) {
            if *a != 0.0 {
                y.scaled_add(h * a, k);
            }
        }
        if s + 1 < A.len() {
            ks.push(system.rhs(y.view(), t + C[s + 1] * h)?);
        }
    }
    Ok((y, ks))
}

/// The Dormand–Prince fifth-order method at a fixed step (6 evaluations per step).
#[derive(Debug, Clone, Copy, Default)]
pub struct DormandPrince;

impl<S: OdeSystem + ?Sized> OdeStepper<S> for DormandPrince {
    fn name(&self) -> &'static str {
        "Dormand–Prince 5"
    }

    fn order(&self) -> u32 {
        5
    }

    fn step(&self, system: &S, x: ArrayView2<f64>, t: f64, h: f64) -> Result<(Array2<f64>, usize)> {
        let k1 = system.rhs(x, t)?;
        let (y, _) = fifth_order(system, x, t, h, k1)?;
        Ok((y, 6))
    }
}

/// Tolerances and budget of [`dormand_prince`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveOptions {
    /// Relative tolerance (> 0).
    pub rtol: f64,
    /// Absolute tolerance (> 0).
    pub atol: f64,
    /// First step size (> 0), or `None` for Hairer's automatic choice (one extra evaluation).
    pub h0: Option<f64>,
    /// Most step attempts (accepted + rejected) before the solve fails (≥ 1).
    pub max_steps: usize,
}

impl Default for AdaptiveOptions {
    /// `rtol = 1e-6`, `atol = 1e-8`, automatic first step, 100 000 attempts.
    fn default() -> Self {
        Self {
            rtol: 1e-6,
            atol: 1e-8,
            h0: None,
            max_steps: 100_000,
        }
    }
}

impl AdaptiveOptions {
    fn validate(&self) -> Result<()> {
        positive("rtol", self.rtol)?;
        positive("atol", self.atol)?;
        if let Some(h0) = self.h0 {
            positive("h0", h0)?;
        }
        if self.max_steps == 0 {
            return invalid("max_steps", 0, "need at least one step");
        }
        Ok(())
    }
}

/// The result of an adaptive solve that reached `t1`.
#[derive(Debug, Clone)]
pub struct AdaptiveSolution {
    /// `t0` and the end of every accepted step (the last one is `t1`).
    pub times: Vec<f64>,
    /// `|h|` of every accepted step, in order.
    pub step_sizes: Vec<f64>,
    /// The state at `t1`.
    pub state: Array2<f64>,
    /// Right-hand-side evaluations (per particle), including rejected steps and the
    /// automatic first-step choice.
    pub nfe: usize,
    /// Rejected step attempts.
    pub rejected: usize,
}

impl AdaptiveSolution {
    /// The state at `t1`.
    pub fn last(&self) -> &Array2<f64> {
        &self.state
    }

    /// Accepted steps.
    pub fn accepted(&self) -> usize {
        self.step_sizes.len()
    }
}

// PI controller constants of DOPRI5 (Hairer–Nørsett–Wanner §II.4, eq. 4.13 and the code).
const SAFETY: f64 = 0.9;
const BETA: f64 = 0.04;
const ALPHA: f64 = 0.2 - 0.75 * BETA;
const MIN_FACTOR: f64 = 0.2; // h shrinks at most ×5 …
const MAX_FACTOR: f64 = 10.0; // … and grows at most ×10 per step.

/// `sqrt(mean((e / (atol + rtol·max(|x|, |y|)))²))`, the error measure of the controller.
fn error_norm(e: &Array2<f64>, x: &Array2<f64>, y: &Array2<f64>, opts: &AdaptiveOptions) -> f64 {
    let mut sum = 0.0;
    Zip::from(e).and(x).and(y).for_each(|&e, &x, &y| {
        let sc = opts.atol + opts.rtol * x.abs().max(y.abs());
        sum += (e / sc) * (e / sc);
    });
    (sum / e.len() as f64).sqrt()
}

/// Hairer's starting step (HINIT): `h` such that an explicit Euler step of it would make a
/// local error about 1 % of the tolerance, for a method of order 5. One evaluation.
fn initial_step<S: OdeSystem + ?Sized>(
    system: &S,
    x0: &Array2<f64>,
    f0: &Array2<f64>,
    t0: f64,
    span: f64,
    dir: f64,
    opts: &AdaptiveOptions,
) -> Result<f64> {
    let rms = |v: &Array2<f64>| error_norm(v, x0, x0, opts);
    let (d0, d1) = (rms(x0), rms(f0));
    let h0 = if d0 < 1e-10 || d1 < 1e-10 {
        1e-6
    } else {
        0.01 * d0 / d1
    }
    .min(span);
    let mut x1 = x0.clone();
    x1.scaled_add(dir * h0, f0);
    let f1 = system.rhs(x1.view(), t0 + dir * h0)?;
    let d2 = rms(&(&f1 - f0)) / h0;
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(0.2)
    };
    Ok((100.0 * h0).min(h1).min(span))
}

/// Integrates `system` from `x0` at `t0` to `t1` (either direction) with the Dormand–Prince
/// 5(4) pair and a PI step-size controller.
///
/// The whole batch is one system: all particles share the steps, and the error is measured
/// over all of them together (as scipy's `solve_ivp` on the flattened state).
///
/// Errors — never a partial result — when an argument is invalid, when the solve needs more
/// than `max_steps` attempts, or when the step size underflows.
pub fn dormand_prince<S: OdeSystem + ?Sized>(
    system: &S,
    x0: ArrayView2<f64>,
    t0: f64,
    t1: f64,
    opts: AdaptiveOptions,
) -> Result<AdaptiveSolution> {
    opts.validate()?;
    finite("t0", t0)?;
    finite("t1", t1)?;
    if t0 == t1 {
        return invalid("t1", t1, "must differ from t0");
    }
    batch_shape("x0.shape", x0)?;
    crate::error::all_finite("the initial state x0", x0.iter())?;

    let dir = (t1 - t0).signum();
    let span = (t1 - t0).abs();
    let mut x = x0.to_owned();
    let mut t = t0;
    let mut k1 = system.rhs(x.view(), t)?;
    let mut nfe = 1;
    crate::error::all_finite("the right-hand side at t0", k1.iter())?;
    let mut h = match opts.h0 {
        Some(h0) => h0.min(span),
        None => {
            nfe += 1;
            initial_step(system, &x, &k1, t, span, dir, &opts)?
        }
    };

    let mut times = vec![t0];
    let mut step_sizes = Vec::new();
    let (mut rejected, mut attempts) = (0, 0);
    let mut err_prev: f64 = 1e-4;
    let mut last_rejected = false;
    while t != t1 {
        if attempts == opts.max_steps {
            return Err(Error::Numerical(format!(
                "Dormand–Prince did not reach t1 = {t1} within max_steps = {} attempts \
                 (rtol = {}, atol = {}); stopped at t = {t} after {} accepted and {rejected} rejected steps",
                opts.max_steps,
                opts.rtol,
                opts.atol,
                step_sizes.len()
            )));
        }
        attempts += 1;
        // Land exactly on t1 (and do not leave a sliver of a step behind).
        let last = h >= (t1 - t).abs() * (1.0 - 1e-12);
        if last {
            h = (t1 - t).abs();
        }
        if h <= 16.0 * f64::EPSILON * t.abs().max(span) {
            return Err(Error::Numerical(format!(
                "Dormand–Prince step size underflow (h = {h:.3e}) at t = {t}: \
                 the tolerances (rtol = {}, atol = {}) cannot be met",
                opts.rtol, opts.atol
            )));
        }
        let hs = dir * h;
        let (y, mut ks) = fifth_order(system, x.view(), t, hs, k1.clone())?;
        let t_new = if last { t1 } else { t + hs };
        ks.push(system.rhs(y.view(), t_new)?);
        nfe += 6;
        let mut e = Array2::zeros(x.dim());
        for (w, k) in E.iter().zip(&ks) {
            if *w != 0.0 {
                e.scaled_add(hs * w, k);
            }
        }
        let err = error_norm(&e, &x, &y, &opts);
        if err.is_finite() && err <= 1.0 && y.iter().all(|v| v.is_finite()) {
            // Accept; PI rule for the next step, no growth right after a rejection.
            let mut factor = (SAFETY * err.max(1e-10).powf(-ALPHA) * err_prev.powf(BETA))
                .clamp(MIN_FACTOR, MAX_FACTOR);
            if last_rejected {
                factor = factor.min(1.0);
            }
            err_prev = err.max(1e-4);
            last_rejected = false;
            x = y;
            k1 = ks.pop().expect("seven stages");
            t = t_new;
            times.push(t);
            step_sizes.push(h);
            h *= factor;
        } else {
            // Reject; a non-finite stage shrinks the step as much as allowed.
            let factor = if err.is_finite() {
                (SAFETY * err.powf(-ALPHA)).max(MIN_FACTOR)
            } else {
                MIN_FACTOR
            };
            rejected += 1;
            last_rejected = true;
            h *= factor.min(1.0);
        }
    }
    Ok(AdaptiveSolution {
        times,
        step_sizes,
        state: x,
        nfe,
        rejected,
    })
}
