//! The hybrid sampler of seed 000 §2.5.2: one sampler from `T` to a switching time `t_s`,
//! another from `t_s` to `ε`. The seed's order puts reverse-SDE Euler–Maruyama early and an ODE
//! sampler late (noise where the marginals are broad, fast deterministic steps where they are
//! sharp); the reverse order is here too, because the order turns out not to be what matters:
//! with a learned score either order keeps the reverse SDE's gain over the ODE exactly when its
//! stochastic stage spans the middle times ([`super::hybrid_switch_sweep`], notebook 04, *The
//! hybrid's order*). It is one sampler on one grid (the two stages' grids joined at `t_s`)
//! whose step is the early stage's above `t_s` and the late stage's below. NFE: the sum of the
//! stages'.

use ndarray::{Array2, ArrayView2};

use super::{DpmSolverPP2M, History, Model, ReverseEulerMaruyama, Sampler, Schedule, Spacing};
use crate::error::invalid;
use crate::rng::Rng;
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// One sampler from `T` to `t_s`, another from `t_s` to `ε`.
pub struct Hybrid {
    /// The stage from `T`; its schedule ends at the switching time.
    pub early: Box<dyn Sampler>,
    /// The stage to `ε`; its schedule starts at the switching time.
    pub late: Box<dyn Sampler>,
    /// The switching time `t_s`.
    pub t_switch: f64,
}

impl Hybrid {
    /// `sde_steps` uniform Euler–Maruyama steps from `T` to `t_switch`, then `ode_steps`
    /// DPM-Solver++(2M) steps (log-SNR spacing) from `t_switch` to `ε = 10⁻³` (seed 000 §2.5.2).
    pub fn em_then_dpm_solver(t_switch: f64, sde_steps: usize, ode_steps: usize) -> Self {
        Self {
            early: Box::new(ReverseEulerMaruyama {
                schedule: Schedule::new(sde_steps).to(t_switch),
            }),
            late: Box::new(dpm_solver(Schedule::new(ode_steps).from(t_switch))),
            t_switch,
        }
    }

    /// The reverse order: `ode_steps` DPM-Solver++(2M) steps (log-SNR spacing) from `T` to
    /// `t_switch`, then `sde_steps` uniform Euler–Maruyama steps to `ε = 10⁻³`.
    pub fn dpm_solver_then_em(t_switch: f64, ode_steps: usize, sde_steps: usize) -> Self {
        Self {
            early: Box::new(dpm_solver(Schedule::new(ode_steps).to(t_switch))),
            late: Box::new(ReverseEulerMaruyama {
                schedule: Schedule::new(sde_steps).from(t_switch),
            }),
            t_switch,
        }
    }
}

fn dpm_solver(schedule: Schedule) -> DpmSolverPP2M {
    DpmSolverPP2M {
        schedule: schedule.spacing(Spacing::LogSnr),
    }
}

impl Sampler for Hybrid {
    fn name(&self) -> String {
        format!(
            "hybrid: {} (T → {}), then {}",
            self.early.name(),
            self.t_switch,
            self.late.name()
        )
    }

    /// The early stage's grid from `T` to `t_s`, then the late stage's from `t_s` to `ε`.
    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        let first = self.early.grid(sde)?;
        let second = self.late.grid(sde)?;
        let switch = self.t_switch;
        let (end, start) = (*first.times().last().expect("a grid has two times"), second.times()[0]);
        let close = |v: f64| (v - switch).abs() <= 1e-12 * switch.max(1.0);
        if !close(end) {
            return invalid("early stage's t_end", end, format!("must equal t_switch = {switch}"));
        }
        if !close(start) {
            return invalid("late stage's t_start", start, format!("must equal t_switch = {switch}"));
        }
        let mut times = first.times().to_vec();
        times.extend(&second.times()[1..]);
        TimeGrid::from_times(times)
    }

    fn check(&self) -> Result<()> {
        self.early.check()?;
        self.late.check()
    }

    fn lands_on_zero(&self) -> bool {
        self.late.lands_on_zero()
    }

    /// The late stage's last step onto `σ = 0`.
    fn step_to_zero(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        self.late.step_to_zero(model, x, t, history, rng)
    }

    /// The early stage's step above `t_s`, the late stage's below (its history starts at `t_s`).
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        if t_next >= self.t_switch {
            self.early.step(model, x, t, t_next, history, rng)
        } else {
            if t >= self.t_switch {
                *history = History {
                    step: history.step,
                    ..History::default()
                };
            }
            self.late.step(model, x, t, t_next, history, rng)
        }
    }
}
