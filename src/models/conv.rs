//! The U-Net's convolutions on the CPU as one matrix product per image (issue 21).
//!
//! Why (perf on `examples/digits.rs --bench`, README *What bounds the targets not met*):
//! candle's CPU convolution spends 44 % of a training step in its transposed-convolution loop
//! (the input gradient of every layer, a scalar dot product per output pixel), 24 % copying
//! im2col tiles element by element, 11 % in a strided sum for the bias gradient, and only 6 % in
//! the multiply. Here each image is copied once into a zero-padded buffer and unfolded from it
//! into its im2col matrix (`C·k·k` rows of `H_out·W_out` columns) with no bounds logic, the
//! U-Net's output widths and strides being compile-time constants so that each row segment is
//! one vector copy (a pointwise 1×1 convolution multiplies the image itself); then:
//!
//! - forward: `y = W · cols + b` (one `gemm` onto the broadcast bias, per channel or per image
//!   and channel);
//! - `∂W = Σ_images ∂y · colsᵀ` (the im2col recomputed, not stored: memory stays one matrix
//!   per thread), summed over fixed groups of `GROUP` (8) images and then in order, so the result
//!   does not depend on the number of threads;
//! - `∂x = col2im(Wᵀ · ∂y)`, the adjoint of the unfolding (a scatter-add of the rows into a
//!   padded gradient, whose inside is `∂x`);
//! - `∂b = Σ ∂y` over images and pixels, one contiguous run per channel (over pixels only for
//!   a bias per image).
//!
//! [`conv2d`] is what the U-Net calls: on a CUDA device, for a `dtype` other than `f32`, or for
//! dilated or grouped convolutions it is candle's own `conv2d` plus the bias, as candle-nn's
//! `Conv2d` computes it; the tests check both paths agree in value and gradient.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::kernels::{fused, matmul, slice};

/// Images per partial sum of the weight gradient (fixed, so the sum's order is too).
const GROUP: usize = 8;

/// candle-nn's `Conv2d::forward` (NCHW input, OIHW kernel `w`, bias `b` per output channel,
/// zero `padding` on every side, `stride`), fused on the CPU. The bias may also be one per
/// image and output channel (`n × o`): the U-Net's residual blocks add their time-embedding
/// shift to the first convolution's bias that way.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: &Tensor,
    stride: usize,
    padding: usize,
) -> candle_core::Result<Tensor> {
    let square = w.rank() == 4 && w.dim(2)? == w.dim(3)?;
    let o = w.dim(0)?;
    let per_image = match b.dims() {
        [len] if *len == o => Some(1),
        [n, len] if *len == o && x.rank() == 4 && *n == x.dim(0)? => Some(*n),
        _ => None,
    };
    let Some(images) = per_image else {
        return Err(candle_core::Error::Msg(format!(
            "conv2d: bias of shape {:?} for {o} output channels and input {:?}",
            b.dims(),
            x.dims()
        )));
    };
    if fused(x) && x.rank() == 4 && square && stride > 0 {
        x.contiguous()?
            .apply_op3(&w.contiguous()?, &b.contiguous()?, Conv { stride, padding })
    } else {
        x.conv2d(w, padding, stride, 1, 1)?
            .broadcast_add(&b.reshape((images, o, 1, 1))?)
    }
}

/// Stride and padding of a convolution.
#[derive(Clone, Copy, Debug)]
struct Conv {
    stride: usize,
    padding: usize,
}

/// The sizes of one convolution: input `n × c × h × w`, kernel `o × c × k × k`, output
/// `n × o × ho × wo`.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    ho: usize,
    wo: usize,
}

