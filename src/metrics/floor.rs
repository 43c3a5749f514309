//! The noise floor: the quality figures between two independent draws of the true data.
//! A sampler's figure against fresh data is only meaningful beside it; "reaching the floor"
//! means scoring inside the spread of true-vs-true figures.

use ndarray::ArrayView2;

use super::energy::energy_terms;
use super::{energy_distance, sliced_w2};
use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::Result;

/// Energy distance and sliced W2 of one sample set against a reference set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// [`energy_distance`].
    pub energy: f64,
    /// [`sliced_w2`] (needs equal sizes; `NaN` otherwise).
    pub sw2: f64,
}

/// [`Quality`] of `samples` against `reference` (fresh draws of the true data).
pub fn quality(samples: ArrayView2<f64>, reference: ArrayView2<f64>) -> Result<Quality> {
    let energy = energy_distance(samples, reference)?;
    let sw2 = if samples.nrows() == reference.nrows() && samples.ncols() <= 2 {
        sliced_w2(samples, reference)?
    } else {
        f64::NAN
    };
    Ok(Quality { energy, sw2 })
}

/// The figures between `reps` pairs of independent `n`-point draws of the true data.
///
/// Under the null (both sets from the same law) the energy-distance V-statistic has
/// expectation `E|X − X'| (1/n + 1/m)` and a right-skewed law (a weighted sum of `χ²₁`
/// variables): Székely & Bakirov (2003) bound its tail by `P(ED ≥ c·E[ED]) ≤ P(χ²₁ ≥ c)`
/// for `c ≥ 1.5`, e.g. 0.16 % for `c = 10`.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseFloor {
    /// Points per draw.
    pub n: usize,
    /// One [`Quality`] per pair of draws.
    pub reps: Vec<Quality>,
    /// `E|X − X'|` estimated from all cross pairs of all draws.
    pub pair_distance: f64,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

impl NoiseFloor {
    /// Mean energy distance between two true draws.
    pub fn energy_mean(&self) -> f64 {
        mean(self.reps.iter().map(|q| q.energy))
    }

    /// The spread of the energy distance between true draws, `(min, max)`: the band a
    /// sampler's figure must fall into to be indistinguishable from the data at this `n`.
    pub fn energy_band(&self) -> (f64, f64) {
        band(self.reps.iter().map(|q| q.energy))
    }

    /// Mean sliced W2 between two true draws.
    pub fn sw2_mean(&self) -> f64 {
        mean(self.reps.iter().map(|q| q.sw2))
    }

    /// `(min, max)` of sliced W2 between true draws.
    pub fn sw2_band(&self) -> (f64, f64) {
        band(self.reps.iter().map(|q| q.sw2))
    }

    /// The floor's exact expectation `2 E|X − X'| / n` (with the estimated `E|X − X'|`).
    pub fn energy_expected(&self) -> f64 {
        2.0 * self.pair_distance / self.n as f64
    }

    /// True when `q`'s energy distance is at most the band's upper edge.
    pub fn reached(&self, q: &Quality) -> bool {
        q.energy <= self.energy_band().1
    }
}

fn band(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

/// `reps` independent pairs of `n`-point draws from `data`, seeded.
pub fn noise_floor(data: &GaussianMixture, n: usize, reps: usize, seed: u64) -> Result<NoiseFloor> {
    if n < 2 {
        return invalid("n", n, "need at least two points per draw");
    }
    if reps == 0 {
        return invalid("reps", reps, "need at least one pair of draws");
    }
    let mut rng = crate::rng::seeded(seed);
    let mut cross = 0.0;
    let reps: Vec<Quality> = (0..reps)
        .map(|_| {
            let a = data.sample_with(n, &mut rng);
            let b = data.sample_with(n, &mut rng);
            let (xy, xx, yy) = energy_terms(a.view(), b.view())?;
            cross += xy;
            Ok(Quality {
                energy: 2.0 * xy - xx - yy,
                sw2: sliced_w2(a.view(), b.view())?,
            })
        })
        .collect::<Result<_>>()?;
    let pair_distance = cross / reps.len() as f64;
    Ok(NoiseFloor {
        n,
        reps,
        pair_distance,
    })
}
