//! From discrete noising chains to SDEs (seed 003 §1, seed 001 §3.1.1).
//!
//! On the grid `t_i = i T/N`, `Δt = T/N`, `i = 1, …, N`:
//!
//! - DDPM: `x_i = √(1 − β_i) x_{i−1} + √β_i z_i` with `β_i = β(t_i) Δt`, whose limit is the
//!   VP SDE `dx = −½β(t) x dt + √β(t) dW`;
//! - NCSN: `x_i = x_{i−1} + √(σ_i² − σ_{i−1}²) z_i` with `σ_i = σ(t_i)`, whose limit is the
//!   VE SDE `dx = √(dσ²/dt) dW`.
//!
//! Seed 001 also writes each update *linearised* in `Δt` (its "≈"):
//! `x + f(x, t) Δt + g(t) √Δt z` — one Euler–Maruyama step of the limit SDE, with the
//! coefficients at the left end `t_{i−1}`. Both forms are chains `x_i = a_i x_{i−1} + b_i z_i`
//! ([`LinearChain`]), so their marginal variance follows exactly from
//! `v_i = a_i² v_{i−1} + b_i²` and can be compared with the SDE's closed form
//! ([`LinearChain::variance_error`]). What the comparison shows:
//!
//! - DDPM as written and both linearised chains: error `∝ 1/N`;
//! - NCSN as written: no error at all — `Σ (σ_i² − σ_{i−1}²)` telescopes to `σ(t_i)² − σ(0)²`.

use ndarray::{Array1, Array2, ArrayView2};

use crate::error::{all_finite, batch_shape, check_time, finite, invalid};
use super::{ForwardSde, Record, Solution, VeSde, VpSde};
use crate::rng;
use crate::{Error, Result};

/// Which form of a chain's update: as the seed writes the discrete model, or linearised in `Δt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The discrete model's own update (DDPM's `√(1−β_i)`, NCSN's `√(σ_i² − σ_{i−1}²)`).
    Discrete,
    /// Seed 001's first-order form `x + f Δt + g √Δt z` (Euler–Maruyama on the limit SDE).
    Linearised,
}

/// A chain `x_i = a_i x_{i−1} + b_i z_i`, `z_i ~ N(0, I)`, on `t_i = i/N`, `i = 1..N`,
/// together with the SDE it approximates.
pub trait LinearChain {
    /// `N`.
    fn steps(&self) -> usize;

    /// `(a_i, b_i)` for `i = 1..=N` (an error for any other `i`).
    fn coefficients(&self, i: usize) -> Result<(f64, f64)>;

    /// `Var x(t)` of the limit SDE when `Var x(0) = v0` (per component).
    fn sde_variance(&self, v0: f64, t: f64) -> Result<f64>;

    /// `t_0, …, t_N` with `t_i = i/N`.
    fn times(&self) -> Vec<f64> {
        let n = self.steps();
        (0..=n).map(|i| i as f64 / n as f64).collect()
    }

    /// The chain's exact marginal variances `v_0 = v0, v_i = a_i² v_{i−1} + b_i²`.
    fn marginal_variance(&self, v0: f64) -> Result<Vec<f64>> {
        check_v0(v0)?;
        let mut v = Vec::with_capacity(self.steps() + 1);
        v.push(v0);
        for i in 1..=self.steps() {
            let (a, b) = self.coefficients(i)?;
            v.push(a * a * v[i - 1] + b * b);
        }
        Ok(v)
    }

    /// `max_i |v_i − Var x(t_i)|`: how far the chain's marginal variance is from the SDE's.
    fn variance_error(&self, v0: f64) -> Result<f64> {
        let v = self.marginal_variance(v0)?;
        self.times()
            .iter()
            .zip(&v)
            .try_fold(0.0_f64, |m, (&t, &vi)| {
                Ok(m.max((vi - self.sde_variance(v0, t)?).abs()))
            })
    }

    /// Runs the chain from the batch `x0` (`n × d`) with seeded noise, keeping the states
    /// `record` asks for (`nfe` counts the steps).
    fn sample(&self, x0: ArrayView2<f64>, seed: u64, record: Record) -> Result<Solution> {
        let (n, d) = batch_shape("x0.shape", x0)?;
        all_finite("x0", x0.iter())?;
        let keep = record.indices(self.steps())?;
        let times = self.times();
        let mut rng = rng::seeded(seed);
        let mut x: Array2<f64> = x0.to_owned();
        let mut states = Vec::with_capacity(keep.len());
        let mut next_keep = keep.iter().peekable();
        if next_keep.peek() == Some(&&0) {
            states.push(x.clone());
            next_keep.next();
        }
        for i in 1..=self.steps() {
            let (a, b) = self.coefficients(i)?;
            x = x * a + rng::normals(&mut rng, n, d) * b;
            if next_keep.peek() == Some(&&i) {
                states.push(x.clone());
                next_keep.next();
            }
        }
        Ok(Solution {
            times: keep.iter().map(|&k| times[k]).collect(),
            states,
            nfe: self.steps(),
        })
    }
}

fn check_v0(v0: f64) -> Result<()> {
    if v0.is_finite() && v0 >= 0.0 {
        Ok(())
    } else {
        invalid("v0", v0, "a variance must be finite and ≥ 0")
    }
}

fn check_index(i: usize, steps: usize) -> Result<()> {
    if (1..=steps).contains(&i) {
        Ok(())
    } else {
        invalid("i", i, format!("chain steps are numbered 1..={steps}"))
    }
}