impl Conv {
    fn geometry(&self, x: &Shape, w: &Shape) -> candle_core::Result<Geometry> {
        let (n, c, h, wd) = x.dims4()?;
        let (o, c_w, k, k2) = w.dims4()?;
        let out = |size: usize| {
            (size + 2 * self.padding)
                .checked_sub(k)
                .map(|s| s / self.stride + 1)
        };
        match (out(h), out(wd)) {
            (Some(ho), Some(wo)) if c == c_w && k == k2 => Ok(Geometry {
                n,
                c,
                h,
                w: wd,
                o,
                k,
                stride: self.stride,
                pad: self.padding,
                ho,
                wo,
            }),
            _ => Err(candle_core::Error::Msg(format!(
                "fused conv2d: input {x:?}, kernel {w:?}, padding {}, stride {}",
                self.padding, self.stride
            ))),
        }
    }
}

impl Geometry {
    /// Rows of the im2col matrix, `c·k·k` (the columns of `W` seen as `o × c·k·k`).
    fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output pixels per channel, the im2col matrix's columns.
    fn pixels(&self) -> usize {
        self.ho * self.wo
    }

    /// Sides of the zero-padded image, `h + 2·pad` and `w + 2·pad`.
    fn padded_sides(&self) -> (usize, usize) {
        (self.h + 2 * self.pad, self.w + 2 * self.pad)
    }

    /// Values of one zero-padded image, `c × (h + 2·pad) × (w + 2·pad)`.
    fn padded_len(&self) -> usize {
        let (hp, wp) = self.padded_sides();
        self.c * hp * wp
    }

    /// One image `x` zero-padded into `padded`.
    fn pad(&self, x: &[f32], padded: &mut [f32]) {
        let (hp, wp) = self.padded_sides();
        padded.fill(0.0);
        for (plane, image) in padded
            .chunks_exact_mut(hp * wp)
            .zip(x.chunks_exact(self.h * self.w))
        {
            for (row, from) in plane[self.pad * wp..]
                .chunks_exact_mut(wp)
                .zip(image.chunks_exact(self.w))
            {
                row[self.pad..self.pad + self.w].copy_from_slice(from);
            }
        }
    }

    /// The inside of `padded` into one image's gradient `dx` (the adjoint of [`Geometry::pad`]).
    fn unpad(&self, padded: &[f32], dx: &mut [f32]) {
        let (hp, wp) = self.padded_sides();
        for (plane, image) in padded
            .chunks_exact(hp * wp)
            .zip(dx.chunks_exact_mut(self.h * self.w))
        {
            for (row, to) in plane[self.pad * wp..]
                .chunks_exact(wp)
                .zip(image.chunks_exact_mut(self.w))
            {
                to.copy_from_slice(&row[self.pad..self.pad + self.w]);
            }
        }
    }

    /// Visits every im2col row segment: `f(dst, first)` for the `wo` entries of the im2col
    /// row `(c, ki, kj)` that belong to output row `oy`, `dst` being the im2col matrix's index
    /// of the first and `first` the padded image's (the others follow `stride` apart). Every
    /// index lies inside the padded image, so there is no bounds logic; `wo` and `stride` are
    /// passed as constants by [`Geometry::segments`] for the U-Net's sizes, so that the inner
    /// loops unroll.
    #[inline(always)]
    fn visit(&self, wo: usize, stride: usize, mut f: impl FnMut(usize, usize)) {
        let (hp, wp) = self.padded_sides();
        let mut dst = 0;
        for c in 0..self.c {
            for ki in 0..self.k {
                for kj in 0..self.k {
                    for oy in 0..self.ho {
                        let first = (c * hp + oy * stride + ki) * wp + kj;
                        f(dst, first);
                        dst += wo;
                    }
                }
            }
        }
    }

    /// [`Geometry::visit`] with the common `(wo, stride)` pairs as constants.
    #[inline(always)]
    fn segments(&self, f: impl FnMut(usize, usize)) {
        match (self.wo, self.stride) {
            (8, 1) => self.visit(8, 1, f),
            (4, 1) => self.visit(4, 1, f),
            (2, 1) => self.visit(2, 1, f),
            (4, 2) => self.visit(4, 2, f),
            (2, 2) => self.visit(2, 2, f),
            (wo, stride) => self.visit(wo, stride, f),
        }
    }

