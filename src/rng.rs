//! Seeded random numbers. Every experiment in the workbook takes a `seed: u64`;
//! the same seed gives the same numbers on the same machine.

use ndarray::Array2;
use rand::{RngCore, SeedableRng};
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

/// The standard normal CDF `Φ(z) = ½ erfc(−z/√2)`, with erfc from W. J. Cody's rational
/// Chebyshev fits as in Numerical Recipes' `erfcc` (relative error < 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

/// Pairs of normals per block of [`fill_normals_f32`].
const BM_PAIRS: usize = 64;

/// Fills `out` with independent standard normals in `f32`: Box–Muller, one 64-bit draw of
/// the generator per pair, written for the vector units (no rejection loop, unlike the
/// ziggurat of [`fill_normals`]; a few times faster per sample).
///
/// From a draw's low 32 bits `l`: `u = (⌊l / 2⌋ + ½) 2⁻³¹ ∈ (0, 1]` gives the radius `√(−2 ln u)`
/// (at most 6.66, so tails beyond 6.66 σ — probability 3e-11 — are cut); 30 further bits give
/// an angle `φ` uniform in `(−π/4, π/4)` and the last two swap `(cos φ, sin φ)` and negate the
/// pair, which makes the angle uniform on the whole circle. Logarithm, sine and cosine are
/// Cephes' single-precision polynomials (about one ulp). The draws are `rng`'s own
/// (xoshiro256++), one per pair; blocks of 64 pairs are generated whole; the same generator
/// state and length give the same numbers.
pub fn fill_normals_f32(rng: &mut Rng, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA, checked just above.
        return unsafe { fill_normals_f32_avx2(rng, out) };
    }
    fill_normals_f32_kernel::<false>(rng, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fill_normals_f32_avx2(rng: &mut Rng, out: &mut [f32]) {
    fill_normals_f32_kernel::<true>(rng, out);
}

#[inline(always)]
fn fill_normals_f32_kernel<const FMA: bool>(rng: &mut Rng, out: &mut [f32]) {
    // The two halves of each draw in separate arrays, so that the transform runs on 32-bit lanes.
    let (mut lo, mut hi) = ([0_u32; BM_PAIRS], [0_u32; BM_PAIRS]);
    let mut draw = |lo: &mut [u32; BM_PAIRS], hi: &mut [u32; BM_PAIRS]| {
        for (l, h) in lo.iter_mut().zip(hi.iter_mut()) {
            let b = rng.next_u64();
            (*l, *h) = (b as u32, (b >> 32) as u32);
        }
    };
    let mut chunks = out.chunks_exact_mut(2 * BM_PAIRS);
    for block in &mut chunks {
        draw(&mut lo, &mut hi);
        box_muller_block::<FMA>(&lo, &hi, block);
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut block = [0.0_f32; 2 * BM_PAIRS];
        draw(&mut lo, &mut hi);
        box_muller_block::<FMA>(&lo, &hi, &mut block);
        rest.copy_from_slice(&block[..rest.len()]);
    }
}

/// `out[i]`, `out[i + 64]`: the pair of normals made from the draw `hi[i] · 2³² + lo[i]`
/// (see [`fill_normals_f32`]).
#[inline(always)]
fn box_muller_block<const FMA: bool>(lo: &[u32; BM_PAIRS], hi: &[u32; BM_PAIRS], out: &mut [f32]) {
    let (first, second) = out.split_at_mut(BM_PAIRS);
    for (((&l, &h), z1), z2) in lo.iter().zip(hi).zip(first).zip(second) {
        (*z1, *z2) = box_muller::<FMA>(l, h);
    }
}

#[inline(always)]
fn box_muller<const FMA: bool>(lo: u32, hi: u32) -> (f32, f32) {
    let fma = |a: f32, x: f32, c: f32| if FMA { a.mul_add(x, c) } else { a * x + c };
    let lo = (lo >> 1) as i32;
    let u = (lo as f32 + 0.5) * (1.0 / 2_147_483_648.0);
    let r = (-2.0 * ln_f32::<FMA>(u)).sqrt();
    let f = ((hi & 0x3fff_ffff) as i32 as f32 + 0.5) * (1.0 / 1_073_741_824.0);
    let phi = (f - 0.5) * std::f32::consts::FRAC_PI_2;
    let z = phi * phi;
    // Cephes sinf / cosf on [−π/4, π/4].
    let sin = fma(
        fma(fma(-1.951_529_6e-4, z, 8.332_161e-3), z, -1.666_665_5e-1) * z,
        phi,
        phi,
    );
    let cos = fma(
        fma(fma(2.443_315_7e-5, z, -1.388_731_6e-3), z, 4.166_664_6e-2) * z,
        z,
        fma(-0.5, z, 1.0),
    );
    let swap = hi >> 31 == 1;
    let (a, c) = if swap { (sin, cos) } else { (cos, sin) };
    // Bit 30 flips the sign of both: an exact sign-bit xor.
    let flip = (hi >> 30 & 1) << 31;
    (
        f32::from_bits((r * a).to_bits() ^ flip),
        f32::from_bits((r * c).to_bits() ^ flip),
    )
}

/// `ln u` for a positive normal `u` (Cephes `logf`: `u = m 2ᵉ`, `m ∈ [√½, √2)`, a degree-9
/// polynomial in `m − 1`).
#[inline(always)]
fn ln_f32<const FMA: bool>(u: f32) -> f32 {
    let fma = |a: f32, x: f32, c: f32| if FMA { a.mul_add(x, c) } else { a * x + c };
    let bits = u.to_bits();
    let e = ((bits >> 23) as i32) - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // [½, 1)
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    let x = if small { m + m - 1.0 } else { m - 1.0 };
    let e = (if small { e - 1 } else { e }) as f32;
    let z = x * x;
    let mut p = 7.037_683_6e-2;
    for c in [
        -1.151_461e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_5e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ] {
        p = fma(p, x, c);
    }
    let y = fma(e, -2.121_944_4e-4, p * x * z);
    let y = fma(-0.5, z, y);
    fma(e, 0.693_359_4, x + y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pair `box_muller` should give for `b`, in f64 with the library's functions.
    fn exact_pair(b: u64) -> (f64, f64) {
        let lo = (b as u32 >> 1) as f64;
        let hi = (b >> 32) as u32;
        let u = f64::from((lo as f32 + 0.5) * (1.0 / 2_147_483_648.0));
        let r = (-2.0 * u.ln()).sqrt();
        let f = ((hi & 0x3fff_ffff) as f64 + 0.5) / 1_073_741_824.0;
        let phi = (f - 0.5) * std::f64::consts::FRAC_PI_2;
        let (s, c) = phi.sin_cos();
        let (a, c) = if hi >> 31 == 1 { (s, c) } else { (c, s) };
        let sign = if hi >> 30 & 1 == 1 { -1.0 } else { 1.0 };
        (sign * r * a, sign * r * c)
    }

    #[test]
    fn box_muller_polynomials_match_the_library_functions() {
        let mut r = seeded(11);
        let mut worst: f64 = 0.0;
        for _ in 0..200_000 {
            let b = r.next_u64();
            let (e1, e2) = exact_pair(b);
            for fused in [false, true] {
                let (lo, hi) = (b as u32, (b >> 32) as u32);
                let (z1, z2) = if fused {
                    box_muller::<true>(lo, hi)
                } else {
                    box_muller::<false>(lo, hi)
                };
                worst = worst.max((f64::from(z1) - e1).abs() / e1.abs().max(1.0));
                worst = worst.max((f64::from(z2) - e2).abs() / e2.abs().max(1.0));
            }
        }
        // A few f32 ulp (1.2e-7) of the radius times the unit vector.
        assert!(worst < 1e-6, "worst error {worst:e}");
        // The extreme draws: u = 2⁻³² gives the largest radius, √(64 ln 2) = 6.66.
        let (z1, z2) = box_muller::<false>(0, 0);
        let radius = f64::from(z1).hypot(f64::from(z2));
        assert!(
            (radius - (64.0 * 2f64.ln()).sqrt()).abs() < 1e-5,
            "{radius}"
        );
        assert!(box_muller::<false>(u32::MAX, u32::MAX).0.is_finite());
    }

    #[test]
    fn f32_normals_have_the_moments_and_law_of_n01() {
        // n = 2²⁰ draws; each check allows 5 standard errors of its statistic under N(0, 1)
        // (E z⁴ = 3, Var z² = 2, Var z⁴ = 96), the KS distance its 0.1 % critical value.
        let n = 1 << 20;
        let mut z = vec![0.0_f32; n];
        let mut r = seeded(5);
        fill_normals_f32(&mut r, &mut z);
        let nf = n as f64;
        let m = |k: i32| z.iter().map(|v| f64::from(*v).powi(k)).sum::<f64>() / nf;
        let (m1, m2, m4) = (m(1), m(2), m(4));
        assert!(m1.abs() < 5.0 / nf.sqrt(), "mean {m1}");
        assert!((m2 - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(), "E z² {m2}");
        assert!((m4 - 3.0).abs() < 5.0 * (96.0 / nf).sqrt(), "E z⁴ {m4}");
        // The two normals of a pair (out[i], out[i + 64]) are uncorrelated.
        let pairs: Vec<(f64, f64)> = z
            .chunks_exact(2 * BM_PAIRS)
            .flat_map(|b| (0..BM_PAIRS).map(move |i| (f64::from(b[i]), f64::from(b[i + BM_PAIRS]))))
            .collect();
        let corr = pairs.iter().map(|(a, b)| a * b).sum::<f64>() / pairs.len() as f64;
        assert!(
            corr.abs() < 5.0 / (pairs.len() as f64).sqrt(),
            "pair correlation {corr}"
        );
        let mut sorted: Vec<f64> = z.iter().map(|v| f64::from(*v)).collect();
        sorted.sort_by(f64::total_cmp);
        let ks = sorted.iter().enumerate().fold(0.0_f64, |d, (i, &x)| {
            let f = normal_cdf(x);
            d.max((f - i as f64 / nf).abs())
                .max((f - (i + 1) as f64 / nf).abs())
        });
        assert!(ks < 1.95 / nf.sqrt(), "KS distance {ks}");
        // Tail mass beyond 3σ: 0.0027 (binomial standard error from n).
        let p3 = 2.0 * (1.0 - normal_cdf(3.0));
        let tail = sorted.iter().filter(|v| v.abs() > 3.0).count() as f64 / nf;
        assert!(
            (tail - p3).abs() < 5.0 * (p3 * (1.0 - p3) / nf).sqrt(),
            "P(|z| > 3) {tail}"
        );
    }

    #[test]
    fn f32_normals_depend_only_on_the_generator_state() {
        let (mut a, mut b) = (vec![0.0_f32; 1000], vec![0.0_f32; 1000]);
        fill_normals_f32(&mut seeded(3), &mut a);
        fill_normals_f32(&mut seeded(3), &mut b);
        assert_eq!(a, b);
        // The portable kernel (CPUs without AVX2/FMA) gives the same law; its numbers differ
        // from the fused ones only by rounding.
        let mut c = vec![0.0_f32; 1000];
        fill_normals_f32_kernel::<false>(&mut seeded(3), &mut c);
        assert!(a.iter().zip(&c).all(|(x, y)| (x - y).abs() < 1e-5));
        fill_normals_f32(&mut seeded(4), &mut b);
        assert_ne!(a, b);
    }
}
