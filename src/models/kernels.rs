//! Fused CPU kernels for the two operations of every layer of the score networks (seed 000
//! A.4): the affine map `x Wᵀ + b` and the SiLU activation, each with a lean backward.
//!
//! Why (measured with `perf` on `examples/appendix_bench.rs`, see its doc comment): candle's
//! generic CPU path spends more time around the matrix products than in them — the product's
//! output is zero-filled and then the bias added by a broadcasting iterator, the bias gradient
//! is a strided sum down the batch, the SiLU's backward is nine whole-tensor operations (each
//! a fresh allocation), and `exp` is the scalar libm one. Here the product accumulates onto
//! the broadcast bias in one `gemm` call (the multiply candle itself uses), and SiLU and its
//! derivative are one pass each with a polynomial `exp` that the compiler vectorises
//! (AVX-512 or AVX2 when the CPU has it, chosen at run time).
//!
//! [`affine`] and [`silu`] are what the networks call; [`moving_average`] is the training
//! loop's in-place moving average of the weights. On a CUDA device, or for a `dtype`
//! other than `f32`, they are candle's own operations, so the same model code runs everywhere;
//! the tests check that both paths give the same values and gradients.

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, Layout, Shape, Tensor,
};

/// `x · sigmoid(x)`, element-wise.
pub fn silu(x: &Tensor) -> candle_core::Result<Tensor> {
    if fused(x) {
        x.contiguous()?.apply_op1(Silu)
    } else {
        x.silu()
    }
}

/// `x Wᵀ + b` for a batch `x` (`n × k`), weights `W` (`m × k`) and a bias `b` (`m`), as
/// candle-nn's `Linear` computes it.
pub fn affine(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    if fused(x) && x.rank() == 2 && w.rank() == 2 && b.dims() == [w.dim(0)?] {
        x.contiguous()?
            .apply_op3(&w.contiguous()?, &b.contiguous()?, Affine)
    } else {
        x.broadcast_matmul(&w.t()?)?.broadcast_add(b)
    }
}

/// `avg ← d · avg + (1 − d) · θ` in place (an exponential moving average of weights, as
/// [`crate::framework::dsm::DsmConfig::ema`] keeps it): one pass over the average's own
/// storage on the CPU in `f32`, candle's operations elsewhere — the same `f32` operations in
/// the same order either way (`avg · d + 0` plus `θ · (1 − d) + 0`, as candle's `affine`).
/// Returns the new average (the same tensor on the fused path).
pub fn moving_average(avg: &Tensor, theta: &Tensor, decay: f64) -> candle_core::Result<Tensor> {
    if fused(avg) && avg.is_contiguous() && avg.shape() == theta.shape() {
        avg.inplace_op2(&theta.contiguous()?, &MovingAverage(decay))?;
        Ok(avg.clone())
    } else {
        (avg * decay)? + (theta.detach() * (1.0 - decay))?
    }
}

struct MovingAverage(f64);

impl candle_core::InplaceOp2 for MovingAverage {
    fn name(&self) -> &'static str {
        "fused-moving-average"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let theta = slice(s2, l2)?;
        let CpuStorage::F32(avg) = s1 else {
            return Err(candle_core::Error::Msg("moving average: f32 only".into()));
        };
        let (start, end) = l1
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("moving average: non-contiguous".into()))?;
        let (d, c) = (self.0 as f32, (1.0 - self.0) as f32);
        for (a, &t) in avg[start..end].iter_mut().zip(theta) {
            *a = (*a * d + 0.0) + (t * c + 0.0);
        }
        Ok(())
    }
}

pub(super) fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32
}

/// The contiguous `f32` data of a CPU tensor argument.
pub(super) fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg("fused kernel: non-contiguous input".into()))?;
    Ok(&s.as_slice::<f32>()?[start..end])
}

fn cpu_tensor(data: Vec<f32>, shape: &Shape) -> candle_core::Result<Tensor> {
    Tensor::from_vec(data, shape, &candle_core::Device::Cpu)
}

