//! The PF-ODE with the adaptive Dormand–Prince 5(4) pair (seed 000 §2.4.1 自适应步长,
//! §2.5.1 "高阶方法：RK4、自适应方法"; scipy's `RK45`, the bench's reference): a fifth-order
//! step, an embedded fourth-order estimate of its error, and a step size chosen so that the
//! RMS over all particles and components of `err / (atol + rtol·max(|x|, |x_new|))` stays
//! below 1 (Hairer, Nørsett & Wanner, II.4). The last stage is the next step's first (FSAL):
//! 6 NFE per attempted step, plus 1.
//!
//! The whole batch is one ODE system (one step size for all particles, as scipy does).
//!
//! Integration note: this is a minimal private adaptive loop; when chapter 2's
//! `solvers::dormand_prince(system, x0, t0, t1, AdaptiveOptions{rtol, atol, h0, max_steps})`
//! lands, `DormandPrince::sample` should call it with the [`ProbabilityFlow`] system.

use ndarray::{Array2, ArrayView2, Zip};

use super::schedule::{check_span, DEFAULT_EPS};
use super::Sampler;
use crate::error::{invalid, positive, Error};
use crate::framework::ForwardSde;
use crate::sde_basics::{ProbabilityFlow, Score};
use crate::solvers::{OdeSystem, Record, SdeSolution};
use crate::Result;

/// Adaptive Dormand–Prince 5(4) on the PF-ODE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DormandPrince {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// First trial step size `|h|`.
    pub h0: f64,
    /// Most steps (accepted or rejected) before giving up.
    pub max_steps: usize,
    /// First time; `None` is `T`.
    pub t_start: Option<f64>,
    /// Last time `ε`.
    pub t_end: f64,
}

impl DormandPrince {
    /// Tolerances `rtol`, `atol`, from `T` to `ε = 10⁻³`, `h0 = 0.01`, at most 10 000 steps.
    pub fn new(rtol: f64, atol: f64) -> Self {
        Self {
            rtol,
            atol,
            h0: 1e-2,
            max_steps: 10_000,
            t_start: None,
            t_end: DEFAULT_EPS,
        }
    }
}

// The Dormand–Prince tableau.
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [&[f64]; 7] = [
    &[],
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
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Fifth-order weights minus the embedded fourth-order ones.
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

impl Sampler for DormandPrince {
    fn name(&self) -> String {
        format!("PF-ODE Dormand–Prince 5(4), rtol {:e}", self.rtol)
    }

    fn span(&self, sde: &dyn ForwardSde) -> Result<(f64, f64)> {
        check_span(self.t_start, self.t_end, sde)
    }

    fn sample(
        &self,
        sde: &dyn ForwardSde,
        score: &dyn Score,
        x_start: ArrayView2<f64>,
        _seed: u64,
        record: Record,
    ) -> Result<SdeSolution> {
        positive("rtol", self.rtol)?;
        positive("atol", self.atol)?;
        positive("h0", self.h0)?;
        if self.max_steps == 0 {
            return invalid("max_steps", 0, "must be ≥ 1");
        }
        let every = match record {
            Record::Final => usize::MAX,
            Record::Every(0) => return invalid("Record::Every", 0, "stride must be ≥ 1"),
            Record::Every(k) => k,
        };
        let (t0, t1) = self.span(sde)?;
        let (n, d) = x_start.dim();
        if n == 0 || d == 0 {
            return invalid(
                "x_start.shape",
                format!("{n}×{d}"),
                "need at least one particle and one dimension",
            );
        }
        crate::error::all_finite("the starting state x_start", x_start.iter())?;
        let flow = ProbabilityFlow::new(sde, score);
        let mut x = x_start.to_owned();
        let mut t = t0;
        let mut h = -self.h0.min(t0 - t1);
        let mut k1 = flow.rhs(x.view(), t)?;
        let mut nfe = 1;
        let (mut times, mut states) = (vec![t0], vec![x.clone()]);
        if every == usize::MAX {
            times.clear();
            states.clear();
        }
        let mut accepted = 0;
        for attempt in 0..self.max_steps {
            // h < 0: clamp the step so that it ends exactly at ε.
            let last = t + h <= t1;
            if last {
                h = t1 - t;
            }
            let mut ks = vec![k1.clone()];
            for stage in 1..7 {
                let mut xi = x.clone();
                for (j, a) in A[stage].iter().enumerate() {
                    if *a != 0.0 {
                        xi.scaled_add(h * a, &ks[j]);
                    }
                }
                ks.push(flow.rhs(xi.view(), t + C[stage] * h)?);
            }
            nfe += 6;
            // ks[6] was evaluated at the fifth-order solution (A[6] are its weights).
            let mut x_new = x.clone();
            for (j, a) in A[6].iter().enumerate() {
                x_new.scaled_add(h * a, &ks[j]);
            }
            let mut err_vec = Array2::<f64>::zeros((n, d));
            for (j, e) in E.iter().enumerate() {
                if *e != 0.0 {
                    err_vec.scaled_add(h * e, &ks[j]);
                }
            }
            let mut sum = 0.0;
            Zip::from(&err_vec).and(&x).and(&x_new).for_each(|e, a, b| {
                let scale = self.atol + self.rtol * a.abs().max(b.abs());
                sum += (e / scale).powi(2);
            });
            let err = (sum / (n * d) as f64).sqrt();
            let finite = err.is_finite() && x_new.iter().all(|v| v.is_finite());
            if finite && err <= 1.0 {
                t = if last { t1 } else { t + h };
                x = x_new;
                k1 = ks.swap_remove(6);
                accepted += 1;
                if last {
                    times.push(t1);
                    states.push(x);
                    return Ok(SdeSolution { times, states, nfe });
                }
                if accepted % every == 0 {
                    times.push(t);
                    states.push(x.clone());
                }
            }
            let factor = if !finite {
                0.2
            } else if err == 0.0 {
                5.0
            } else {
                (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
            };
            h *= if finite && err <= 1.0 {
                factor
            } else {
                factor.min(1.0)
            };
            if h.abs() < 1e-12 * (t0 - t1) {
                return Err(Error::Numerical(format!(
                    "Dormand–Prince step size underflow at t = {t} after {attempt} steps"
                )));
            }
        }
        Err(Error::Numerical(format!(
            "Dormand–Prince reached max_steps = {} at t = {t} before ε = {t1}",
            self.max_steps
        )))
    }
}
