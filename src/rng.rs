//! Seeded random numbers. Every experiment in the workbook takes a `seed: u64`;
//! the same seed gives the same numbers on the same machine.

use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The generator used everywhere: fast, small state, reproducible.
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator from a seed.
pub fn seeded(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// Stream `k` of `seed`: independent generators for the chunks of a parallel loop,
/// so results do not depend on how many threads ran them.
pub fn stream(seed: u64, k: u64) -> Rng {
    // SplitMix-style mixing of (seed, k); `seed_from_u64` mixes again.
    let mixed = seed
        ^ k.wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    Rng::seed_from_u64(mixed)
}

/// An `n × d` array of independent standard normals.
pub fn normals(rng: &mut Rng, n: usize, d: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((n, d), || StandardNormal.sample(rng))
}

/// Fills `out` with independent standard normals.
pub fn fill_normals(rng: &mut Rng, out: &mut [f64]) {
    for v in out {
        *v = StandardNormal.sample(rng);
    }
}
