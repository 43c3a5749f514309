//! GroupNorm followed by SiLU, the U-Net's `GroupNorm → SiLU` pair (seed 002 §5.1), fused on
//! the CPU (issue 21).
//!
//! For an image's group `g` of channels (`L` values: its channels × pixels),
//! `x̂ = (x − μ_g) / √(σ²_g + ε)` with the group's mean and biased variance, then per channel
//! `z = γ_c x̂ + β_c` and `y = z · sigmoid(z)`. The backward pass, with `∂z = ∂y · silu′(z)`:
//!
//! ```text
//! ∂β_c = Σ ∂z,   ∂γ_c = Σ ∂z x̂            (over images and pixels)
//! ∂x   = (∂x̂ − mean_g(∂x̂) − x̂ · mean_g(∂x̂ x̂)) / √(σ²_g + ε),   ∂x̂ = γ_c ∂z
//! ```
//!
//! Why (perf on `examples/digits.rs --bench`, README *What bounds the targets not met*):
//! candle-nn's `GroupNorm` is ten whole-tensor operations, each a fresh allocation, and its
//! backward sums `γ`'s and `β`'s gradients over the batch and pixel dimensions with candle's
//! slow reduction over non-trailing dimensions. Here the forward pass is two passes per image
//! (statistics, then `y`), the backward pass two more, and the per-channel sums are taken per
//! image and added in image order, so the result does not depend on the number of threads.
//! On a CUDA device or for a `dtype` other than `f32` it is candle-nn's `GroupNorm` and
//! candle's `silu`; the tests check both paths agree in value and in all three gradients.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Module, Shape, Tensor};
use candle_nn::{GroupNorm, Init, VarBuilder};
use rayon::prelude::*;

use super::kernels::{fused, silu, silu_chunk, silu_grad_chunk, slice};

/// `silu(GroupNorm(x))` for `x` of shape `n × c × …`, with a scale `γ` and shift `β` per
/// channel (parameters `weight` and `bias`, as candle-nn's `GroupNorm` names them).
#[derive(Debug, Clone)]
pub struct GroupNormSilu {
    weight: Tensor,
    bias: Tensor,
    groups: usize,
    eps: f64,
}

impl GroupNormSilu {
    /// `channels` in `groups` groups, `γ = 1`, `β = 0` (as `candle_nn::group_norm`).
    pub fn new(
        groups: usize,
        channels: usize,
        eps: f64,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let weight = vb.get_with_hints(channels, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(channels, "bias", Init::Const(0.0))?;
        // candle-nn's constructor checks that the groups divide the channels.
        GroupNorm::new(weight.clone(), bias.clone(), channels, groups, eps)?;
        Ok(Self {
            weight,
            bias,
            groups,
            eps,
        })
    }

    /// The statistics' layout for input `x`: images, groups, channels per group, pixels.
    fn groups_of(&self, x: &Shape) -> candle_core::Result<Groups> {
        let dims = x.dims();
        let c = self.weight.dim(0)?;
        match dims {
            [n, ch, rest @ ..] if *ch == c && !rest.is_empty() => Ok(Groups {
                n: *n,
                groups: self.groups,
                per_group: c / self.groups,
                pixels: rest.iter().product(),
                eps: self.eps as f32,
            }),
            _ => Err(candle_core::Error::Msg(format!(
                "GroupNorm over {c} channels: input of shape {x:?}"
            ))),
        }
    }
}

impl Module for GroupNormSilu {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if fused(x) {
            let g = self.groups_of(x.shape())?;
            x.contiguous()?
                .apply_op3(&self.weight, &self.bias, Forward(g))
        } else {
            let c = self.weight.dim(0)?;
            let norm = GroupNorm::new(
                self.weight.clone(),
                self.bias.clone(),
                c,
                self.groups,
                self.eps,
            )?;
            silu(&norm.forward(x)?)
        }
    }
}

/// The sizes of one GroupNorm: `n` images of `groups · per_group` channels of `pixels`.
#[derive(Clone, Copy, Debug)]
struct Groups {
    n: usize,
    groups: usize,
    per_group: usize,
    pixels: usize,
    eps: f32,
}

impl Groups {
    /// Values per image.
    fn image(&self) -> usize {
        self.groups * self.per_group * self.pixels
    }

    /// Values per group, `L`.
    fn len(&self) -> usize {
        self.per_group * self.pixels
    }

    /// `(μ, 1/√(σ² + ε))` of each group of one image, the variance about the mean.
    fn statistics(&self, x: &[f32]) -> Vec<(f32, f32)> {
        x.chunks_exact(self.len())
            .map(|group| {
                let mean = sum(group, group, |v, _| v) / self.len() as f32;
                let var = sum(group, group, |v, _| (v - mean) * (v - mean)) / self.len() as f32;
                (mean, 1.0 / (var + self.eps).sqrt())
            })
            .collect()
    }

