//! The general affine forward SDE `dx = f(t) x dt + g(t) dW` (seed 001 §3.1.2, "扰动核"):
//! any scalar `f`, `g`, with the perturbation kernel `N(α(t) x_0, σ²(t) I)` obtained from the
//! mean and variance ODEs
//!
//! ```text
//! dα/dt = f(t) α,            α(0) = 1     (so α(t) = exp ∫₀ᵗ f),
//! dP/dt = 2 f(t) P + g²(t),  P(0) = 0     (so P(t) = ∫₀ᵗ e^{2∫ₛᵗ f} g²(s) ds = σ²(t)),
//! ```
//!
//! integrated once with RK4 on a fine grid and interpolated with cubic Hermite polynomials
//! (the ODE gives the derivatives at the nodes), so that `marginal_mean_std` is accurate to
//! about `h⁴` without any closed form. This is the "linear SDE → kernel" direction of the
//! lemma of seed 001's optional section; [`super::KernelSde`] is the other direction.

use std::fmt;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2};

use crate::error::check_time;
use crate::sde_basics::ForwardSde;
use crate::error::{invalid, positive};
use crate::sde_basics::{Diffusion, Sde};
use crate::{Error, Result};

/// A scalar function of time, shared between clones.
pub type TimeFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// RK4 steps used for the mean/variance ODEs.
pub const AFFINE_STEPS: usize = 4096;

/// `dx = f(t) x dt + g(t) dW` on `[0, T]` with marginals from the mean/variance ODEs.
#[derive(Clone)]
pub struct AffineSde {
    f: TimeFn,
    g: TimeFn,
    t_max: f64,
    h: f64,
    /// `ln α` at the nodes `t_k = k h`.
    log_alpha: Vec<f64>,
    /// `P = σ²` at the nodes.
    var: Vec<f64>,
    /// `f` and `g²` at the nodes (the ODEs' right-hand sides for Hermite interpolation).
    f_nodes: Vec<f64>,
    g2_nodes: Vec<f64>,
}

impl fmt::Debug for AffineSde {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            out,
            "AffineSde {{ t_max: {}, steps: {} }}",
            self.t_max,
            self.var.len() - 1
        )
    }
}

fn eval(name: &'static str, func: &TimeFn, t: f64) -> Result<f64> {
    let v = func(t);
    if v.is_finite() {
        Ok(v)
    } else {
        invalid(name, format!("{v} at t = {t}"), "must be finite on [0, T]")
    }
}

impl AffineSde {
    /// The SDE with drift coefficient `f(t)` and diffusion `g(t)` on `[0, t_max]`.
    ///
    /// Errors when `t_max` is not positive or `f`, `g` are not finite somewhere on `[0, T]`
    /// (the message names the time).
    pub fn new(
        f: impl Fn(f64) -> f64 + Send + Sync + 'static,
        g: impl Fn(f64) -> f64 + Send + Sync + 'static,
        t_max: f64,
    ) -> Result<Self> {
        positive("t_max", t_max)?;
        let f: TimeFn = Arc::new(f);
        let g: TimeFn = Arc::new(g);
        let n = AFFINE_STEPS;
        let h = t_max / n as f64;
        let rhs = |t: f64, v: f64| -> Result<(f64, f64)> {
            let fv = eval("f", &f, t)?;
            let gv = eval("g", &g, t)?;
            Ok((fv, 2.0 * fv * v + gv * gv))
        };
        let mut log_alpha = Vec::with_capacity(n + 1);
        let mut var = Vec::with_capacity(n + 1);
        let mut f_nodes = Vec::with_capacity(n + 1);
        let mut g2_nodes = Vec::with_capacity(n + 1);
        let (mut la, mut v) = (0.0, 0.0);
        for k in 0..=n {
            let t = if k == n { t_max } else { k as f64 * h };
            log_alpha.push(la);
            var.push(v);
            f_nodes.push(eval("f", &f, t)?);
            g2_nodes.push(eval("g", &g, t)?.powi(2));
            if k == n {
                break;
            }
            // Classical RK4 on (ln α, P); ln α' = f does not depend on the state.
            let (a1, b1) = rhs(t, v)?;
            let (a2, b2) = rhs(t + 0.5 * h, v + 0.5 * h * b1)?;
            let (a3, b3) = rhs(t + 0.5 * h, v + 0.5 * h * b2)?;
            let (a4, b4) = rhs(t + h, v + h * b3)?;
            la += h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4);
            v += h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4);
            if !(la.is_finite() && v.is_finite()) {
                return Err(Error::Numerical(format!(
                    "the mean/variance ODEs overflowed at t = {}",
                    t + h
                )));
            }
        }
        Ok(Self {
            f,
            g,
            t_max,
            h,
            log_alpha,
            var,
            f_nodes,
            g2_nodes,
        })
    }

    /// `f(t)` (the drift is `f(t) x`).
    pub fn f(&self, t: f64) -> Result<f64> {
        eval("f", &self.f, check_time(t, self.t_max)?)
    }

    /// `g(t)`.
    pub fn g(&self, t: f64) -> Result<f64> {
        eval("g", &self.g, check_time(t, self.t_max)?)
    }
}

/// Cubic Hermite interpolation on `[0, h]` from values `y0, y1` and slopes `d0, d1`.
fn hermite(s: f64, h: f64, y0: f64, y1: f64, d0: f64, d1: f64) -> f64 {
    let s2 = s * s;
    let s3 = s2 * s;
    (2.0 * s3 - 3.0 * s2 + 1.0) * y0
        + (s3 - 2.0 * s2 + s) * h * d0
        + (-2.0 * s3 + 3.0 * s2) * y1
        + (s3 - s2) * h * d1
}

impl Sde for AffineSde {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        Ok(&x * self.f(t)?)
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        Ok(Diffusion::Scalar(self.g(t)?))
    }
}

impl ForwardSde for AffineSde {
    fn t_max(&self) -> f64 {
        self.t_max
    }

    /// `(α(t), σ(t))` interpolated from the RK4 solution of the mean/variance ODEs.
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let t = check_time(t, self.t_max)?;
        let last = self.var.len() - 2;
        let k = ((t / self.h).floor() as usize).min(last);
        let s = (t - k as f64 * self.h) / self.h;
        let (f0, f1) = (self.f_nodes[k], self.f_nodes[k + 1]);
        let la = hermite(s, self.h, self.log_alpha[k], self.log_alpha[k + 1], f0, f1);
        let (v0, v1) = (self.var[k], self.var[k + 1]);
        let d0 = 2.0 * f0 * v0 + self.g2_nodes[k];
        let d1 = 2.0 * f1 * v1 + self.g2_nodes[k + 1];
        let v = hermite(s, self.h, v0, v1, d0, d1);
        Ok((la.exp(), v.max(0.0).sqrt()))
    }

    /// `σ(T)`: the prior `N(0, σ(T)² I)` ignores the remaining `α(T) x_0`.
    fn prior_std(&self) -> f64 {
        self.var[self.var.len() - 1].sqrt()
    }
}
