//! The one driver loop (seed 000 §2.4.2): every fixed-step method of the crate — SDE schemes,
//! ODE steppers and the samplers of chapter 4 — is a [`Step`], and [`drive`] runs it over a
//! [`TimeGrid`] for a batch of particles. The loop
//! - splits the particles into fixed chunks of [`CHUNK_ROWS`] and runs them in parallel, each
//!   chunk with its own random stream `rng::stream(seed, chunk)`, so the numbers depend on the
//!   seed and not on the thread count;
//! - stores only the states [`Record`] asks for, never the whole trajectory unless asked;
//! - stops with an error naming the method, the step and the time as soon as a state is not
//!   finite (an explicit method beyond its stability limit);
//! - counts evaluations per particle: the sum over the steps of what each step reports, the
//!   largest over the chunks (an implicit method may iterate more in one chunk).
//!
//! What a method carries from one step to the next within a chunk (a multistep history, a
//! buffer for the Wiener increments) is its [`Step::Memory`], made fresh for every chunk.

use std::ops::Range;

use ndarray::{concatenate, s, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{batch_shape, Error};
use crate::real::Real;
use crate::rng::{self, Rng};
use crate::sde_basics::{Record, Solution, TimeGrid};
use crate::Result;

/// Particles per chunk of the parallel loop (part of what a seed reproduces).
pub const CHUNK_ROWS: usize = 1024;

/// The chunk of particles a step works on: which rows of the batch, and its random stream.
pub struct Chunk {
    /// The rows of the whole batch this chunk holds.
    pub rows: Range<usize>,
    /// The chunk's own random stream.
    pub rng: Rng,
}

/// One step of a method; [`drive`] supplies the loop.
pub trait Step<F: Real = f64>: Sync {
    /// What a chunk carries between steps (made with `Default` for each chunk).
    type Memory: Default;

    /// Name for errors.
    fn name(&self) -> String;

    /// Advances the chunk's states `x` from `t` to `t + dt` (step `k` of the grid) in place, and
    /// returns the drift/score evaluations per particle it took.
    fn advance(
        &self,
        x: &mut Array2<F>,
        k: usize,
        t: f64,
        dt: f64,
        chunk: &mut Chunk,
        memory: &mut Self::Memory,
    ) -> Result<usize>;
}

/// Runs `method` over `grid` from the batch `x0` (`n × d`, one particle per row) with random
/// streams from `seed`, keeping the states `record` asks for. `what` names `x0` in errors.
pub fn drive<F: Real, M: Step<F> + ?Sized>(
    method: &M,
    x0: ArrayView2<F>,
    what: &str,
    grid: &TimeGrid,
    seed: u64,
    record: Record,
) -> Result<Solution<F>> {
    let (n, _) = batch_shape("x0.shape", x0)?;
    if !all_finite(x0) {
        return Err(Error::Numerical(format!(
            "the initial state {what} produced a non-finite value"
        )));
    }
    let keep = record.indices(grid.steps())?;

    let chunks: Vec<(Vec<Array2<F>>, usize)> = (0..n.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let rows = c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n);
            let mut chunk = Chunk {
                rng: rng::stream(seed, c as u64),
                rows: rows.clone(),
            };
            run_chunk(method, x0.slice(s![rows, ..]), grid, &keep, &mut chunk)
        })
        .collect::<Result<_>>()?;

    let states = (0..keep.len())
        .map(|r| {
            let parts: Vec<ArrayView2<F>> = chunks.iter().map(|(ch, _)| ch[r].view()).collect();
            concatenate(Axis(0), &parts).expect("chunks share their column count")
        })
        .collect();
    Ok(Solution {
        times: keep.iter().map(|&k| grid.times()[k]).collect(),
        states,
        nfe: chunks.iter().map(|(_, nfe)| *nfe).max().unwrap_or(0),
    })
}

/// True when every entry is finite (one branch-free pass).
fn all_finite<F: Real>(x: ArrayView2<F>) -> bool {
    x.fold(true, |ok, v| ok & v.is_finite())
}

fn run_chunk<F: Real, M: Step<F> + ?Sized>(
    method: &M,
    x0: ArrayView2<F>,
    grid: &TimeGrid,
    keep: &[usize],
    chunk: &mut Chunk,
) -> Result<(Vec<Array2<F>>, usize)> {
    let mut memory = M::Memory::default();
    let mut x = x0.to_owned();
    let mut nfe = 0;
    let mut kept = Vec::with_capacity(keep.len());
    let mut next_keep = keep.iter().peekable();
    if next_keep.peek() == Some(&&0) {
        kept.push(x.clone());
        next_keep.next();
    }
    for k in 0..grid.steps() {
        let (t, dt) = grid.step(k);
        nfe += method.advance(&mut x, k, t, dt, chunk, &mut memory)?;
        if !all_finite(x.view()) {
            return Err(Error::Numerical(format!(
                "{} left the finite range at step {} of {} (t = {:.6} → {:.6}); the step size {:.3e} may be beyond its stability limit",
                method.name(),
                k + 1,
                grid.steps(),
                t,
                t + dt,
                dt.abs()
            )));
        }
        if next_keep.peek() == Some(&&(k + 1)) {
            kept.push(x.clone());
            next_keep.next();
        }
    }
    Ok((kept, nfe))
}
