//! The element type of a particle batch: `f64` (the default everywhere) or `f32`.
//!
//! The SDE interfaces ([`crate::sde_basics::Sde`], [`crate::sde_basics::Score`]) and the one
//! SDE loop ([`crate::solvers::sde::solve`]) take the element type as a parameter that defaults
//! to `f64`, so `impl Sde for X` and `&dyn Sde` mean `f64` as before, while the reverse VP SDE
//! with a Gaussian-mixture score also runs in `f32` (half the memory traffic, twice the vector
//! width: seed 000 §2.4.2 "并行计算 / 批处理"). Times `t`, `Δt` and coefficients such as
//! `β(t)` stay `f64` and are rounded to the batch type once per step ([`Real::of`]).

use std::fmt::{Debug, Display};

use crate::rng::{self, Rng};

/// A floating-point batch element: `f32` or `f64`.
pub trait Real:
    num_traits::Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + 'static
{
    /// `v` rounded to this type (exact for `f64`).
    fn of(v: f64) -> Self;

    /// This value as `f64` (exact).
    fn to_f64_exact(self) -> f64;

    /// Fills `out` with independent standard normals from `rng`: the crate's normal generator
    /// for this type ([`rng::fill_normals`] for `f64`, [`rng::fill_normals_f32`] for `f32`).
    fn fill_normals(rng: &mut Rng, out: &mut [Self]);

    /// `eˣ` for `x ≤ 0` without branches, so that loops over it vectorise; with `FMA` the
    /// polynomial uses fused multiply–adds (only where the CPU has them). Relative error a
    /// few ulp of the type; arguments below the smallest normal result's logarithm return a
    /// tiny positive normal number instead of a subnormal or zero.
    fn exp_nonpositive<const FMA: bool>(x: Self) -> Self;
}

impl Real for f64 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }

    #[inline(always)]
    fn to_f64_exact(self) -> f64 {
        self
    }

    fn fill_normals(rng: &mut Rng, out: &mut [Self]) {
        rng::fill_normals(rng, out);
    }

    /// `x = k ln 2 + r`, `|r| ≤ ln2/2`, `eʳ` by its degree-13 Taylor polynomial (truncation
    /// < 2e-17), `2ᵏ` from the exponent bits; below −708 it returns `e⁻⁷⁰⁸ ≈ 3e-308`.
    #[inline(always)]
    fn exp_nonpositive<const FMA: bool>(x: f64) -> f64 {
        const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2⁵²: adding it rounds to an integer
                                                    // ln 2 = LN2_HI + LN2_LO, LN2_HI with trailing zero bits so that k·LN2_HI is exact (fdlibm).
        const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
        const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
        let x = x.clamp(-708.0, 0.0);
        let t = x * std::f64::consts::LOG2_E + MAGIC;
        let k = t - MAGIC;
        let r = (x - k * LN2_HI) - k * LN2_LO;
        // Horner with the coefficients 1/n!, n = 13 … 0.
        const INV_FACT: [f64; 14] = [
            1.0,
            1.0,
            1.0 / 2.0,
            1.0 / 6.0,
            1.0 / 24.0,
            1.0 / 120.0,
            1.0 / 720.0,
            1.0 / 5040.0,
            1.0 / 40_320.0,
            1.0 / 362_880.0,
            1.0 / 3_628_800.0,
            1.0 / 39_916_800.0,
            1.0 / 479_001_600.0,
            1.0 / 6_227_020_800.0,
        ];
        let p = INV_FACT.iter().rev().fold(
            0.0_f64,
            |p, c| if FMA { p.mul_add(r, *c) } else { p * r + c },
        );
        // bits(t) = bits(MAGIC) + k, so k + 1023 shifted into the exponent field is 2ᵏ.
        let scale =
            f64::from_bits(t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(1023) << 52);
        p * scale
    }
}

impl Real for f32 {
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }

    #[inline(always)]
    fn to_f64_exact(self) -> f64 {
        f64::from(self)
    }

    fn fill_normals(rng: &mut Rng, out: &mut [Self]) {
        rng::fill_normals_f32(rng, out);
    }

    /// As for `f64` with the degree-7 Taylor polynomial (truncation < 1e-8, below the
    /// `f32` ulp); below −87 it returns `e⁻⁸⁷ ≈ 1.6e-38`.
    #[inline(always)]
    fn exp_nonpositive<const FMA: bool>(x: f32) -> f32 {
        const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³
                                         // Cephes' split of ln 2 (0.693359375 has trailing zero bits).
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let x = x.clamp(-87.0, 0.0);
        let t = x * std::f32::consts::LOG2_E + MAGIC;
        let k = t - MAGIC;
        let r = (x - k * LN2_HI) - k * LN2_LO;
        const INV_FACT: [f32; 8] = [
            1.0,
            1.0,
            1.0 / 2.0,
            1.0 / 6.0,
            1.0 / 24.0,
            1.0 / 120.0,
            1.0 / 720.0,
            1.0 / 5040.0,
        ];
        let p = INV_FACT.iter().rev().fold(
            0.0_f32,
            |p, c| if FMA { p.mul_add(r, *c) } else { p * r + c },
        );
        let scale =
            f32::from_bits(t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23);
        p * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exponentials_match_the_library_ones() {
        let (mut worst64, mut worst32): (f64, f64) = (0.0, 0.0);
        for i in 0..=200_000 {
            let x = -708.0 * (i as f64 / 200_000.0).powi(3);
            let exact = x.exp();
            for v in [
                f64::exp_nonpositive::<false>(x),
                f64::exp_nonpositive::<true>(x),
            ] {
                worst64 = worst64.max((v - exact).abs() / exact);
            }
            let x32 = (-87.0 * (i as f64 / 200_000.0).powi(3)) as f32;
            let exact = f64::from(x32).exp();
            for v in [
                f32::exp_nonpositive::<false>(x32),
                f32::exp_nonpositive::<true>(x32),
            ] {
                worst32 = worst32.max((f64::from(v) - exact).abs() / exact);
            }
        }
        // About one ulp of each type (2.2e-16, 1.2e-7); degree 12 / 6 would give 3e-16 / 2e-7.
        assert!(worst64 < 2.5e-16, "f64: max relative error {worst64:e}");
        assert!(worst32 < 2.5e-7, "f32: max relative error {worst32:e}");
        assert_eq!(f64::exp_nonpositive::<false>(0.0), 1.0);
        assert_eq!(f32::exp_nonpositive::<false>(0.0), 1.0);
        assert!(f64::exp_nonpositive::<false>(-1e4) < 1e-307);
        assert!(f64::exp_nonpositive::<false>(f64::NEG_INFINITY) < 1e-307);
        let tiny = f32::exp_nonpositive::<false>(f32::NEG_INFINITY);
        assert!(tiny > 0.0 && tiny < 2e-38 && tiny.is_normal());
    }
}
