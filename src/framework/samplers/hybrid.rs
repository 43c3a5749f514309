//! The seed's hybrid strategy (seed 000 §2.5.2 混合方法): "early stage: use the SDE, keep the
//! randomness; late stage: switch to the ODE for efficiency". A reverse-SDE stage runs from
//! `T` to a switching time `t_s`, then any ODE sampler takes its state from `t_s` to `ε`.
//! The noise injected early lets the sampler correct errors of the prior and of the score
//! where the marginals are broad; the deterministic late stage converges fast where they are
//! sharp. NFE: the sum of the stages'.

use ndarray::ArrayView2;

use super::{DpmSolverPP2M, ReverseEulerMaruyama, Sampler, Schedule, Spacing};
use crate::error::invalid;
use crate::framework::ForwardSde;
use crate::sde_basics::Score;
use crate::solvers::{Record, SdeSolution};
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

impl Sampler for Hybrid {
    fn name(&self) -> String {
        format!(
            "hybrid: SDE to t = {} ({}), then {}",
            self.sde_stage.schedule.t_end,
            self.sde_stage.name(),
            self.ode_stage.name()
        )
    }

    fn span(&self, sde: &dyn ForwardSde) -> Result<(f64, f64)> {
        let (t0, switch) = self.sde_stage.span(sde)?;
        let (start, t1) = self.ode_stage.span(sde)?;
        if (start - switch).abs() > 1e-12 * switch.max(1.0) {
            return invalid(
                "ode_stage.t_start",
                start,
                format!("must equal the SDE stage's end t = {switch}"),
            );
        }
        Ok((t0, t1))
    }

    fn sample(
        &self,
        sde: &dyn ForwardSde,
        score: &dyn Score,
        x_start: ArrayView2<f64>,
        seed: u64,
        record: Record,
    ) -> Result<SdeSolution> {
        self.span(sde)?;
        let first = self.sde_stage.sample(sde, score, x_start, seed, record)?;
        let second = self.ode_stage.sample(
            sde,
            score,
            first.last().view(),
            seed.wrapping_add(1),
            record,
        )?;
        let nfe = first.nfe + second.nfe;
        if record == Record::Final {
            return Ok(SdeSolution { nfe, ..second });
        }
        let mut times = first.times;
        let mut states = first.states;
        times.extend(second.times.into_iter().skip(1));
        states.extend(second.states.into_iter().skip(1));
        Ok(SdeSolution { times, states, nfe })
    }
}
