//! The one loop of the step-by-step samplers (PF-ODE Euler/Heun, predictor–corrector,
//! DDPM/DDIM, DPM-Solver++): like `solvers::sde::solve`, it splits the particles into chunks
//! of [`CHUNK_ROWS`] run in parallel, each with its own random stream (so the numbers depend
//! on the seed, not on the thread count), records what [`Record`] asks for, and stops with an
//! error naming the step as soon as a state is not finite. What differs from `solve` is the
//! step: a sampler step sees the forward SDE's `(α, σ)` and the score, draws its own noise
//! (a Langevin corrector needs fresh noise per corrector step) and may keep a history
//! (multistep methods).

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{invalid, Error};
use crate::framework::ForwardSde;
use crate::rng::{self, Rng};
use crate::sde_basics::Score;
use crate::solvers::sde::CHUNK_ROWS;
use crate::solvers::{Record, SdeSolution, TimeGrid};
use crate::Result;

/// The forward SDE and the score a step works with.
#[derive(Clone, Copy)]
pub(crate) struct Model<'a> {
    pub sde: &'a dyn ForwardSde,
    pub score: &'a dyn Score,
}

impl Model<'_> {
    /// `x̂_0 = (x + σ² s)/α` (Tweedie), the data prediction of seed 002 §2.1–2.2.
    pub fn denoise(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let (a, s) = self.sde.marginal_mean_std(t)?;
        let score = self.score.score(x, t)?;
        if score.dim() != x.dim() {
            return Err(Error::Shape(format!(
                "the score returned {:?} for a batch of {:?}",
                score.dim(),
                x.dim()
            )));
        }
        Ok((score * (s * s) + x) / a)
    }
}

/// What a step may carry from one step to the next within a chunk.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// `(λ, x̂_0)` of the last evaluations before this step, oldest first (multistep methods).
    pub evaluations: Vec<(f64, Array2<f64>)>,
    /// `(t, x)`: the corrected state the previous step started from ([`super::ExpPc`]).
    pub start: Option<(f64, Array2<f64>)>,
}

/// One step of a sampler from `t` to `t_next < t`.
pub(crate) trait ReverseStep: Sync {
    /// Name for errors.
    fn name(&self) -> String;

    /// Score evaluations per particle in one step.
    fn evals_per_step(&self) -> usize;

    /// The state at `t_next`.
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<Array2<f64>>;
}

/// Runs `step` over `grid` (decreasing) from `x_start`, one chunk of particles per task.
pub(crate) fn run(
    step: &dyn ReverseStep,
    model: Model,
    x_start: ArrayView2<f64>,
    grid: &TimeGrid,
    seed: u64,
    record: Record,
) -> Result<SdeSolution> {
    let (n, d) = x_start.dim();
    if n == 0 || d == 0 {
        return invalid(
            "x_start.shape",
            format!("{n}×{d}"),
            "need at least one particle and one dimension",
        );
    }
    crate::error::all_finite("the starting state x_start", x_start.iter())?;
    let keep = record.indices(grid.steps())?;
    let chunks: Vec<Vec<Array2<f64>>> = (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n);
            let mut rng = rng::stream(seed, c as u64);
            let mut history = History::default();
            let mut x = x_start.slice(ndarray::s![rows, ..]).to_owned();
            let mut kept = Vec::with_capacity(keep.len());
            let mut next_keep = keep.iter().peekable();
            if next_keep.peek() == Some(&&0) {
                kept.push(x.clone());
                next_keep.next();
            }
            for k in 0..grid.steps() {
                let (t, dt) = grid.step(k);
                x = step.step(model, x.view(), t, t + dt, &mut history, &mut rng)?;
                if !x.iter().all(|v| v.is_finite()) {
                    return Err(Error::Numerical(format!(
                        "{} left the finite range at step {} of {} (t = {t:.6} → {:.6})",
                        step.name(),
                        k + 1,
                        grid.steps(),
                        t + dt
                    )));
                }
                if next_keep.peek() == Some(&&(k + 1)) {
                    kept.push(x.clone());
                    next_keep.next();
                }
            }
            Ok(kept)
        })
        .collect::<Result<_>>()?;
    let states = (0..keep.len())
        .map(|r| {
            let parts: Vec<ArrayView2<f64>> = chunks.iter().map(|ch| ch[r].view()).collect();
            concatenate(Axis(0), &parts).expect("chunks share their column count")
        })
        .collect();
    Ok(SdeSolution {
        times: keep.iter().map(|&k| grid.times()[k]).collect(),
        states,
        nfe: grid.steps() * step.evals_per_step(),
    })
}
