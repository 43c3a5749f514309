//! DPM-Solver++(2M) (Lu et al. 2022, Alg. 2; seed 000 §2.5.3 "DPM-Solver：高阶求解器"): a
//! second-order multistep solver of the PF-ODE written in the half log-SNR
//! `λ = log(α/σ)` with the data prediction `x̂_0 = (x + σ² s)/α`. The linear part of the
//! ODE is integrated exactly (an exponential integrator), so only `x̂_0` — which varies
//! slowly along the flow — is approximated, by a line through the last two values:
//!
//! ```text
//! h_i = λ_i − λ_{i−1},  r_i = h_{i−1}/h_i,
//! D_i = (1 + 1/(2r_i)) x̂_0(t_{i−1}) − 1/(2r_i) x̂_0(t_{i−2})     (D_1 = x̂_0(t_0)),
//! x_i = (σ_i/σ_{i−1}) x_{i−1} − α_i (e^{−h_i} − 1) D_i.
//! ```
//!
//! The first step is first order (it equals DDIM with `η = 0`). One NFE per step. Use it on a
//! [`Spacing::LogSnr`](super::Spacing) grid (the default here).

use ndarray::{Array2, ArrayView2};

use super::schedule::log_snr;
use super::{History, Model, Sampler, Schedule, Spacing};
use crate::rng::Rng;
use crate::sde_basics::{ForwardSde, TimeGrid};
use crate::Result;

/// DPM-Solver++(2M).
#[derive(Debug, Clone, PartialEq)]
pub struct DpmSolverPP2M {
    /// The time grid.
    pub schedule: Schedule,
}

impl DpmSolverPP2M {
    /// `steps` steps equally spaced in `λ` from `T` to `ε = 10⁻³`.
    pub fn new(steps: usize) -> Self {
        Self {
            schedule: Schedule::new(steps).spacing(Spacing::LogSnr),
        }
    }
}

impl Sampler for DpmSolverPP2M {
    fn name(&self) -> String {
        format!("DPM-Solver++(2M), {} steps", self.schedule.steps)
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        _rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let (_, s_t) = model.sde.marginal_mean_std(t)?;
        let (a_s, s_s) = model.sde.marginal_mean_std(t_next)?;
        let (l_t, l_s) = (log_snr(model.sde, t)?, log_snr(model.sde, t_next)?);
        let h = l_s - l_t;
        let x0 = model.denoise(x, t)?;
        let d = match history.evaluations.pop() {
            None => x0.clone(),
            Some((l_prev, x0_prev)) => {
                let r = (l_t - l_prev) / h;
                &x0 * (1.0 + 0.5 / r) - &(x0_prev * (0.5 / r))
            }
        };
        history.evaluations.push((l_t, x0));
        Ok((&x * (s_s / s_t) - &(d * (a_s * (-h).exp_m1())), 1))
    }
}

