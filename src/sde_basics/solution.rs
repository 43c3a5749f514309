//! What a solve keeps ([`Record`]) and what it returns ([`Solution`]): the states at the
//! recorded times and the number of drift/score evaluations per particle (seed 000 §2.4.2:
//! keep only what is needed, never the whole trajectory unless asked).

use ndarray::Array2;

use crate::error::invalid;
use crate::real::Real;
use crate::Result;

/// Which states a solve keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Only the final state.
    Final,
    /// Every `k`-th grid point, and always the first and the last.
    Every(usize),
}

impl Record {
    /// The grid indices this rule keeps on a grid of `steps` steps.
    pub fn indices(self, steps: usize) -> Result<Vec<usize>> {
        let mut idx = match self {
            Record::Final => vec![steps],
            Record::Every(0) => return invalid("Record::Every", 0, "stride must be ≥ 1"),
            Record::Every(k) => (0..=steps).step_by(k).collect(),
        };
        if idx.last() != Some(&steps) {
            idx.push(steps);
        }
        Ok(idx)
    }
}

/// The recorded states of a solve — of an SDE, an ODE or a sampler: one type for all.
#[derive(Debug, Clone)]
pub struct Solution<F = f64> {
    /// Times of the recorded states.
    pub times: Vec<f64>,
    /// One `n × d` state per recorded time.
    pub states: Vec<Array2<F>>,
    /// Drift/score evaluations per particle (network function evaluations).
    pub nfe: usize,
}

impl<F: Real> Solution<F> {
    /// The state at the final time.
    pub fn last(&self) -> &Array2<F> {
        self.states
            .last()
            .expect("a solution always records its final state")
    }

    /// Particle `i`'s path through the recorded times, component `j`.
    pub fn path(&self, i: usize, j: usize) -> Vec<F> {
        self.states.iter().map(|x| x[[i, j]]).collect()
    }
}
