//! Sample-quality measures between two sample sets (chapter 4 and the appendix), defined
//! exactly as the Python baselines define them (`bench/python/common.py`, the PyTorch twins' helpers), so numbers can
//! be compared side by side:
//!
//! - [`energy_distance`]: `2 E|X − Y| − E|X − X'| − E|Y − Y'|`, the V-statistic over all pairs;
//! - [`sliced_w2`]: sliced Wasserstein-2 over 128 fixed directions;
//! - [`noise_floor`]: the same figures between two independent draws of the true data — no
//!   sampler scores reliably below it, so every reported figure stands beside it.

mod energy;
mod floor;
mod sliced;

pub use energy::energy_distance;
pub use floor::{noise_floor, quality, NoiseFloor, Quality};
pub use sliced::{sliced_w2, SLICES};

use ndarray::ArrayView2;

use crate::error::invalid;
use crate::{Error, Result};

/// Both sets non-empty, finite and of the same dimension.
fn check_sets(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<()> {
    for (name, s) in [("x", x), ("y", y)] {
        if s.nrows() == 0 || s.ncols() == 0 {
            return invalid(
                name,
                format!("{}×{}", s.nrows(), s.ncols()),
                "needs at least one point",
            );
        }
        crate::error::all_finite(format!("sample set `{name}`"), s.iter())?;
    }
    if x.ncols() != y.ncols() {
        return Err(Error::Shape(format!(
            "sample sets have dimensions {} and {}",
            x.ncols(),
            y.ncols()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::GaussianMixture;
    use ndarray::{array, Array2};

    /// The same samples give the same bits whatever the thread count (a parallel float `sum()`
    /// would not: `tests/appendix.rs::same_seed_same_numbers` once failed on it under load).
    #[test]
    fn energy_distance_does_not_depend_on_the_thread_count() {
        let mix = GaussianMixture::appendix_2d();
        let (x, y) = (mix.sample(3000, 1), mix.sample(2500, 2));
        let in_pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| energy_distance(x.view(), y.view()).unwrap())
        };
        let one = in_pool(1);
        for threads in [2, 3, 7] {
            assert_eq!(
                one.to_bits(),
                in_pool(threads).to_bits(),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn exact_values_on_a_unit_square() {
        // x = two bottom corners, y = two top corners of the unit square:
        // E|X−Y| = (1+√2)/2, E|X−X'| = E|Y−Y'| = ½ (V-statistic), so ED = √2.
        let x = array![[0.0, 0.0], [1.0, 0.0]];
        let y = array![[0.0, 1.0], [1.0, 1.0]];
        assert!((energy_distance(x.view(), y.view()).unwrap() - 2f64.sqrt()).abs() < 1e-14);
        // Every projection differs by sin θ_j; the midpoint mean of sin² over [0, π] is ½.
        assert!((sliced_w2(x.view(), y.view()).unwrap() - 0.5f64.sqrt()).abs() < 1e-14);
    }

    #[test]
    fn invariances_and_a_shift_in_one_dimension() {
        let data = GaussianMixture::appendix_2d();
        let x = data.sample(300, 1);
        let y = data.sample(300, 2);
        assert!(energy_distance(x.view(), x.view()).unwrap().abs() < 1e-12);
        let (a, b) = (
            energy_distance(x.view(), y.view()).unwrap(),
            energy_distance(y.view(), x.view()).unwrap(),
        );
        assert!((a - b).abs() < 1e-12 && a > 0.0);
        // 1-D: W2 between a set and its shift by δ is δ.
        let z = GaussianMixture::two_modes_1d().sample(500, 3);
        assert!((sliced_w2(z.view(), (&z + 0.7).view()).unwrap() - 0.7).abs() < 1e-12);
    }

    /// The floor's mean is E|X − X'| (1/n + 1/m) for the V-statistic (see `energy.rs`):
    /// checked with E|X − X'| from an independent large sample, within 5 standard errors of
    /// the mean over the repetitions.
    #[test]
    fn noise_floor_mean_is_the_v_statistic_bias() {
        let data = GaussianMixture::appendix_2d();
        let (n, reps) = (400, 40);
        let floor = noise_floor(&data, n, reps, 7).unwrap();
        let big = data.sample(3000, 8);
        let big2 = data.sample(3000, 9);
        let d = energy::energy_terms(big.view(), big2.view()).unwrap().0;
        let expected = d * 2.0 / n as f64;
        assert!((floor.energy_expected() - expected).abs() < 0.02 * expected);
        let e: Vec<f64> = floor.reps.iter().map(|q| q.energy).collect();
        let m = floor.energy_mean();
        let sd = (e.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        assert!(
            (m - expected).abs() < 5.0 * sd / (reps as f64).sqrt(),
            "{m} vs {expected}"
        );
        let (lo, hi) = floor.energy_band();
        assert!(
            lo <= m
                && m <= hi
                && floor.reached(&Quality {
                    energy: lo,
                    sw2: 0.0
                })
        );
        assert!(!floor.reached(&Quality {
            energy: 2.0 * hi,
            sw2: 0.0
        }));
    }

    #[test]
    fn bad_sets_are_errors() {
        let x = Array2::<f64>::zeros((3, 2));
        let e = energy_distance(x.view(), Array2::<f64>::zeros((3, 3)).view())
            .unwrap_err()
            .to_string();
        assert!(e.contains('2') && e.contains('3'), "{e}");
        let e = sliced_w2(x.view(), Array2::<f64>::zeros((4, 2)).view())
            .unwrap_err()
            .to_string();
        assert!(e.contains('4'), "{e}");
        assert!(sliced_w2(
            Array2::<f64>::zeros((3, 3)).view(),
            Array2::<f64>::zeros((3, 3)).view()
        )
        .is_err());
        let nan = array![[f64::NAN, 0.0]];
        assert!(energy_distance(nan.view(), x.view()).is_err());
        assert!(energy_distance(Array2::<f64>::zeros((0, 2)).view(), x.view()).is_err());
        assert!(noise_floor(&GaussianMixture::appendix_2d(), 1, 3, 0).is_err());
    }
}
