//! What a sampler's step sees — the forward SDE and the score ([`Model`]) and what it carried
//! from the previous steps of its chunk ([`History`]) — and the adapter ([`Sampling`]) that runs
//! any [`Sampler`] on chapter 2's one driver loop ([`crate::solvers::driver`]).

use ndarray::{Array2, ArrayView2};

use super::Sampler;
use crate::error::Error;
use crate::sde_basics::{ForwardSde, Score};
use crate::solvers::driver::{Chunk, Step};
use crate::Result;

/// The forward SDE and the score a step works with.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    /// The forward SDE: its kernel `(α, σ)`, drift and diffusion.
    pub sde: &'a dyn ForwardSde,
    /// The score of its marginals (closed-form or learned).
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
pub struct History {
    /// `(λ, x̂_0)` of the last evaluations before this step, oldest first (multistep methods).
    pub evaluations: Vec<(f64, Array2<f64>)>,
    /// `(σ̃, dx̃/dσ̃)` of the last evaluations, oldest first (linear multistep in `σ̃`,
    /// k-diffusion's `lms`).
    pub derivatives: Vec<(f64, Array2<f64>)>,
    /// `(t, x)`: the corrected state the previous step started from ([`super::ExpPc`]).
    pub start: Option<(f64, Array2<f64>)>,
    /// The index of this step on the grid (`0` for the first), set by the run.
    pub step: usize,
}

/// A sampler with its model: one [`Step`] of the driver loop, its memory the chunk's [`History`].
pub(crate) struct Sampling<'a, S: ?Sized> {
    pub sampler: &'a S,
    pub model: Model<'a>,
}

impl<S: Sampler + ?Sized> Step for Sampling<'_, S> {
    type Memory = History;

    fn name(&self) -> String {
        self.sampler.name()
    }

    fn advance(
        &self,
        x: &mut Array2<f64>,
        k: usize,
        t: f64,
        dt: f64,
        chunk: &mut Chunk,
        history: &mut History,
    ) -> Result<usize> {
        let t_next = t + dt;
        history.step = k;
        let (next, evals) = if t_next == 0.0 && !self.sampler.lands_on_zero() {
            self.sampler
                .step_to_zero(self.model, x.view(), t, history, &mut chunk.rng)?
        } else {
            self.sampler
                .step(self.model, x.view(), t, t_next, history, &mut chunk.rng)?
        };
        *x = next;
        Ok(evals)
    }
}