struct Silu;

impl CustomOp1 for Silu {
    fn name(&self) -> &'static str {
        "fused-silu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = slice(s, l)?;
        let mut y = vec![0f32; x.len()];
        simd::silu(x, &mut y);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&dy.contiguous()?, &SiluGrad)?))
    }
}

/// `dy · silu′(x)` with `silu′(x) = s (1 + x (1 − s))`, `s = sigmoid(x)`.
struct SiluGrad;

impl CustomOp2 for SiluGrad {
    fn name(&self) -> &'static str {
        "fused-silu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, dy) = (slice(s1, l1)?, slice(s2, l2)?);
        let mut dx = vec![0f32; x.len()];
        simd::silu_grad(x, dy, &mut dx);
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

struct Affine;

impl CustomOp3 for Affine {
    fn name(&self) -> &'static str {
        "fused-affine"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (x, w, b) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        let (n, k) = l1.shape().dims2()?;
        let (m, k_w) = l2.shape().dims2()?;
        if k != k_w || b.len() != m {
            return Err(candle_core::Error::Msg(format!(
                "fused affine: x is {n}×{k}, W {m}×{k_w}, b has {}",
                b.len()
            )));
        }
        let mut y = vec![0f32; n * m];
        affine_into(x, w, b, &mut y);
        Ok((CpuStorage::F32(y), Shape::from((n, m))))
    }

    /// `∂x = dy W`, `∂W = dyᵀ x` (candle's products), `∂b = Σ_rows dy`, summed row by row
    /// (contiguous) rather than down the columns.
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let m = b.dim(0)?;
        let mut db = vec![0f32; m];
        column_sums(&dy.flatten_all()?.to_vec1::<f32>()?, &mut db);
        Ok((
            Some(dy.matmul(w)?),
            Some(dy.t()?.matmul(x)?),
            Some(cpu_tensor(db, b.shape())?),
        ))
    }
}

/// `y ← x Wᵀ + b` for `x` (`n × k`), `W` (`m × k`), `b` (`m`) into `y` (`n × m`), all
/// row-major: the bias copied into every row, then one `gemm` accumulating onto it.
pub(super) fn affine_into(x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
    let m = b.len();
    let (n, k) = (y.len() / m, w.len() / m);
    assert!(
        x.len() == n * k && w.len() == m * k && y.len() == n * m,
        "affine: x {}, W {}, b {m}, y {}",
        x.len(),
        w.len(),
        y.len()
    );
    y.chunks_exact_mut(m).for_each(|row| row.copy_from_slice(b));
    // SAFETY: y is n×m row-major, x n×k row-major, Wᵀ read as k×m from W (m×k row-major).
    unsafe { matmul((n, m, k), y, true, (x, k, 1), (w, 1, k), parallelism()) }
}

/// `s ← Σ_rows dy` for `dy` row-major with `s.len()` columns: row after row, each added
/// in order onto `s = 0` (contiguous, unlike a sum down each column).
pub(super) fn column_sums(dy: &[f32], s: &mut [f32]) {
    s.fill(0.0);
    for row in dy.chunks_exact(s.len()) {
        s.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
}

/// Runs `f` on a thread of rayon's pool. The kernels split their work over the pool; called
/// from outside it (the main thread), every split wakes the pool's threads and puts the caller
/// to sleep until they finish — a dozen context switches per pass of a network, ~30 % of the
/// appendix training step on 2 cores (`examples/appendix_bench.rs`). Called from inside, the
/// worker running `f` takes its share of each split itself. The splits are the same, so are the
/// numbers. For a model on another device `f` runs where it is called (the device's context
/// belongs to the calling thread; its kernels do not use rayon).
pub(crate) fn in_pool<R: Send>(device: &Device, f: impl FnOnce() -> R + Send) -> R {
    if device.is_cpu() {
        rayon::scope(|_| f())
    } else {
        f()
    }
}

/// What candle's CPU multiply uses: rayon's threads when there are several.
pub(super) fn parallelism() -> gemm::Parallelism {
    let threads = candle_core::utils::get_num_threads();
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `dst (m × n, row-major) ← [dst +] lhs · rhs` with `gemm`, `lhs` (`m × k`) and `rhs`
/// (`k × n`) given as (data, row stride, column stride): the multiply every fused kernel uses.
///
/// # Safety
/// Every index the strides form lies inside the three buffers.
pub(super) unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: (&[f32], usize, usize),
    rhs: (&[f32], usize, usize),
    parallelism: gemm::Parallelism,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst.as_mut_ptr(),
        1,
        n as isize,
        accumulate,
        lhs.0.as_ptr(),
        lhs.2 as isize,
        lhs.1 as isize,
        rhs.0.as_ptr(),
        rhs.2 as isize,
        rhs.1 as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        parallelism,
    );
}