    /// `z = γ_c x̂ + β_c` of one image into `z`, with its statistics.
    fn normalise(
        &self,
        x: &[f32],
        stats: &[(f32, f32)],
        gamma: &[f32],
        beta: &[f32],
        z: &mut [f32],
    ) {
        for (c, (z, x)) in z
            .chunks_exact_mut(self.pixels)
            .zip(x.chunks_exact(self.pixels))
            .enumerate()
        {
            let (mean, rstd) = stats[c / self.per_group];
            let scale = gamma[c] * rstd;
            z.iter_mut()
                .zip(x)
                .for_each(|(z, &x)| *z = (x - mean) * scale + beta[c]);
        }
    }

    /// The backward pass for one image: `∂x` into `dx` (with `z` as scratch), and returns the
    /// image's `[Σ ∂z x̂, Σ ∂z]` per channel (`∂γ`'s and `∂β`'s shares).
    fn image_gradients(
        &self,
        x: &[f32],
        dy: &[f32],
        gamma: &[f32],
        beta: &[f32],
        z: &mut [f32],
        dx: &mut [f32],
    ) -> Vec<f32> {
        let c = self.groups * self.per_group;
        let stats = self.statistics(x);
        self.normalise(x, &stats, gamma, beta, z);
        silu_grad_chunk(z, dy, dx); // ∂z, overwritten by ∂x below
        let mut sums = vec![0f32; 2 * c];
        for (ch, (dz, x)) in dx
            .chunks_exact(self.pixels)
            .zip(x.chunks_exact(self.pixels))
            .enumerate()
        {
            let (mean, rstd) = stats[ch / self.per_group];
            sums[ch] = sum(dz, x, |d, x| d * (x - mean) * rstd);
            sums[c + ch] = sum(dz, dz, |d, _| d);
        }
        let per_value = 1.0 / self.len() as f32;
        for (group, &(mean, rstd)) in stats.iter().enumerate() {
            let channels = group * self.per_group..(group + 1) * self.per_group;
            // mean_g(∂x̂) and mean_g(∂x̂ x̂), with ∂x̂ = γ_c ∂z.
            let mean_of = |offset: usize| {
                channels
                    .clone()
                    .map(|ch| gamma[ch] * sums[offset + ch])
                    .sum::<f32>()
                    * per_value
            };
            let (mean_dxhat, mean_dxhat_xhat) = (mean_of(c), mean_of(0));
            for ch in channels {
                let span = ch * self.pixels..(ch + 1) * self.pixels;
                for (d, &x) in dx[span.clone()].iter_mut().zip(&x[span]) {
                    let xhat = (x - mean) * rstd;
                    *d = rstd * (gamma[ch] * *d - mean_dxhat - xhat * mean_dxhat_xhat);
                }
            }
        }
        sums
    }
}

