//! The PF-ODE with the adaptive Dormand–Prince 5(4) pair (seed 000 §2.4.1 自适应步长,
//! §2.5.1 "高阶方法：RK4、自适应方法"; scipy's `RK45`, the bench's reference): chapter 2's
//! [`dormand_prince`] solver (embedded error estimate, PI step control, FSAL) run on the
//! [`ProbabilityFlow`] system from `t_start` down to `ε`.
//!
//! The whole batch is one ODE system (one step size for all particles, as scipy does). An
//! adaptive solve keeps no intermediate states: with `Record::Every` the solution holds the
//! start and the end.

use ndarray::ArrayView2;

use super::schedule::{check_span, DEFAULT_EPS};
use super::Sampler;
use crate::error::positive;
use crate::framework::ForwardSde;
use crate::sde_basics::{ProbabilityFlow, Score};
use crate::solvers::adaptive::{dormand_prince, AdaptiveOptions};
use crate::solvers::{Record, SdeSolution};
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
        let keep = record.indices(1)?;
        let (t0, t1) = self.span(sde)?;
        let options = AdaptiveOptions {
            rtol: self.rtol,
            atol: self.atol,
            h0: Some(positive("h0", self.h0)?),
            max_steps: self.max_steps,
        };
        let solution = dormand_prince(&ProbabilityFlow::new(sde, score), x_start, t0, t1, options)?;
        let (times, states) = if keep.len() > 1 {
            (vec![t0, t1], vec![x_start.to_owned(), solution.state])
        } else {
            (vec![t1], vec![solution.state])
        };
        Ok(SdeSolution {
            times,
            states,
            nfe: solution.nfe,
        })
    }
}
