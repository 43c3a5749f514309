//! Time embeddings for score networks `s_θ(x, t) = Network(x, TimeEmbedding(t))`
//! (seed 000 §3.6.2), as candle modules — the one set of embeddings of the crate ([`super::ScoreNet`],
//! [`super::UNet`], and chapter 3's figures): a batch of times `t` (`n × 1`, `f32`) in, `n × dim` out.
//!
//! - [`SinusoidalEmbedding`]: the Transformer/DDPM encoding `[sin(ω_k t), cos(ω_k t)]` with
//!   geometric frequencies `ω_k = scale · max_period^{−k/(dim/2)}`;
//! - [`RandomFourierEmbedding`]: `[sin(2π w_k t), cos(2π w_k t)]` with fixed random
//!   `w_k ~ N(0, scale²)` (Gaussian Fourier features, Song et al. 2021 for VE);
//! - [`LearnedEmbedding`]: a learned vector per level of an `L`-level grid on `[0, 1]`
//!   (the `nn.Embedding` of discrete-time models), linearly interpolated between levels.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::error::{invalid, positive};
use crate::rng;
use crate::Result;

fn check_dim(dim: usize) -> Result<usize> {
    if dim == 0 || dim % 2 == 1 {
        return invalid("dim", dim, "must be even and ≥ 2 (sin/cos pairs)");
    }
    Ok(dim / 2)
}

fn check_times(t: &Tensor) -> candle_core::Result<()> {
    match t.dims() {
        [_, 1] => Ok(()),
        other => candle_core::bail!("time embeddings take times of shape (n, 1), got {other:?}"),
    }
}

/// `[sin(ω t), cos(ω t)]` for a row of frequencies `ω` (`1 × dim/2`).
fn sin_cos(t: &Tensor, omega: &Tensor) -> candle_core::Result<Tensor> {
    check_times(t)?;
    let arg = t.to_dtype(DType::F32)?.broadcast_mul(omega)?;
    Tensor::cat(&[arg.sin()?, arg.cos()?], 1)
}

/// Sinusoidal embedding with geometric frequencies (Vaswani et al. 2017; Ho et al. 2020).
#[derive(Debug, Clone)]
pub struct SinusoidalEmbedding {
    omega: Tensor,
}

impl SinusoidalEmbedding {
    /// `dim` outputs (even), frequencies `scale · max_period^{−k/(dim/2)}`, `k = 0 … dim/2 − 1`.
    /// For `t ∈ [0, 1]`, `scale = 1000` reproduces DDPM's embedding of the step index.
    pub fn new(dim: usize, max_period: f64, scale: f64, device: &Device) -> Result<Self> {
        let half = check_dim(dim)?;
        positive("scale", scale)?;
        if !(max_period.is_finite() && max_period > 1.0) {
            return invalid("max_period", max_period, "must be finite and > 1");
        }
        let omega: Vec<f32> = (0..half)
            .map(|k| (scale * (-max_period.ln() * k as f64 / half as f64).exp()) as f32)
            .collect();
        Ok(Self {
            omega: Tensor::from_vec(omega, (1, half), device)?,
        })
    }
}

impl Module for SinusoidalEmbedding {
    fn forward(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        sin_cos(t, &self.omega)
    }
}

/// Random Fourier features of `t` with fixed Gaussian frequencies (Tancik et al. 2020; Song et
/// al. 2021's Gaussian Fourier projection): `[sin 2π b t, cos 2π b t]`, `b_k ~ N(0, scale²)`.
/// `⟨φ(t), φ(t')⟩ / (dim/2) = mean_k cos(2π b_k (t − t')) ≈ exp(−2π² scale² (t − t')²)`.
#[derive(Debug, Clone)]
pub struct RandomFourierEmbedding {
    /// The frequencies `b` (`1 × dim/2`), kept fixed.
    b: Tensor,
}

impl RandomFourierEmbedding {
    /// `dim` outputs (even), `b_k ~ N(0, scale²)` drawn from `seed` (not trained).
    pub fn new(dim: usize, scale: f64, seed: u64, device: &Device) -> Result<Self> {
        let half = check_dim(dim)?;
        positive("scale", scale)?;
        let b = rng::normals(&mut rng::seeded(seed), 1, half);
        let b: Vec<f32> = b.iter().map(|v| (scale * v) as f32).collect();
        Ok(Self {
            b: Tensor::from_vec(b, (1, half), device)?,
        })
    }

    /// With given frequencies `b` (`1 × dim/2`), e.g. a network's saved variable: read at every
    /// call, so loading a checkpoint into the variable changes the embedding.
    pub fn from_frequencies(b: Tensor) -> Self {
        Self { b }
    }
}

impl Module for RandomFourierEmbedding {
    fn forward(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        check_times(t)?;
        let arg = (t.broadcast_mul(&self.b)? * (2.0 * std::f64::consts::PI))?;
        Tensor::cat(&[arg.sin()?, arg.cos()?], 1)
    }
}

/// A learned embedding: one trainable vector `E_j` per level `t_j = j/(L − 1)`, and
/// `(1 − λ) E_j + λ E_{j+1}` between two levels. At the levels it is exactly the lookup table
/// of discrete-time models.
#[derive(Debug, Clone)]
pub struct LearnedEmbedding {
    table: Tensor,
    levels: usize,
}

impl LearnedEmbedding {
    /// `levels ≥ 2` vectors of size `dim`, initialised `N(0, 1)`, stored under `vb` as `table`.
    pub fn new(vb: VarBuilder, levels: usize, dim: usize) -> Result<Self> {
        if levels < 2 {
            return invalid("levels", levels, "need at least two levels to interpolate");
        }
        if dim == 0 {
            return invalid("dim", dim, "must be ≥ 1");
        }
        let table = vb.get_with_hints(
            (levels, dim),
            "table",
            Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        )?;
        Ok(Self { table, levels })
    }

    /// The learned vectors, `levels × dim`.
    pub fn table(&self) -> &Tensor {
        &self.table
    }
}

impl Module for LearnedEmbedding {
    fn forward(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        check_times(t)?;
        let last = (self.levels - 1) as f64;
        let pos = t
            .to_dtype(DType::F32)?
            .affine(last, 0.0)?
            .clamp(0.0f32, last as f32)?;
        let lower = pos.floor()?.clamp(0.0f32, (last - 1.0) as f32)?;
        let frac = (&pos - &lower)?;
        let index = |v: &Tensor| v.to_dtype(DType::U32)?.flatten_all();
        let below = self.table.index_select(&index(&lower)?, 0)?;
        let above = self.table.index_select(&index(&(&lower + 1.0)?)?, 0)?;
        below.broadcast_mul(&frac.affine(-1.0, 1.0)?)? + above.broadcast_mul(&frac)?
    }
}
