//! Time grids for fixed-step solvers. A grid may decrease (reverse-time sampling runs
//! from `T` down to `ε`); the step `dt` is then negative.

use crate::error::{finite, invalid};
use crate::Result;

/// Strictly monotone times `t_0, t_1, …, t_N` (increasing or decreasing).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeGrid {
    times: Vec<f64>,
}

impl TimeGrid {
    /// `steps + 1` equally spaced times from `t0` to `t1` (`t1 < t0` runs backwards).
    pub fn uniform(t0: f64, t1: f64, steps: usize) -> Result<Self> {
        finite("t0", t0)?;
        finite("t1", t1)?;
        if steps == 0 {
            return invalid("steps", steps, "a grid needs at least one step");
        }
        if t0 == t1 {
            return invalid("t1", t1, "must differ from t0");
        }
        let h = (t1 - t0) / steps as f64;
        let mut times: Vec<f64> = (0..=steps).map(|k| t0 + h * k as f64).collect();
        times[steps] = t1; // exact end point, whatever the rounding
        Ok(Self { times })
    }

    /// A grid from given times; they must be finite and strictly monotone.
    pub fn from_times(times: Vec<f64>) -> Result<Self> {
        if times.len() < 2 {
            return invalid(
                "times.len()",
                times.len(),
                "a grid needs at least two times",
            );
        }
        for (k, &t) in times.iter().enumerate() {
            if !t.is_finite() {
                return invalid("times[k]", format!("{t} at k = {k}"), "must be finite");
            }
        }
        let up = times[1] > times[0];
        for (k, w) in times.windows(2).enumerate() {
            if (w[1] > w[0]) != up || w[1] == w[0] {
                return invalid(
                    "times",
                    format!("t[{k}] = {}, t[{}] = {}", w[0], k + 1, w[1]),
                    "must be strictly monotone",
                );
            }
        }
        Ok(Self { times })
    }

    /// The times `t_0 … t_N`.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// The number of steps `N`.
    pub fn steps(&self) -> usize {
        self.times.len() - 1
    }

    /// `(t_k, t_{k+1} − t_k)` for step `k`.
    pub fn step(&self, k: usize) -> (f64, f64) {
        (self.times[k], self.times[k + 1] - self.times[k])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_hits_both_ends_and_may_run_backwards() {
        let g = TimeGrid::uniform(1.0, 1e-3, 7).unwrap();
        assert_eq!(g.steps(), 7);
        assert_eq!(g.times()[0], 1.0);
        assert_eq!(g.times()[7], 1e-3);
        assert!(g.step(3).1 < 0.0);
    }

    #[test]
    fn bad_grids_name_the_value() {
        let e = TimeGrid::uniform(0.0, 1.0, 0).unwrap_err().to_string();
        assert!(e.contains("steps") && e.contains('0'), "{e}");
        assert!(TimeGrid::uniform(0.0, f64::NAN, 3).is_err());
        assert!(TimeGrid::uniform(0.5, 0.5, 3).is_err());
        let e = TimeGrid::from_times(vec![0.0, 0.5, 0.4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("0.5") && e.contains("0.4"), "{e}");
    }
}
