//! Measuring convergence orders (seed 000 §2.1 "收敛性分析", §2.3): errors over a ladder of
//! step sizes and the fitted order `p` of `error ≈ C hᵖ`, with a 95 % confidence band.
//!
//! - ODEs ([`ode_ladder`]): the global error at the end point against an exact solution; the
//!   band is the least-squares interval of the log–log fit.
//! - SDEs ([`sde_ladder`]): every step size runs on the *same* Brownian paths (sampled on the
//!   finest grid and coarsened by summing increments, [`WienerPath::coarsen`]) against an
//!   exact solution driven by those paths. Strong error `E‖X_h(T) − X(T)‖`, weak error
//!   `‖E X_h(T) − E X(T)‖` estimated as `‖mean(X_h(T) − X(T))‖` (the exact solution as a
//!   control variate). The band comes from a bootstrap over paths, so it shrinks like
//!   `1/√paths` — the Monte-Carlo uncertainty that sets how tightly an order can be asserted.
//!
//! Also the error-propagation bound of seed 000 §2.3.2 ([`propagation_bound`]) and the
//! step count a fixed-step method needs for a given accuracy ([`steps_for_accuracy`]).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng as _;

use crate::sde_basics::OdeSystem;
use super::ode_fixed::{solve_ode, OdeStepper};
use super::sde::{solve, Noise, SdeScheme};
use crate::sde_basics::Record;
use super::TimeGrid;
use crate::error::{invalid, positive, Error};
use crate::rng;
use crate::sde_basics::{wiener::WienerPath, Sde};
use crate::Result;

/// A fitted order `p` in `error ≈ C hᵖ`, with a 95 % confidence band `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderFit {
    /// The slope of `log error` against `log h`.
    pub order: f64,
    /// `log C`, the intercept.
    pub log_const: f64,
    /// Standard error of `order`.
    pub stderr: f64,
    /// Lower end of the 95 % band.
    pub low: f64,
    /// Upper end of the 95 % band.
    pub high: f64,
}

/// Errors over a ladder of step sizes and their fitted order.
#[derive(Debug, Clone)]
pub struct Ladder {
    /// What was measured ("Euler", "Milstein strong", …).
    pub name: String,
    /// Step sizes `|h|`, coarsest first.
    pub h: Vec<f64>,
    /// The error at each step size.
    pub error: Vec<f64>,
    /// The fitted order.
    pub fit: OrderFit,
}

/// The strong and weak ladders of one SDE scheme on one set of paths.
#[derive(Debug, Clone)]
pub struct SdeLadder {
    /// `E‖X_h(T) − X(T)‖`, bootstrap band on the order.
    pub strong: Ladder,
    /// `‖E X_h(T) − E X(T)‖`, bootstrap band on the order.
    pub weak: Ladder,
    /// Monte-Carlo standard error of each strong error.
    pub strong_se: Vec<f64>,
    /// Monte-Carlo standard error of each weak error.
    pub weak_se: Vec<f64>,
}

/// Two-sided 97.5 % quantile of Student's t with `df` degrees of freedom (table to 10, then
/// `1.96 + 2.4/df`, within 0.01 of the exact value).
fn t_quantile(df: usize) -> f64 {
    const T: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    if df == 0 {
        f64::INFINITY
    } else if df <= T.len() {
        T[df - 1]
    } else {
        1.96 + 2.4 / df as f64
    }
}

