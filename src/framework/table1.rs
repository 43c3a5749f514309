//! Seed 001 §3.3, Table 1 (前向 SDE 小结), entry by entry, as data that can be checked.
//!
//! A [`Table1Column`] holds the table's formulas for one SDE — `f`, `g`, the kernel
//! `p_t(x_t | x_0)` and the prior — written independently of the crate's SDE types.
//! [`check_column`] compares them with a crate SDE (`f` and `g` directly; the kernel and the
//! prior by Euler–Maruyama simulation), giving each comparison a tolerance derived from the
//! sample size plus Euler–Maruyama's own discretisation bias (computed exactly: for a linear
//! SDE the scheme's mean and variance obey `m ← (1 + f Δt) m`, `v ← (1 + f Δt)² v + g² Δt`).
//!
//! [`ve_erratum`] shows seed 004's VE diffusion `g = dσ²/dt` (no square root) next to the
//! table's `g = √(dσ²/dt)`.

use std::sync::Arc;

use ndarray::{array, Array2};

use super::affine::{AffineSde, TimeFn};
use crate::sde_basics::ForwardSde;
use crate::data::GaussianMixture;
use crate::error::{invalid, positive, positive_range};
use crate::sde_basics::Diffusion;
use crate::solvers::{EulerMaruyama, Noise, Record, SdeScheme, TimeGrid};
use crate::{Error, Result};

/// One column of Table 1: the seed's formulas for one forward SDE on `[0, 1]`.
#[derive(Clone)]
pub struct Table1Column {
    /// "VE SDE" or "VP SDE".
    pub name: &'static str,
    /// `f(t)` with `f(x, t) = f(t) x`.
    pub f: TimeFn,
    /// `g(t)`.
    pub g: TimeFn,
    /// `(mean factor, variance)` of `p_t(x_t | x_0)` as the table writes it.
    pub kernel: Arc<dyn Fn(f64) -> (f64, f64) + Send + Sync>,
    /// Variance of the prior `N(0, v I)`.
    pub prior_var: f64,
}

/// Central difference `dF/dt` (the table writes derivatives; `h` balances rounding and `h²`).
fn derivative(func: impl Fn(f64) -> f64, t: f64) -> f64 {
    let h = 1e-5;
    (func(t + h) - func(t - h)) / (2.0 * h)
}

/// Composite Simpson rule for `∫₀ᵗ β` (exact for the linear `β` of the table).
fn integral(func: impl Fn(f64) -> f64, t: f64) -> f64 {
    let m = 64;
    let h = t / m as f64;
    let inner: f64 = (1..m)
        .map(|k| func(k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 })
        .sum();
    (func(0.0) + inner + func(t)) * h / 3.0
}

/// The table's VE column with NCSN's `σ(t) = σ_min (σ_max/σ_min)^t`:
/// `f = 0`, `g = √(dσ²/dt)`, kernel `N(x_0, (σ²(t) − σ²(0)) I)`, prior `N(0, σ²(1) I)`.
pub fn ve_column(sigma_min: f64, sigma_max: f64) -> Result<Table1Column> {
    positive_range(("sigma_min", sigma_min), ("sigma_max", sigma_max), false)?;
    let sigma = move |t: f64| sigma_min * (sigma_max / sigma_min).powf(t);
    Ok(Table1Column {
        name: "VE SDE",
        f: Arc::new(|_| 0.0),
        g: Arc::new(move |t| derivative(|s| sigma(s).powi(2), t).sqrt()),
        kernel: Arc::new(move |t| (1.0, sigma(t).powi(2) - sigma(0.0).powi(2))),
        prior_var: sigma(1.0).powi(2),
    })
}

/// The table's VP column with DDPM's `β(t) = β_min + t (β_max − β_min)`:
/// `f = −½β`, `g = √β`, kernel `N(x_0 e^{−½∫β}, (1 − e^{−∫β}) I)`, prior `N(0, I)`.
pub fn vp_column(beta_min: f64, beta_max: f64) -> Result<Table1Column> {
    positive("beta_min", beta_min)?;
    positive("beta_max", beta_max)?;
    let beta = move |t: f64| beta_min + t * (beta_max - beta_min);
    Ok(Table1Column {
        name: "VP SDE",
        f: Arc::new(move |t| -0.5 * beta(t)),
        g: Arc::new(move |t| beta(t).sqrt()),
        kernel: Arc::new(move |t| {
            let b = integral(beta, t);
            ((-0.5 * b).exp(), 1.0 - (-b).exp())
        }),
        prior_var: 1.0,
    })
}