/// `Σᵢ f(aᵢ, bᵢ)` in eight interleaved lanes (so that it vectorises), added up in a fixed order.
#[inline(always)]
fn sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(&a, &b)| f(a, b))
        .sum();
    for (a, b) in a8.zip(b8) {
        for k in 0..8 {
            lanes[k] += f(a[k], b[k]);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// The forward pass: `(x, γ, β) ↦ y`.
struct Forward(Groups);

impl CustomOp3 for Forward {
    fn name(&self) -> &'static str {
        "fused-group-norm-silu"
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
        let g = self.0;
        let (x, gamma, beta) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(g.image())
            .zip(x.par_chunks(g.image()))
            .for_each_init(
                || vec![0f32; g.image()],
                |z, (y, x)| {
                    g.normalise(x, &g.statistics(x), gamma, beta, z);
                    silu_chunk(z, y);
                },
            );
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = self.0;
        let params = Tensor::cat(&[gamma, beta], 0)?.to_vec1::<f32>()?;
        let grads = x.apply_op2_no_bwd(&dy.contiguous()?, &Backward(g, params))?;
        let c = g.groups * g.per_group;
        let values = g.n * g.image();
        Ok((
            Some(grads.narrow(0, 0, values)?.reshape(x.shape())?),
            Some(grads.narrow(0, values, c)?),
            Some(grads.narrow(0, values + c, c)?),
        ))
    }
}

/// The backward pass: `(x, ∂y) ↦ [∂x, ∂γ, ∂β]` flattened into one vector; holds `[γ, β]`.
struct Backward(Groups, Vec<f32>);

impl CustomOp2 for Backward {
    fn name(&self) -> &'static str {
        "fused-group-norm-silu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = self.0;
        let c = g.groups * g.per_group;
        let (gamma, beta) = self.1.split_at(c);
        let (x, dy) = (slice(s1, l1)?, slice(s2, l2)?);
        let mut out = vec![0f32; x.len() + 2 * c];
        let (dx, param_grads) = out.split_at_mut(x.len());
        // Per image: ∂x, and Σ ∂z x̂ and Σ ∂z per channel (added up over images below).
        let partials: Vec<Vec<f32>> = dx
            .par_chunks_mut(g.image())
            .zip(x.par_chunks(g.image()).zip(dy.par_chunks(g.image())))
            .map_init(
                || vec![0f32; g.image()],
                |z, (dx, (x, dy))| g.image_gradients(x, dy, gamma, beta, z, dx),
            )
            .collect();
        for p in &partials {
            param_grads.iter_mut().zip(p).for_each(|(s, v)| *s += v);
        }
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    /// A `GroupNormSilu` with `γ = 1`, `β = 0` in a var map of its own.
    fn fresh(groups: usize, channels: usize) -> (GroupNormSilu, VarMap) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        (
            GroupNormSilu::new(groups, channels, 1e-5, vb).unwrap(),
            varmap,
        )
    }

    /// `centre + scale · N(0, 1)` entries drawn from `rng` (candle's `randn` is unseeded).
    fn normal(shape: &[usize], centre: f64, scale: f64, rng: &mut crate::rng::Rng) -> Tensor {
        let count = shape.iter().product();
        let values = crate::rng::normals(rng, 1, count).mapv(|v| centre + scale * v);
        crate::models::to_tensor(values.view(), &Device::Cpu)
            .unwrap()
            .reshape(shape)
            .unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Values and the gradients of `x`, `γ` and `β` against candle-nn's `GroupNorm` and candle's
    /// `silu`, for the U-Net's shapes (one and several channels per group) and an odd one.
    #[test]
    fn fused_group_norm_silu_matches_candles_in_value_and_gradient() {
        let mut rng = crate::rng::seeded(1);
        for (n, c, groups, side) in [
            (5, 16, 8, 8),
            (3, 48, 8, 8),
            (4, 32, 8, 2),
            (2, 6, 3, 3),
            (3, 4, 4, 1),
        ] {
            let (ours, varmap) = fresh(groups, c);
            // Scales and shifts away from 1 and 0, so that their gradients are exercised.
            let vars = varmap.data().lock().unwrap();
            for (name, centre) in [("weight", 1.0), ("bias", 0.0)] {
                vars[name]
                    .set(&normal(&[c], centre, 0.5, &mut rng))
                    .unwrap();
            }
            let x = Var::from_tensor(&normal(&[n, c, side, side], 0.7, 2.0, &mut rng)).unwrap();
            let theirs =
                GroupNorm::new(ours.weight.clone(), ours.bias.clone(), c, groups, 1e-5).unwrap();
            let (y, want) = (
                ours.forward(&x).unwrap(),
                theirs.forward(&x).unwrap().silu().unwrap(),
            );
            let case = format!("n {n} c {c} groups {groups} side {side}");
            assert!(max_diff(&y, &want) < 1e-5, "value, {case}");
            let probe = normal(y.dims(), 0.0, 1.0, &mut rng);
            let grads = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let (g_ours, g_theirs) = (grads(&y), grads(&want));
            for (name, v) in [("x", x.as_tensor()), ("γ", &ours.weight), ("β", &ours.bias)] {
                let (a, e) = (g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
                let scale = e.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
                let scale = scale.to_scalar::<f32>().unwrap().max(1.0);
                assert!(
                    max_diff(a, e) < 2e-5 * scale,
                    "∂{name}, {case}: {}",
                    max_diff(a, e)
                );
            }
        }
    }

    /// The scale's and shift's gradients add per-image sums in image order: the same bits on
    /// one thread as on several.
    #[test]
    fn parameter_gradients_do_not_depend_on_the_thread_count() {
        let (norm, _) = fresh(4, 8);
        let x = normal(&[13, 8, 4, 4], 0.0, 1.0, &mut crate::rng::seeded(2));
        let grad = || {
            let g = norm
                .forward(&x)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            [&norm.weight, &norm.bias].map(|p| g.get(p).unwrap().to_vec1::<f32>().unwrap())
        };
        let pool = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
        };
        assert_eq!(pool(1).install(grad), pool(3).install(grad));
    }

    #[test]
    fn a_mismatched_channel_count_is_an_error() {
        let dev = Device::Cpu;
        let (norm, varmap) = fresh(2, 4);
        let e = norm
            .forward(&Tensor::zeros((1, 6, 2, 2), DType::F32, &dev).unwrap())
            .unwrap_err();
        assert!(
            e.to_string().contains("4 channels") && e.to_string().contains("6"),
            "{e}"
        );
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        assert!(GroupNormSilu::new(3, 4, 1e-5, vb.pp("other")).is_err());
    }
}