fn check_steps(steps: usize) -> Result<()> {
    if steps == 0 {
        invalid("steps", steps, "a chain needs at least one step")
    } else {
        Ok(())
    }
}

/// DDPM's forward chain (seed 003 §1) on `N` steps of the VP SDE's `β(t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdpmChain {
    vp: VpSde,
    steps: usize,
    update: Update,
}

impl DdpmChain {
    /// `β_i = β(t_i)/N`; the discrete form needs every `β_i < 1`.
    pub fn new(vp: VpSde, steps: usize, update: Update) -> Result<Self> {
        check_steps(steps)?;
        let chain = Self { vp, steps, update };
        if update == Update::Discrete {
            if let Some(i) = (1..=steps).find(|&i| chain.beta(i) >= 1.0) {
                return invalid(
                    "steps",
                    steps,
                    format!(
                        "β_{i} = β(t_{i}) Δt = {:.3} ≥ 1, so √(1 − β_i) is undefined: use more steps",
                        chain.beta(i)
                    ),
                );
            }
        }
        Ok(chain)
    }

    /// `β_i = β(t_i) Δt`, `i = 1..=N`.
    pub fn beta(&self, i: usize) -> f64 {
        let dt = 1.0 / self.steps as f64;
        self.vp.beta(i as f64 * dt) * dt
    }
}

impl LinearChain for DdpmChain {
    fn steps(&self) -> usize {
        self.steps
    }

    fn coefficients(&self, i: usize) -> Result<(f64, f64)> {
        check_index(i, self.steps)?;
        Ok(match self.update {
            Update::Discrete => {
                let b = self.beta(i);
                ((1.0 - b).sqrt(), b.sqrt())
            }
            Update::Linearised => {
                let dt = 1.0 / self.steps as f64;
                let beta = self.vp.beta((i - 1) as f64 * dt);
                (1.0 - 0.5 * beta * dt, (beta * dt).sqrt())
            }
        })
    }

    /// VP: `α(t)² v0 + σ(t)²`.
    fn sde_variance(&self, v0: f64, t: f64) -> Result<f64> {
        check_v0(v0)?;
        let (alpha, sigma) = self.vp.marginal_mean_std(t)?;
        Ok(alpha * alpha * v0 + sigma * sigma)
    }
}

/// NCSN's noising chain (seed 001 §3.1.1) on `N` steps of a geometric `σ(t)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NcsnChain {
    ve: VeSde,
    steps: usize,
    update: Update,
}

impl NcsnChain {
    /// `σ_i = σ(t_i)` of the VE SDE `ve` (its fields are checked again: `0 < σ_min < σ_max`).
    pub fn new(ve: VeSde, steps: usize, update: Update) -> Result<Self> {
        check_steps(steps)?;
        Ok(Self {
            ve: VeSde::new(ve.sigma_min, ve.sigma_max)?,
            steps,
            update,
        })
    }
}

impl LinearChain for NcsnChain {
    fn steps(&self) -> usize {
        self.steps
    }

    fn coefficients(&self, i: usize) -> Result<(f64, f64)> {
        check_index(i, self.steps)?;
        let dt = 1.0 / self.steps as f64;
        let (t0, t1) = ((i - 1) as f64 * dt, i as f64 * dt);
        Ok(match self.update {
            Update::Discrete => (
                1.0,
                (self.ve.variance(t1)? - self.ve.variance(t0)?).sqrt(),
            ),
            Update::Linearised => (1.0, self.ve.g(t0)? * dt.sqrt()),
        })
    }

    /// VE: `v0 + σ(t)² − σ(0)²`.
    fn sde_variance(&self, v0: f64, t: f64) -> Result<f64> {
        check_v0(v0)?;
        Ok(v0 + self.ve.variance(check_time(t, 1.0)?)?)
    }
}

/// The least-squares slope of `log y` against `log x`: the order `p` in `y ≈ C x^p`
/// (e.g. `−1` for an error `∝ 1/N`).
pub fn loglog_slope(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() {
        return Err(Error::Shape(format!(
            "{} x values but {} y values",
            x.len(),
            y.len()
        )));
    }
    if x.len() < 2 {
        return invalid("x.len()", x.len(), "need at least two points for a slope");
    }
    for (name, v) in [("x", x), ("y", y)] {
        if let Some(bad) = v.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return invalid(name, bad, "log–log fits need finite values > 0");
        }
    }
    let lx: Array1<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Array1<f64> = y.iter().map(|v| v.ln()).collect();
    let (mx, my) = (lx.mean().unwrap_or(0.0), ly.mean().unwrap_or(0.0));
    let sxx = lx.mapv(|v| (v - mx).powi(2)).sum();
    if sxx == 0.0 {
        return invalid("x", format!("{x:?}"), "need at least two distinct x values");
    }
    let sxy = (&lx - mx).dot(&(&ly - my));
    finite("slope", sxy / sxx)
}

/// `chain(N).variance_error(v0)` for each `N` in `steps`: the data of a convergence plot.
pub fn variance_errors<C: LinearChain>(
    steps: &[usize],
    v0: f64,
    chain: impl Fn(usize) -> Result<C>,
) -> Result<Vec<f64>> {
    steps
        .iter()
        .map(|&n| chain(n)?.variance_error(v0))
        .collect()
}