/// One checked entry: the table's value beside the crate's or a simulation's.
#[derive(Debug, Clone, PartialEq)]
pub struct Table1Check {
    /// Which entry, e.g. `"g(t)"` or `"Var[x_t | x_0]"`.
    pub entry: &'static str,
    /// The time.
    pub t: f64,
    /// The value the table's formula gives.
    pub table: f64,
    /// The crate's value (for `f`, `g`) or the simulated one (kernel, prior).
    pub measured: f64,
    /// `"crate"` or `"simulation"`.
    pub source: &'static str,
    /// Allowed `|table − measured|` (see [`check_column`]).
    pub tolerance: f64,
}

impl Table1Check {
    /// `|table − measured| ≤ tolerance`.
    pub fn ok(&self) -> bool {
        (self.table - self.measured).abs() <= self.tolerance
    }
}

/// Euler–Maruyama's exact mean and variance for `dx = f x dt + g dW` from `(m0, v0)` on
/// `grid`, at every grid point.
fn em_moments(col: &Table1Column, m0: f64, v0: f64, grid: &TimeGrid) -> Vec<(f64, f64)> {
    let mut out = vec![(m0, v0)];
    let (mut m, mut v) = (m0, v0);
    for k in 0..grid.steps() {
        let (t, dt) = grid.step(k);
        let a = 1.0 + (col.f)(t) * dt;
        let g = (col.g)(t);
        m *= a;
        v = a * a * v + g * g * dt;
        out.push((m, v));
    }
    out
}

/// Checks every entry of `col` against the crate's `sde` (1-D):
///
/// - `f(x,t)` and `g(t)` at `t = 0, ½, 1` against `sde.drift` / `sde.diffusion` (relative
///   tolerance 1e-6: the table's VE `g` uses a numerical derivative);
/// - the kernel's mean and variance at `t = ¼, ½, ¾, 1` against `n` Euler–Maruyama paths of
///   `sde` from `x0` on `steps` steps;
/// - the prior's mean and variance against `n` paths from `data` at `t = 1`; the table's `≈`
///   (`p_T ≈ p_prior`) is part of the tolerance: `|α(1) E[x_0]|`, and
///   `|α(1)² Var[x_0] + σ²(1) − v_prior|`.
///
/// Tolerances: 5 standard errors of the sample mean (`√(v/n)`) or variance (`v √(2/(n−1))`,
/// Gaussian kurtosis; the data's is lower) plus the exact Euler–Maruyama bias.
pub fn check_column(
    col: &Table1Column,
    sde: &dyn ForwardSde,
    data: &GaussianMixture,
    x0: f64,
    n: usize,
    steps: usize,
    seed: u64,
) -> Result<Vec<Table1Check>> {
    if data.dim() != 1 {
        return invalid("data.dim()", data.dim(), "Table 1 is checked in 1-D");
    }
    if n < 2 {
        return invalid("n", n, "need at least two paths for a variance");
    }
    if steps < 4 || !steps.is_multiple_of(4) {
        return invalid("steps", steps, "must be a positive multiple of 4");
    }
    let t_max = sde.t_max();
    let mut rows = Vec::new();
    let one = array![[1.0]];
    for t in [0.0, 0.5 * t_max, t_max] {
        let f = sde.drift(one.view(), t)?[[0, 0]];
        let table = (col.f)(t);
        rows.push(Table1Check {
            entry: "f(x,t)/x",
            t,
            table,
            measured: f,
            source: "crate",
            tolerance: 1e-6 * table.abs().max(1.0),
        });
        let g = match sde.diffusion(one.view(), t)? {
            Diffusion::Scalar(g) => g,
            other => {
                return Err(Error::Shape(format!(
                    "Table 1's SDEs have scalar diffusion, got {other:?}"
                )))
            }
        };
        let table = (col.g)(t);
        rows.push(Table1Check {
            entry: "g(t)",
            t,
            table,
            measured: g,
            source: "crate",
            tolerance: 1e-6 * table.abs().max(1.0),
        });
    }

    let grid = TimeGrid::uniform(0.0, t_max, steps)?;
    let every = Record::Every(steps / 4);
    let se = |v: f64| ((v / n as f64).sqrt(), v * (2.0 / (n - 1) as f64).sqrt());

    // The kernel from a point x0.
    let start = Array2::from_elem((n, 1), x0);
    let sol = EulerMaruyama.solve(sde, start.view(), &grid, Noise::Seed(seed), every)?;
    let em = em_moments(col, x0, 0.0, &grid);
    for (r, (t, x)) in sol.times.iter().zip(&sol.states).enumerate().skip(1) {
        let (a, v) = (col.kernel)(*t);
        let (em_m, em_v) = em[r * steps / 4];
        let (se_m, se_v) = se(v);
        rows.push(Table1Check {
            entry: "E[x_t | x_0]",
            t: *t,
            table: a * x0,
            measured: x.mean().unwrap_or(f64::NAN),
            source: "simulation",
            tolerance: 5.0 * se_m + (em_m - a * x0).abs(),
        });
        rows.push(Table1Check {
            entry: "Var[x_t | x_0]",
            t: *t,
            table: v,
            measured: x.var(1.0),
            source: "simulation",
            tolerance: 5.0 * se_v + (em_v - v).abs(),
        });
    }

    // The prior: data pushed to t = T.
    let start = data.sample(n, seed ^ 0x5eed);
    let sol = EulerMaruyama.solve(
        sde,
        start.view(),
        &grid,
        Noise::Seed(seed + 1),
        Record::Final,
    )?;
    let x = sol.last();
    let (m0, v0) = (data.mean()[0], data.covariance()[[0, 0]]);
    let (a, s2) = (col.kernel)(t_max);
    let em_data = em_moments(col, m0, v0, &grid)[steps];
    let exact_v = a * a * v0 + s2;
    let (se_m, se_v) = se(exact_v);
    rows.push(Table1Check {
        entry: "prior mean",
        t: t_max,
        table: 0.0,
        measured: x.mean().unwrap_or(f64::NAN),
        source: "simulation",
        tolerance: 5.0 * se_m + (em_data.0 - a * m0).abs() + (a * m0).abs(),
    });
    rows.push(Table1Check {
        entry: "prior variance",
        t: t_max,
        table: col.prior_var,
        measured: x.var(1.0),
        source: "simulation",
        tolerance: 5.0 * se_v + (em_data.1 - exact_v).abs() + (exact_v - col.prior_var).abs(),
    });
    Ok(rows)
}