    /// A 1×1 convolution without padding or stride: its im2col matrix is the image itself.
    fn pointwise(&self) -> bool {
        self.k == 1 && self.pad == 0 && self.stride == 1
    }

    /// A thread's buffers: one padded image and one im2col matrix (none for a pointwise one).
    fn workspace(&self) -> Workspace {
        let len = |n: usize| if self.pointwise() { 0 } else { n };
        Workspace {
            padded: vec![0.0; len(self.padded_len())],
            cols: vec![0.0; len(self.rows() * self.pixels())],
        }
    }

    /// The im2col matrix (`rows × pixels`) of one image `x` (`c × h × w`): `x` itself for a
    /// pointwise convolution, else built in `ws.cols`.
    fn unfold<'a>(&self, x: &'a [f32], ws: &'a mut Workspace) -> &'a [f32] {
        if self.pointwise() {
            return x;
        }
        self.pad(x, &mut ws.padded);
        self.im2col(&ws.padded, &mut ws.cols);
        &ws.cols
    }

    /// The adjoint of [`Geometry::unfold`]: an im2col-shaped matrix summed back into one
    /// image's `dx`. `matrix(target)` writes that matrix into `target`: `dx` itself for a
    /// pointwise convolution, else `ws.cols`.
    fn fold(&self, ws: &mut Workspace, dx: &mut [f32], matrix: impl FnOnce(&mut [f32])) {
        if self.pointwise() {
            return matrix(dx);
        }
        matrix(&mut ws.cols);
        ws.padded.fill(0.0);
        self.col2im(&ws.cols, &mut ws.padded);
        self.unpad(&ws.padded, dx);
    }

    /// The im2col matrix (`rows × pixels`) of one zero-padded image.
    fn im2col(&self, padded: &[f32], cols: &mut [f32]) {
        let (wo, s) = (self.wo, self.stride);
        let span = (wo - 1) * s + 1;
        self.segments(|dst, first| {
            let from = &padded[first..first + span];
            for (j, v) in cols[dst..dst + wo].iter_mut().enumerate() {
                *v = from[j * s];
            }
        });
    }

    /// The adjoint of [`Geometry::im2col`]: adds `cols` into a zero-padded image's gradient.
    fn col2im(&self, cols: &[f32], padded: &mut [f32]) {
        let (wo, s) = (self.wo, self.stride);
        let span = (wo - 1) * s + 1;
        self.segments(|dst, first| {
            let to = &mut padded[first..first + span];
            for (j, v) in cols[dst..dst + wo].iter().enumerate() {
                to[j * s] += v;
            }
        });
    }
}