/// `(slope, intercept)` of the least-squares line through `(log h, log e)`.
fn log_log_line(h: &[f64], err: &[f64]) -> (f64, f64) {
    let n = h.len() as f64;
    let xs: Vec<f64> = h.iter().map(|h| h.ln()).collect();
    let ys: Vec<f64> = err.iter().map(|e| e.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

fn check_ladder(h: &[f64], err: &[f64]) -> Result<()> {
    if h.len() != err.len() {
        return Err(Error::Shape(format!(
            "{} step sizes, {} errors",
            h.len(),
            err.len()
        )));
    }
    if h.len() < 2 {
        return invalid("h.len()", h.len(), "a fit needs at least two step sizes");
    }
    for (&h, &e) in h.iter().zip(err) {
        positive("h", h)?;
        if !(e.is_finite() && e > 0.0) {
            return invalid(
                "error",
                e,
                format!("at h = {h} must be finite and > 0 to take its log"),
            );
        }
    }
    if h.iter().all(|&x| x == h[0]) {
        return invalid("h", h[0], "need at least two different step sizes");
    }
    Ok(())
}

/// Least-squares fit of `log error = log C + p log h`; the band is the t-interval of the
/// slope from the residuals (`±∞` with only two points). For deterministic errors the band
/// measures how far the ladder is from a pure power law.
pub fn fit_order(h: &[f64], err: &[f64]) -> Result<OrderFit> {
    check_ladder(h, err)?;
    let (slope, intercept) = log_log_line(h, err);
    let n = h.len();
    let xs: Vec<f64> = h.iter().map(|h| h.ln()).collect();
    let mx = xs.iter().sum::<f64>() / n as f64;
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let rss: f64 = xs
        .iter()
        .zip(err)
        .map(|(x, e)| (e.ln() - intercept - slope * x).powi(2))
        .sum();
    let stderr = if n > 2 {
        (rss / (n - 2) as f64 / sxx).sqrt()
    } else {
        f64::INFINITY
    };
    let half = t_quantile(n.saturating_sub(2)) * stderr;
    Ok(OrderFit {
        order: slope,
        log_const: intercept,
        stderr,
        low: slope - half,
        high: slope + half,
    })
}

/// `max_i ‖a_i − b_i‖`: the largest Euclidean error over the particles (rows).
pub fn max_error(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<f64> {
    if a.dim() != b.dim() {
        return Err(Error::Shape(format!("{:?} vs {:?}", a.dim(), b.dim())));
    }
    Ok((&a - &b)
        .rows()
        .into_iter()
        .map(|r| norm(r.iter().copied()))
        .fold(0.0, f64::max))
}

/// The Euclidean norm without overflow (an exploding solution's error is huge, not infinite).
fn norm(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let scale = v.clone().fold(0.0, |m: f64, x| m.max(x.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return scale;
    }
    scale * v.map(|x| (x / scale) * (x / scale)).sum::<f64>().sqrt()
}

/// Global errors of `stepper` at `t1` for each number of `steps` (uniform grids from `t0`),
/// against the exact end states `exact`, and the fitted order. The error is [`max_error`].
pub fn ode_ladder<S, M>(
    stepper: &M,
    system: &S,
    x0: ArrayView2<f64>,
    t0: f64,
    t1: f64,
    steps: &[usize],
    exact: ArrayView2<f64>,
) -> Result<Ladder>
where
    S: OdeSystem + ?Sized,
    M: OdeStepper<S> + ?Sized,
{
    let mut h = Vec::with_capacity(steps.len());
    let mut error = Vec::with_capacity(steps.len());
    for &n in steps {
        let grid = TimeGrid::uniform(t0, t1, n)?;
        let sol = solve_ode(stepper, system, x0, &grid, Record::Final)?;
        h.push((t1 - t0).abs() / n as f64);
        error.push(max_error(sol.last().view(), exact)?);
    }
    Ok(Ladder {
        name: stepper.name().to_string(),
        fit: fit_order(&h, &error)?,
        h,
        error,
    })
}

/// Strong and weak errors of `scheme` at the end of `fine`'s grid for the step sizes
/// `factor × h_fine`, all driven by the paths of `fine`, against `exact` (the exact
/// solutions at the end time on those paths, `n × d` like `x0`). The orders' bands come from
/// `bootstrap` (≥ 20) resamples of the paths, drawn from `seed`.
#[allow(clippy::too_many_arguments)]
pub fn sde_ladder(
    scheme: &(impl SdeScheme + ?Sized),
    sde: &dyn Sde,
    x0: ArrayView2<f64>,
    fine: &WienerPath,
    exact: ArrayView2<f64>,
    factors: &[usize],
    bootstrap: usize,
    seed: u64,
) -> Result<SdeLadder> {
    if bootstrap < 20 {
        return invalid(
            "bootstrap",
            bootstrap,
            "need at least 20 resamples for a 95 % band",
        );
    }
    if exact.dim() != x0.dim() {
        return Err(Error::Shape(format!(
            "exact is {:?}, x0 {:?}",
            exact.dim(),
            x0.dim()
        )));
    }
    if factors.len() < 2 {
        return invalid(
            "factors.len()",
            factors.len(),
            "need at least two step sizes",
        );
    }
    let n = x0.nrows();
    // diffs[l]: X_h(T) − X(T) per path at level l.
    let mut h = Vec::with_capacity(factors.len());
    let mut diffs: Vec<Array2<f64>> = Vec::with_capacity(factors.len());
    for &f in factors {
        let coarse = fine.coarsen(f)?;
        let grid = coarse.grid();
        let sol = solve(scheme, sde, x0, grid, Noise::Path(&coarse), Record::Final)?;
        h.push((grid.times()[grid.steps()] - grid.times()[0]).abs() / grid.steps() as f64);
        diffs.push(sol.last() - &exact);
    }
    let norms: Vec<Array1<f64>> = diffs
        .iter()
        .map(|d| d.map_axis(Axis(1), |r| r.dot(&r).sqrt()))
        .collect();
    let strong_of =
        |idx: &[usize], l: usize| idx.iter().map(|&i| norms[l][i]).sum::<f64>() / idx.len() as f64;
    let weak_of = |idx: &[usize], l: usize| {
        let mut m = Array1::<f64>::zeros(x0.ncols());
        for &i in idx {
            m += &diffs[l].row(i);
        }
        m /= idx.len() as f64;
        m.dot(&m).sqrt()
    };
    let all: Vec<usize> = (0..n).collect();
    let strong: Vec<f64> = (0..h.len()).map(|l| strong_of(&all, l)).collect();
    let weak: Vec<f64> = (0..h.len()).map(|l| weak_of(&all, l)).collect();

    // Bootstrap over paths: the same resampled paths for every step size.
    let mut rng = rng::seeded(seed);
    let (mut strong_slopes, mut weak_slopes) = (Vec::new(), Vec::new());
    let mut idx = vec![0; n];
    for _ in 0..bootstrap {
        idx.iter_mut().for_each(|i| *i = rng.random_range(0..n));
        let s: Vec<f64> = (0..h.len()).map(|l| strong_of(&idx, l)).collect();
        let w: Vec<f64> = (0..h.len()).map(|l| weak_of(&idx, l)).collect();
        if s.iter().all(|e| *e > 0.0) {
            strong_slopes.push(log_log_line(&h, &s).0);
        }
        if w.iter().all(|e| *e > 0.0) {
            weak_slopes.push(log_log_line(&h, &w).0);
        }
    }
    let strong_se = norms
        .iter()
        .map(|v| v.std(1.0) / (n as f64).sqrt())
        .collect();
    let weak_se = diffs
        .iter()
        .map(|d| (d.var_axis(Axis(0), 1.0).sum() / n as f64).sqrt())
        .collect();
    Ok(SdeLadder {
        strong: Ladder {
            name: format!("{} strong", scheme.name()),
            fit: bootstrap_fit(&h, &strong, &strong_slopes)?,
            h: h.clone(),
            error: strong,
        },
        weak: Ladder {
            name: format!("{} weak", scheme.name()),
            fit: bootstrap_fit(&h, &weak, &weak_slopes)?,
            h,
            error: weak,
        },
        strong_se,
        weak_se,
    })
}

/// The least-squares fit of the full sample with the bootstrap's standard error and
/// 2.5 %/97.5 % percentiles as its band.
fn bootstrap_fit(h: &[f64], err: &[f64], slopes: &[f64]) -> Result<OrderFit> {
    check_ladder(h, err)?;
    let (order, log_const) = log_log_line(h, err);
    if slopes.len() < 20 {
        return Err(Error::Numerical(format!(
            "only {} bootstrap resamples gave positive errors at every step size",
            slopes.len()
        )));
    }
    let mut s = slopes.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.iter().sum::<f64>() / s.len() as f64;
    let stderr = (s.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (s.len() - 1) as f64).sqrt();
    let q = |p: f64| s[((p * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)];
    Ok(OrderFit {
        order,
        log_const,
        stderr,
        low: q(0.025),
        high: q(0.975),
    })
}

/// The error-propagation bound of seed 000 §2.3.2:
/// `‖x(t) − x̂(t)‖ ≤ ‖x(0) − x̂(0)‖ e^{Lt} + (M/L)(e^{Lt} − 1)`,
/// with `L` the Lipschitz constant of the right-hand side and `M` the local error per unit
/// time (for Euler, `M = h/2 · max|x″|`).
pub fn propagation_bound(e0: f64, lipschitz: f64, m: f64, t: f64) -> Result<f64> {
    if !(e0.is_finite() && e0 >= 0.0) {
        return invalid("e0", e0, "must be finite and ≥ 0");
    }
    positive("lipschitz", lipschitz)?;
    if !(m.is_finite() && m >= 0.0) {
        return invalid("m", m, "must be finite and ≥ 0");
    }
    if !(t.is_finite() && t >= 0.0) {
        return invalid("t", t, "must be finite and ≥ 0");
    }
    let growth = (lipschitz * t).exp();
    Ok(e0 * growth + m / lipschitz * (growth - 1.0))
}

/// The fewest uniform steps (up to a factor found by bisection) for which `stepper` reaches
/// `target` accuracy ([`max_error`] against `reference` at `t1`), with the error it reached
/// and its NFE. Fails if `2²⁰` steps are not enough.
pub fn steps_for_accuracy<S, M>(
    stepper: &M,
    system: &S,
    x0: ArrayView2<f64>,
    t0: f64,
    t1: f64,
    reference: ArrayView2<f64>,
    target: f64,
) -> Result<(usize, f64, usize)>
where
    S: OdeSystem + ?Sized,
    M: OdeStepper<S> + ?Sized,
{
    positive("target", target)?;
    const MAX: usize = 1 << 20;
    let run = |n: usize| -> Result<(f64, usize)> {
        let sol = solve_ode(
            stepper,
            system,
            x0,
            &TimeGrid::uniform(t0, t1, n)?,
            Record::Final,
        );
        match sol {
            Ok(sol) => Ok((max_error(sol.last().view(), reference)?, sol.nfe)),
            // Beyond the stability limit: as good as infinitely wrong.
            Err(Error::Numerical(_)) => Ok((f64::INFINITY, 0)),
            Err(e) => Err(e),
        }
    };
    let (mut lo, mut hi) = (0, 1);
    let mut best = run(hi)?;
    while best.0 > target {
        if hi >= MAX {
            return Err(Error::Numerical(format!(
                "{} does not reach the error {target:e} with {MAX} steps",
                stepper.name()
            )));
        }
        lo = hi;
        hi *= 2;
        best = run(hi)?;
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let r = run(mid)?;
        if r.0 <= target {
            hi = mid;
            best = r;
        } else {
            lo = mid;
        }
    }
    Ok((hi, best.0, best.1))
}