pub(super) use simd::{silu as silu_into, silu_grad as silu_grad_into};
/// The same loops on one thread, for kernels that already split their work.
pub(super) use simd::{silu_chunk, silu_grad_chunk};

/// The element-wise loops, compiled once per instruction set and picked at run time.
mod simd {
    use rayon::prelude::*;

    /// `e^x` for `f32`, branch-free so that it vectorises: `e^x = 2^k e^r` with
    /// `k = round(x log₂e)`, `|r| ≤ ln2/2`, and a degree-6 Taylor polynomial for `e^r`
    /// (relative error ≲ 2·10⁻⁷ on the clamped range; below `−87` it returns `≈ 1.6·10⁻³⁸`
    /// instead of a subnormal, which SiLU cannot tell apart from 0). `k` is rounded by adding
    /// `1.5·2²³`, which leaves it in the low mantissa bits, so `2^k` is built from bits
    /// without a float-to-int conversion (which does not vectorise).
    #[inline(always)]
    fn exp(x: f32) -> f32 {
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        const ROUND: f32 = 12_582_912.0;
        let x = x.clamp(-87.0, 88.0);
        let z = x * std::f32::consts::LOG2_E + ROUND;
        let k = z - ROUND;
        let r = x - k * LN2_HI - k * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
        let two_k = (z.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127)) << 23;
        p * f32::from_bits(two_k)
    }

    #[inline(always)]
    fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + exp(-x))
    }

    #[inline(always)]
    fn silu_portable(x: &[f32], y: &mut [f32]) {
        y.iter_mut().zip(x).for_each(|(y, &x)| *y = x * sigmoid(x));
    }

    #[inline(always)]
    fn silu_grad_portable(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((g, &x), &d) in dx.iter_mut().zip(x).zip(dy) {
            let s = sigmoid(x);
            *g = d * s * (1.0 + x * (1.0 - s));
        }
    }

    /// One entry point per loop: the widest instruction set the CPU has.
    macro_rules! dispatch {
        ($name:ident, $portable:ident, ($($arg:ident: $ty:ty),*)) => {
            pub fn $name($($arg: $ty),*) {
                #[cfg(target_arch = "x86_64")]
                {
                    #[target_feature(enable = "avx512f")]
                    fn avx512($($arg: $ty),*) {
                        $portable($($arg),*)
                    }
                    #[target_feature(enable = "avx2,fma")]
                    fn avx2($($arg: $ty),*) {
                        $portable($($arg),*)
                    }
                    if is_x86_feature_detected!("avx512f") {
                        // SAFETY: the CPU has the feature the function is compiled for.
                        return unsafe { avx512($($arg),*) };
                    }
                    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                        // SAFETY: as above.
                        return unsafe { avx2($($arg),*) };
                    }
                }
                $portable($($arg),*)
            }
        };
    }

    dispatch!(silu_chunk, silu_portable, (x: &[f32], y: &mut [f32]));
    dispatch!(silu_grad_chunk, silu_grad_portable, (x: &[f32], dy: &[f32], dx: &mut [f32]));

    /// Elements per parallel task: large batches use every thread of rayon's pool (candle's own
    /// element-wise operations run on one), small ones stay a single task.
    const CHUNK: usize = 1 << 14;

    pub fn silu(x: &[f32], y: &mut [f32]) {
        y.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK))
            .for_each(|(y, x)| silu_chunk(x, y));
    }

    pub fn silu_grad(x: &[f32], dy: &[f32], dx: &mut [f32]) {
        dx.par_chunks_mut(CHUNK)
            .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
            .for_each(|(dx, (x, dy))| silu_grad_chunk(x, dy, dx));
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn polynomial_exp_matches_libm_to_float_precision() {
            let worst = (-8700..=8800)
                .map(|i| i as f32 * 0.01)
                .map(|x| ((super::exp(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs())
                .fold(0.0, f64::max);
            assert!(worst < 5e-7, "worst relative error {worst:e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
        let d = d.to_scalar::<f32>().unwrap();
        assert!(d < tol, "max |difference| {d:e} ≥ {tol:e}");
    }

    /// Values and gradients of a small two-layer block, fused kernels vs candle's own ops.
    #[test]
    fn fused_kernels_match_candles_ops_in_value_and_gradient() {
        let dev = Device::Cpu;
        let var = |shape: (usize, usize), s: f32| {
            Var::from_tensor(&Tensor::randn(0f32, s, shape, &dev).unwrap()).unwrap()
        };
        let (x, w) = (var((37, 11), 2.0), var((19, 11), 1.0));
        let b = Var::from_tensor(&Tensor::randn(0f32, 1.0, 19, &dev).unwrap()).unwrap();
        let probe = Tensor::randn(0f32, 1.0, (37, 19), &dev).unwrap();
        let ours = silu(&affine(&x, &w, &b).unwrap()).unwrap();
        let theirs = x
            .matmul(&w.t().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap()
            .silu()
            .unwrap();
        close(&ours, &theirs, 1e-4);
        let g_ours = (&ours * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g_theirs = (&theirs * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [x.as_tensor(), w.as_tensor(), b.as_tensor()] {
            close(g_ours.get(v).unwrap(), g_theirs.get(v).unwrap(), 1e-4);
        }
    }

    #[test]
    fn silu_is_exact_at_the_tails() {
        let x = Tensor::new(&[-200f32, -90.0, 0.0, 90.0, 200.0], &Device::Cpu).unwrap();
        let y = silu(&x).unwrap().to_vec1::<f32>().unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
        assert_eq!(&y[2..], &[0.0, 90.0, 200.0]);
        assert!(y[0].abs() < 1e-30 && y[1].abs() < 1e-30, "{y:?}");
    }

    /// The fused moving average is candle's, bit for bit, and updates in place.
    #[test]
    fn moving_average_is_candles_bit_for_bit() {
        let dev = Device::Cpu;
        let avg = Tensor::randn(0f32, 1.0, (33, 7), &dev)
            .unwrap()
            .copy()
            .unwrap();
        let theta = Tensor::randn(0f32, 3.0, (33, 7), &dev).unwrap();
        let want = ((&avg * 0.999).unwrap() + (&theta * (1.0 - 0.999)).unwrap()).unwrap();
        let got = moving_average(&avg, &theta, 0.999).unwrap();
        let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(&got), v(&want));
        assert_eq!(v(&avg), v(&want), "in place");
        let f64_avg = avg.to_dtype(DType::F64).unwrap();
        let f64_theta = theta.to_dtype(DType::F64).unwrap();
        let back = moving_average(&f64_avg, &f64_theta, 0.5).unwrap();
        assert_eq!(back.dtype(), DType::F64);
    }

    #[test]
    fn other_dtypes_fall_back_to_candle() {
        let x = Tensor::new(&[-1f64, 0.5, 2.0], &Device::Cpu).unwrap();
        close(
            &silu(&x).unwrap().to_dtype(DType::F32).unwrap(),
            &x.silu().unwrap().to_dtype(DType::F32).unwrap(),
            1e-12,
        );
    }
}