/// A thread's buffers for [`Geometry::unfold`] and [`Geometry::fold`].
struct Workspace {
    padded: Vec<f32>,
    cols: Vec<f32>,
}

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "fused-conv2d"
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
        let g = self.geometry(l1.shape(), l2.shape())?;
        let (x, w, b) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        let (rows, pixels) = (g.rows(), g.pixels());
        let mut y = Vec::with_capacity(g.n * g.o * pixels);
        for image in 0..g.n {
            // One bias per channel, or one per image and channel.
            let b = if b.len() == g.o {
                b
            } else {
                &b[image * g.o..(image + 1) * g.o]
            };
            for &bias in b {
                y.extend(std::iter::repeat_n(bias, pixels));
            }
        }
        y.par_chunks_mut(g.o * pixels)
            .zip(x.par_chunks(g.c * g.h * g.w))
            .for_each_init(
                || g.workspace(),
                |ws, (yn, xn)| {
                    let cols = g.unfold(xn, ws);
                    // One image per thread, so the multiply itself is serial.
                    // SAFETY: yn is o × pixels, w is o × rows, cols rows × pixels, all row-major.
                    unsafe {
                        matmul(
                            (g.o, pixels, rows),
                            yn,
                            true,
                            (w, rows, 1),
                            (cols, pixels, 1),
                            gemm::Parallelism::None,
                        )
                    }
                },
            );
        Ok((CpuStorage::F32(y), Shape::from((g.n, g.o, g.ho, g.wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        Ok((
            Some(w.apply_op2_no_bwd(&dy, &InputGrad(*self, x.shape().clone()))?),
            Some(x.apply_op2_no_bwd(&dy, &WeightGrad(*self, w.shape().clone()))?),
            Some(dy.apply_op1_no_bwd(&BiasGrad(b.rank() == 2))?),
        ))
    }
}

/// `∂x = col2im(Wᵀ ∂y)`, from the kernel and `∂y`; holds the input's shape.
struct InputGrad(Conv, Shape);

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "fused-conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.0.geometry(&self.1, l1.shape())?;
        let (w, dy) = (slice(s1, l1)?, slice(s2, l2)?);
        let (rows, pixels) = (g.rows(), g.pixels());
        let mut dx = vec![0f32; g.n * g.c * g.h * g.w];
        dx.par_chunks_mut(g.c * g.h * g.w)
            .zip(dy.par_chunks(g.o * pixels))
            .for_each_init(
                || g.workspace(),
                |ws, (dxn, dyn_)| {
                    // SAFETY: cols is rows × pixels; Wᵀ is read from w (o × rows) with
                    // strides (1, rows); dyn_ is o × pixels.
                    g.fold(ws, dxn, |cols| unsafe {
                        matmul(
                            (rows, pixels, g.o),
                            cols,
                            false,
                            (w, 1, rows),
                            (dyn_, pixels, 1),
                            gemm::Parallelism::None,
                        )
                    });
                },
            );
        Ok((CpuStorage::F32(dx), self.1.clone()))
    }
}

/// `∂W = Σ_images ∂y · colsᵀ`, from the input and `∂y`; holds the kernel's shape.
struct WeightGrad(Conv, Shape);

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "fused-conv2d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.0.geometry(l1.shape(), &self.1)?;
        let (x, dy) = (slice(s1, l1)?, slice(s2, l2)?);
        let (rows, pixels) = (g.rows(), g.pixels());
        let image = g.c * g.h * g.w;
        let partials: Vec<Vec<f32>> = (0..g.n.div_ceil(GROUP))
            .into_par_iter()
            .map(|group| {
                let mut dw = vec![0f32; g.o * rows];
                let mut ws = g.workspace();
                for i in group * GROUP..((group + 1) * GROUP).min(g.n) {
                    let cols = g.unfold(&x[i * image..(i + 1) * image], &mut ws);
                    let dyi = &dy[i * g.o * pixels..(i + 1) * g.o * pixels];
                    // SAFETY: dw is o × rows; dyi o × pixels; colsᵀ read from cols
                    // (rows × pixels) with strides (1, pixels).
                    unsafe {
                        matmul(
                            (g.o, rows, pixels),
                            &mut dw,
                            true,
                            (dyi, pixels, 1),
                            (cols, 1, pixels),
                            gemm::Parallelism::None,
                        )
                    }
                }
                dw
            })
            .collect();
        let mut dw = vec![0f32; g.o * rows];
        for p in &partials {
            dw.iter_mut().zip(p).for_each(|(s, v)| *s += v);
        }
        Ok((CpuStorage::F32(dw), self.1.clone()))
    }
}

/// `∂b_o = Σ_{images, pixels} ∂y`: one contiguous run per (image, channel); with `true`, the
/// gradient of a bias per image and channel (the sums not added over images).
struct BiasGrad(bool);

