//! The PF-ODE with the adaptive Dormand–Prince 5(4) pair (seed 000 §2.4.1 自适应步长,
//! §2.5.1 "高阶方法：RK4、自适应方法"; scipy's `RK45`, the bench's reference): chapter 2's
//! [`dormand_prince`] solver (embedded error estimate, PI step control, FSAL) run on the
//! [`ProbabilityFlow`] system from `t_start` down to `ε`.
//!
//! The whole batch is one ODE system (one step size for all particles, as scipy does). An
//! adaptive solve keeps no intermediate states: with `Record::Every` the solution holds the
//! start and the end.

use ndarray::{Array2, ArrayView2};

use super::schedule::{check_span, DEFAULT_EPS};
use super::{History, Model, Sampler};
use crate::error::positive;
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, ProbabilityFlow, Record, Score, Solution, TimeGrid};
use crate::solvers::adaptive::{dormand_prince, AdaptiveOptions};
use crate::Result;

/// Adaptive Dormand–Prince 5(4) on the PF-ODE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptivePfOde {
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

impl AdaptivePfOde {
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

impl Sampler for AdaptivePfOde {
    fn name(&self) -> String {
        format!("PF-ODE Dormand–Prince 5(4), rtol {:e}", self.rtol)
    }

    /// One step from `t_start` to `ε`: inside it the error control chooses the steps.
    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        let (t0, t1) = check_span(self.t_start, self.t_end, sde)?;
        TimeGrid::from_times(vec![t0, t1])
    }

    fn check(&self) -> Result<()> {
        positive("h0", self.h0)?;
        Ok(())
    }

    /// The adaptive solve of the [`ProbabilityFlow`] from `t` to `t_next` for these particles.
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        _rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let options = AdaptiveOptions {
            rtol: self.rtol,
            atol: self.atol,
            h0: Some(self.h0),
            max_steps: self.max_steps,
        };
        let flow = ProbabilityFlow::new(model.sde, model.score);
        let solution = dormand_prince(&flow, x, t, t_next, options)?;
        Ok((solution.state, solution.nfe))
    }

    /// The whole batch is one ODE system, with one step size for all particles as scipy's
    /// `solve_ivp` has it: the batch is not split into the driver's chunks, so this is the one
    /// sampler that runs its (single) step itself.
    fn sample(
        &self,
        sde: &dyn ForwardSde,
        score: &dyn Score,
        x_start: ArrayView2<f64>,
        _seed: u64,
        record: Record,
    ) -> Result<Solution> {
        self.check()?;
        let keep = record.indices(1)?;
        let (t0, t1) = self.span(sde)?;
        let model = Model { sde, score };
        let (state, nfe) = self.step(model, x_start, t0, t1, &mut History::default(), &mut rng::seeded(0))?;
        let (times, states) = if keep.len() > 1 {
            (vec![t0, t1], vec![x_start.to_owned(), state])
        } else {
            (vec![t1], vec![state])
        };
        Ok(Solution { times, states, nfe })
    }
}