/// One time of the VE erratum: the kernel variance the table states, and what the SDE with
/// the square root and seed 004's SDE without it actually produce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VeErratumRow {
    /// The time.
    pub t: f64,
    /// `σ²(t) − σ²(0)`: the variance the VE kernel must have.
    pub kernel_var: f64,
    /// Variance of `dx = √(dσ²/dt) dW` (Table 1) from the mean/variance ODE.
    pub with_sqrt: f64,
    /// Variance of `dx = (dσ²/dt) dW` (seed 004) from the mean/variance ODE.
    pub without_sqrt: f64,
    /// The same, by Euler–Maruyama simulation.
    pub without_sqrt_simulated: f64,
}

/// Seed 004 writes the VE diffusion as `g(t) = dσ²(t)/dt`; Table 1 (seed 001 §3.3) has
/// `g = √(dσ²/dt)`. Both SDEs are built as [`AffineSde`]s (their variance comes from the
/// variance ODE `dP/dt = g²`, not from a formula), and seed 004's is also simulated.
pub fn ve_erratum(
    sigma_min: f64,
    sigma_max: f64,
    times: &[f64],
    n: usize,
    steps: usize,
    seed: u64,
) -> Result<Vec<VeErratumRow>> {
    let col = ve_column(sigma_min, sigma_max)?;
    let g_table = col.g.clone();
    let right = AffineSde::new(|_| 0.0, move |t| g_table(t), 1.0)?;
    let g_table = col.g.clone();
    let wrong = AffineSde::new(|_| 0.0, move |t| g_table(t).powi(2), 1.0)?;
    let grid = TimeGrid::from_times(
        std::iter::once(0.0)
            .chain((1..=steps).map(|k| k as f64 / steps as f64))
            .collect(),
    )?;
    let sol = EulerMaruyama.solve(
        &wrong,
        Array2::zeros((n, 1)).view(),
        &grid,
        Noise::Seed(seed),
        Record::Every(1),
    )?;
    times
        .iter()
        .map(|&t| {
            let k = (t * steps as f64).round() as usize;
            if !(0.0..=1.0).contains(&t) || (k as f64 / steps as f64 - t).abs() > 1e-12 {
                return invalid(
                    "times",
                    t,
                    format!("must be multiples of 1/{steps} in [0, 1]"),
                );
            }
            Ok(VeErratumRow {
                t,
                kernel_var: (col.kernel)(t).1,
                with_sqrt: right.marginal_mean_std(t)?.1.powi(2),
                without_sqrt: wrong.marginal_mean_std(t)?.1.powi(2),
                without_sqrt_simulated: sol.states[k].var(0.0),
            })
        })
        .collect()
}