impl CustomOp1 for BiasGrad {
    fn name(&self) -> &'static str {
        "fused-conv2d-bias-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, o, ho, wo) = l.shape().dims4()?;
        let dy = slice(s, l)?;
        let sums: Vec<f32> = dy
            .chunks_exact(ho * wo)
            .map(|run| run.iter().sum())
            .collect();
        if self.0 {
            return Ok((CpuStorage::F32(sums), Shape::from((n, o))));
        }
        let mut db = vec![0f32; o];
        for image in sums.chunks_exact(o) {
            db.iter_mut().zip(image).for_each(|(s, v)| *s += v);
        }
        Ok((CpuStorage::F32(db), Shape::from(o)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Values and all three gradients against candle's `conv2d` + bias, for the U-Net's
    /// shapes: 3×3 stride 1 and 2, 1×1, odd sizes, more images than a weight-gradient group.
    #[test]
    fn fused_conv_matches_candles_in_value_and_gradient() {
        let dev = Device::Cpu;
        for (n, c, o, side, k, stride, pad) in [
            (3, 2, 5, 7, 3, 1, 1),
            (11, 3, 4, 8, 3, 2, 1),
            (2, 4, 3, 9, 3, 2, 1),
            (9, 5, 6, 6, 1, 1, 0),
            (2, 3, 2, 5, 3, 1, 0),
        ] {
            let var = |shape: &[usize]| {
                Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev).unwrap()).unwrap()
            };
            // A bias per channel, and one per image and channel (the odd cases).
            let per_image = n % 2 == 1;
            let bias_shape = if per_image { vec![n, o] } else { vec![o] };
            let (x, w, b) = (
                var(&[n, c, side, side]),
                var(&[o, c, k, k]),
                var(&bias_shape),
            );
            let ours = conv2d(&x, &w, &b, stride, pad).unwrap();
            let images = if per_image { n } else { 1 };
            let theirs = x
                .conv2d(&w, pad, stride, 1, 1)
                .unwrap()
                .broadcast_add(&b.reshape((images, o, 1, 1)).unwrap())
                .unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            let case = format!(
                "n {n} c {c} o {o} side {side} k {k} stride {stride} pad {pad} bias {bias_shape:?}"
            );
            assert!(max_diff(&ours, &theirs) < 1e-4, "value, {case}");
            let probe = Tensor::randn(0f32, 1.0, ours.dims(), &dev).unwrap();
            let grads = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let (g_ours, g_theirs) = (grads(&ours), grads(&theirs));
            for (name, v) in [("x", &x), ("w", &w), ("b", &b)] {
                let (a, e) = (g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
                let scale = e.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
                let scale = scale.to_scalar::<f32>().unwrap().max(1.0);
                assert!(max_diff(a, e) < 1e-5 * scale * 10.0, "∂{name}, {case}");
            }
        }
    }

    /// The weight gradient sums fixed groups of images in order: the same bits on one thread
    /// as on several.
    #[test]
    fn weight_gradient_does_not_depend_on_the_thread_count() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (21, 3, 8, 8), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap()).unwrap();
        let b =
            Var::from_tensor(&Tensor::zeros(4, candle_core::DType::F32, &dev).unwrap()).unwrap();
        let grad = || {
            let y = conv2d(&x, &w, &b, 1, 1).unwrap();
            let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            g.get(&w)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(one.install(grad), three.install(grad));
    }

    #[test]
    fn a_kernel_larger_than_the_padded_image_is_an_error() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((1, 1, 2, 2), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::zeros((1, 1, 5, 5), candle_core::DType::F32, &dev).unwrap();
        let b = Tensor::zeros(1, candle_core::DType::F32, &dev).unwrap();
        let e = conv2d(&x, &w, &b, 1, 1).unwrap_err().to_string();
        assert!(e.contains("padding 1"), "{e}");
        let bias = Tensor::zeros((2, 1), candle_core::DType::F32, &dev).unwrap();
        let w = Tensor::zeros((1, 1, 1, 1), candle_core::DType::F32, &dev).unwrap();
        let e = conv2d(&x, &w, &bias, 1, 0).unwrap_err().to_string();
        assert!(e.contains("bias of shape [2, 1]"), "{e}");
    }
}
