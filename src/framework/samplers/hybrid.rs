//! The seed's hybrid strategy (seed 000 §2.5.2 混合方法): "early stage: use the SDE, keep the
//! randomness; late stage: switch to the ODE for efficiency". A reverse-SDE stage runs from
//! `T` to a switching time `t_s`, then any ODE sampler takes its state from `t_s` to `ε`.
//! The noise injected early lets the sampler correct errors of the prior and of the score
//! where the marginals are broad; the deterministic late stage converges fast where they are
//! sharp. It is one sampler on one grid (the two stages' grids joined at `t_s`) whose step is
//! the SDE stage's above `t_s` and the ODE stage's below. NFE: the sum of the stages'.

use ndarray::{Array2, ArrayView2};

use super::{DpmSolverPP2M, History, Model, ReverseEulerMaruyama, Sampler, Schedule, Spacing};
use crate::error::invalid;
use crate::rng::Rng;
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// Reverse-SDE Euler–Maruyama from `T` to `t_s`, then an ODE sampler from `t_s` to `ε`.
pub struct Hybrid {
    /// The stochastic stage; its schedule ends at the switching time.
    pub sde_stage: ReverseEulerMaruyama,
    /// The deterministic stage; its span starts at the switching time.
    pub ode_stage: Box<dyn Sampler>,
}

impl Hybrid {
    /// `sde_steps` uniform Euler–Maruyama steps from `T` to `t_switch`, then `ode_steps`
    /// DPM-Solver++(2M) steps (log-SNR spacing) from `t_switch` to `ε = 10⁻³`.
    pub fn em_then_dpm_solver(t_switch: f64, sde_steps: usize, ode_steps: usize) -> Self {
        Self {
            sde_stage: ReverseEulerMaruyama {
                schedule: Schedule::new(sde_steps).to(t_switch),
            },
            ode_stage: Box::new(DpmSolverPP2M {
                schedule: Schedule::new(ode_steps)
                    .spacing(Spacing::LogSnr)
                    .from(t_switch),
            }),
        }
    }
}

impl Hybrid {
    /// The switching time `t_s`, where the SDE stage ends and the ODE stage begins.
    fn t_switch(&self) -> f64 {
        self.sde_stage.schedule.t_end
    }
}

impl Sampler for Hybrid {
    fn name(&self) -> String {
        format!(
            "hybrid: SDE to t = {} ({}), then {}",
            self.t_switch(),
            self.sde_stage.name(),
            self.ode_stage.name()
        )
    }

    /// The SDE stage's grid from `T` to `t_s`, then the ODE stage's from `t_s` to `ε`.
    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        let first = self.sde_stage.grid(sde)?;
        let second = self.ode_stage.grid(sde)?;
        let (switch, start) = (self.t_switch(), second.times()[0]);
        if (start - switch).abs() > 1e-12 * switch.max(1.0) {
            return invalid(
                "ode_stage.t_start",
                start,
                format!("must equal the SDE stage's end t = {switch}"),
            );
        }
        let mut times = first.times().to_vec();
        times.extend(&second.times()[1..]);
        TimeGrid::from_times(times)
    }

    fn check(&self) -> Result<()> {
        self.sde_stage.check()?;
        self.ode_stage.check()
    }

    fn lands_on_zero(&self) -> bool {
        self.ode_stage.lands_on_zero()
    }

    /// The ODE stage's last step onto `σ = 0`.
    fn step_to_zero(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        self.ode_stage.step_to_zero(model, x, t, history, rng)
    }

    /// The SDE stage's step above `t_s`, the ODE stage's below (its history starts at `t_s`).
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        if t_next >= self.t_switch() {
            self.sde_stage.step(model, x, t, t_next, history, rng)
        } else {
            self.ode_stage.step(model, x, t, t_next, history, rng)
        }
    }
}
