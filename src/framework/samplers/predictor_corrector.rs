//! Predictor–corrector sampling (Song et al. 2021, Alg. 1; seed 001 §3.2.2's sampler with
//! the score-based chapter's Langevin dynamics as corrector). At each grid time `t`:
//!
//! 1. corrector: `M` Langevin steps targeting `p_t`,
//!    `x ← x + ε s(x, t) + √(2ε) z`, with the signal-to-noise step rule
//!    `ε = 2 (r ‖z‖ / ‖s‖)²` (norms averaged over the particles of a chunk, as Song et al.
//!    average over the batch; `r` is the target signal-to-noise ratio);
//! 2. predictor: one reverse-SDE Euler–Maruyama step `t → t + Δt` (the crate's
//!    [`EulerMaruyama`] step on the [`ReverseSde`]).
//!
//! NFE per step: `1 + M`.

use ndarray::{Array2, ArrayView2, Axis};

use super::{History, Model, Sampler, Schedule};
use crate::error::{invalid, positive};
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, ReverseSde, TimeGrid};
use crate::solvers::{EulerMaruyama, SdeScheme};
use crate::Result;

/// Reverse-SDE Euler–Maruyama predictor with a Langevin corrector.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictorCorrector {
    /// The predictor's time grid.
    pub schedule: Schedule,
    /// Langevin steps per grid time (`M ≥ 1`).
    pub corrector_steps: usize,
    /// Target signal-to-noise ratio `r` of the step rule.
    pub snr: f64,
}

impl PredictorCorrector {
    /// `steps` uniform predictor steps, one corrector step each, `r = 0.16` (Song et al.).
    pub fn new(steps: usize) -> Self {
        Self {
            schedule: Schedule::new(steps),
            corrector_steps: 1,
            snr: 0.16,
        }
    }
}

fn mean_norm(v: ArrayView2<f64>) -> f64 {
    v.map_axis(Axis(1), |r| r.dot(&r).sqrt())
        .mean()
        .unwrap_or(0.0)
}

impl Sampler for PredictorCorrector {
    fn name(&self) -> String {
        format!(
            "predictor–corrector (EM + {} Langevin, r = {}), {} steps",
            self.corrector_steps, self.snr, self.schedule.steps
        )
    }

    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid> {
        self.schedule.grid(sde)
    }

    fn check(&self) -> Result<()> {
        if self.corrector_steps == 0 {
            return invalid(
                "corrector_steps",
                0,
                "use ReverseEulerMaruyama for no corrector",
            );
        }
        positive("snr", self.snr)?;
        Ok(())
    }

    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        _history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        let (n, d) = x.dim();
        let mut x = x.to_owned();
        for _ in 0..self.corrector_steps {
            let s = model.score.score(x.view(), t)?;
            let z = rng::normals(rng, n, d);
            let eps = 2.0 * (self.snr * mean_norm(z.view()) / mean_norm(s.view())).powi(2);
            x = x + s * eps + z * (2.0 * eps).sqrt();
        }
        let dt = t_next - t;
        let dw = rng::normals(rng, n, d) * dt.abs().sqrt();
        let next = EulerMaruyama.step(
            &ReverseSde::new(model.sde, model.score),
            x.view(),
            t,
            dt,
            dw.view(),
        )?;
        Ok((next, 1 + self.corrector_steps))
    }
}
