//! Nearest-neighbour upsampling by an integer factor, the U-Net's `↑ nearest ×2` (seed 002
//! §5.1), with a direct backward pass on the CPU (issue 21).
//!
//! Forward, `y[n, c, i, j] = x[n, c, ⌊i/f⌋, ⌊j/f⌋]`; backward, each input pixel's gradient is
//! the sum of the `f × f` block of output gradients it was copied to. candle computes that
//! sum as a grouped convolution with a kernel of ones, one small convolution per channel —
//! a sixth of the U-Net's training step (perf on `examples/digits.rs --bench`). On a CUDA
//! device or for a `dtype` other than `f32` it is candle's `upsample_nearest2d`.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::kernels::{fused, slice};

/// `x` (`n × c × h × w`) upsampled to `n × c × fh × fw` by repeating each pixel in an `f × f`
/// block.
pub fn upsample_nearest(x: &Tensor, factor: usize) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if fused(x) && factor > 0 {
        x.contiguous()?.apply_op1(Upsample(factor))
    } else {
        x.upsample_nearest2d(h * factor, w * factor)
    }
}

/// The upsampling by a factor.
struct Upsample(usize);

impl CustomOp1 for Upsample {
    fn name(&self) -> &'static str {
        "fused-upsample-nearest"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let f = self.0;
        let (n, c, h, w) = l.shape().dims4()?;
        let x = slice(s, l)?;
        let mut y = Vec::with_capacity(x.len() * f * f);
        for row in x.chunks_exact(w) {
            let start = y.len();
            y.extend(row.iter().flat_map(|&v| std::iter::repeat_n(v, f)));
            for _ in 1..f {
                y.extend_from_within(start..start + w * f);
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((n, c, h * f, w * f))))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(dy.contiguous()?.apply_op1_no_bwd(&BlockSum(self.0))?))
    }
}

/// The adjoint: sums of `f × f` blocks.
struct BlockSum(usize);

impl CustomOp1 for BlockSum {
    fn name(&self) -> &'static str {
        "fused-upsample-nearest-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let f = self.0;
        let (n, c, hf, wf) = l.shape().dims4()?;
        let (h, w) = (hf / f, wf / f);
        let dy = slice(s, l)?;
        let mut dx = vec![0f32; n * c * h * w];
        for (dx_row, block) in dx.chunks_exact_mut(w).zip(dy.chunks_exact(wf * f)) {
            for dy_row in block.chunks_exact(wf) {
                for (d, pixels) in dx_row.iter_mut().zip(dy_row.chunks_exact(f)) {
                    *d += pixels.iter().sum::<f32>();
                }
            }
        }
        Ok((CpuStorage::F32(dx), Shape::from((n, c, h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Values and gradient against candle's `upsample_nearest2d`, for factors 2 and 3.
    #[test]
    fn fused_upsampling_matches_candles_in_value_and_gradient() {
        let dev = Device::Cpu;
        for (shape, f) in [((2, 3, 4, 4), 2), ((1, 2, 2, 3), 3), ((3, 1, 1, 1), 2)] {
            let count = shape.0 * shape.1 * shape.2 * shape.3;
            let values: Vec<f32> = (0..count).map(|i| (i as f32 * 0.37).sin()).collect();
            let x = Var::from_tensor(&Tensor::from_vec(values, shape, &dev).unwrap()).unwrap();
            let ours = upsample_nearest(&x, f).unwrap();
            let theirs = x.upsample_nearest2d(shape.2 * f, shape.3 * f).unwrap();
            let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(v(&ours), v(&theirs), "{shape:?} × {f}");
            let probe_values: Vec<f32> = (0..count * f * f)
                .map(|i| (i as f32 * 0.91).cos())
                .collect();
            let probe = Tensor::from_vec(probe_values, ours.dims(), &dev).unwrap();
            let grad = |y: &Tensor| {
                let g = (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
                v(g.get(&x).unwrap())
            };
            let (a, b) = (grad(&ours), grad(&theirs));
            let worst = a
                .iter()
                .zip(&b)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-6, "∂x, {shape:?} × {f}: {worst:e}");
        }
    }
}
