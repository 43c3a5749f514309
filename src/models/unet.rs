//! A small U-Net for square one-channel images (seed 002 §5.1), class-conditional with a null
//! label for classifier-free guidance (seed 002 §6):
//!
//! ```text
//! t ─ sinusoidal(t) → Linear → SiLU → Linear ─┐
//! y ─ Embedding(classes + 1) ─────────────────┴─ + ─→ e        (y = classes is ∅)
//!
//! x (B,1,s,s) → conv → Res(c; e) ─────────────────────────────── h₁ (c, s)
//!                         ↓ conv stride 2 → Res(2c; e) ───────── h₂ (2c, s/2)
//!                                  ↓ conv stride 2 → Res(2c; e)   (2c, s/4)  middle
//!                                  ↑ nearest ×2, concat h₂ → Res(2c; e)  (2c, s/2)
//!                         ↑ nearest ×2, concat h₁ → Res(c; e)          (c, s)
//!                                       → GroupNorm → SiLU → conv → ε̂ (B,1,s,s)
//! ```
//!
//! A residual block is `GroupNorm → SiLU → conv3×3 → + Linear(SiLU(e)) → GroupNorm → SiLU →
//! conv3×3`, plus its input (through a 1×1 conv where the channels change). The skip
//! connections (the concatenations) carry the full-resolution features past the bottleneck.
//! Unlike the seed's listing, the last up-block is not given the raw input: the first
//! convolution's features `h₁` are the full-resolution skip.
//!
//! States are flattened images (`n × s²`, row-major) everywhere outside this module, so the
//! samplers of chapter 4 run the network unchanged; [`UNet`] reshapes to `(B, 1, s, s)` inside.
//! The output is the noise prediction `ε̂` ([`Parameterisation::Epsilon`]).

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{
    conv2d, embedding, linear, Conv2d, Conv2dConfig, Embedding, Linear, VarBuilder, VarMap,
};
use ndarray::ArrayView2;

use super::conv;
use super::init::{initialise, Fill};
use super::kernels::silu;
use super::norm::GroupNormSilu;
use super::upsample::upsample_nearest;
use super::SinusoidalEmbedding;
use super::{DenoisingNet, Parameterisation};
use crate::error::invalid;
use crate::{Error, Result};

/// The architecture of a [`UNet`].
#[derive(Debug, Clone, PartialEq)]
pub struct UNetConfig {
    /// Pixels per side `s` (divisible by 4: two halvings).
    pub side: usize,
    /// Channels `c` at full resolution (`2c` below); a multiple of `groups`.
    pub channels: usize,
    /// Width of the time (and class) embedding `e`.
    pub embed_dim: usize,
    /// `Some(k)`: conditional on a label `y ∈ {0, …, k−1}` or the null label `∅` (index `k`),
    /// through a learned embedding added to the time embedding; `None`: unconditional (as
    /// [`super::ScoreNetConfig::classes`]).
    pub classes: Option<usize>,
    /// Groups of every GroupNorm.
    pub groups: usize,
}

impl UNetConfig {
    /// The 8×8 digits: `c = 16`, `e = 64`, 10 classes, 8 groups (≈ 114k parameters).
    pub fn digits() -> Self {
        Self {
            side: crate::data::digits::SIDE,
            channels: 16,
            embed_dim: 64,
            classes: Some(crate::data::digits::CLASSES),
            groups: 8,
        }
    }

    fn check(&self) -> Result<()> {
        if self.side == 0 || !self.side.is_multiple_of(4) {
            return invalid(
                "side",
                self.side,
                "must be a positive multiple of 4 (two halvings)",
            );
        }
        if self.groups == 0 || self.channels == 0 || !self.channels.is_multiple_of(self.groups) {
            return invalid(
                "channels",
                self.channels,
                format!("must be a positive multiple of groups = {}", self.groups),
            );
        }
        if self.classes == Some(0) {
            return invalid("classes", 0, "a conditional network needs ≥ 1 class");
        }
        if self.embed_dim < 2 || self.embed_dim % 2 == 1 {
            return invalid("embed_dim", self.embed_dim, "must be even and ≥ 2");
        }
        Ok(())
    }
}

const EPS_NORM: f64 = 1e-5;

/// A `k × k` convolution with a bias and `k / 2` zero padding, run by [`conv::conv2d`]
/// (one matrix product per image on the CPU, candle's `conv2d` elsewhere).
#[derive(Debug, Clone)]
struct Conv(Conv2d);

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.0.bias() {
            Some(b) => self.with_bias(x, b),
            None => self.0.forward(x),
        }
    }
}

impl Conv {
    /// The convolution with `bias` (per channel, or per image and channel) for its own.
    fn with_bias(&self, x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
        let c = self.0.config();
        conv::conv2d(x, self.0.weight(), bias, c.stride, c.padding)
    }

    /// The convolution plus a `shift` per image and output channel (`B × out`), added to
    /// the bias: one pass, not a broadcast sum over every pixel.
    fn shifted(&self, x: &Tensor, shift: &Tensor) -> candle_core::Result<Tensor> {
        match self.0.bias() {
            Some(b) => self.with_bias(x, &shift.broadcast_add(b)?),
            None => self.with_bias(x, shift),
        }
    }
}

fn conv(cin: usize, cout: usize, k: usize, stride: usize, vb: VarBuilder) -> Result<Conv> {
    let cfg = Conv2dConfig {
        padding: k / 2,
        stride,
        ..Conv2dConfig::default()
    };
    Ok(Conv(conv2d(cin, cout, k, cfg, vb)?))
}

/// A residual block conditioned on the embedding `e`.
#[derive(Debug, Clone)]
struct ResBlock {
    norm1: GroupNormSilu,
    conv1: Conv,
    emb: Linear,
    norm2: GroupNormSilu,
    conv2: Conv,
    skip: Option<Conv>,
}

impl ResBlock {
    fn new(cin: usize, cout: usize, c: &UNetConfig, vb: VarBuilder) -> Result<Self> {
        let g = |ch: usize| c.groups.min(ch);
        Ok(Self {
            norm1: GroupNormSilu::new(g(cin), cin, EPS_NORM, vb.pp("norm1"))?,
            conv1: conv(cin, cout, 3, 1, vb.pp("conv1"))?,
            emb: linear(c.embed_dim, cout, vb.pp("emb"))?,
            norm2: GroupNormSilu::new(g(cout), cout, EPS_NORM, vb.pp("norm2"))?,
            conv2: conv(cout, cout, 3, 1, vb.pp("conv2"))?,
            skip: (cin != cout)
                .then(|| conv(cin, cout, 1, 1, vb.pp("skip")))
                .transpose()?,
        })
    }

    fn forward(&self, x: &Tensor, e: &Tensor) -> candle_core::Result<Tensor> {
        let shift = self.emb.forward(&silu(e)?)?;
        let h = self.conv1.shifted(&self.norm1.forward(x)?, &shift)?;
        let h = self.conv2.forward(&self.norm2.forward(&h)?)?;
        match &self.skip {
            Some(s) => h + s.forward(x)?,
            None => h + x,
        }
    }
}

/// The U-Net of seed 002 §5.1 for `s × s` images, predicting `ε`; parameters in its own
/// [`VarMap`] (save/load with [`super::checkpoint`]).
pub struct UNet {
    config: UNetConfig,
    varmap: VarMap,
    device: Device,
    time: SinusoidalEmbedding,
    time_mlp: (Linear, Linear),
    class_emb: Option<Embedding>,
    conv_in: Conv,
    res_full: ResBlock,
    down1: Conv,
    res_half: ResBlock,
    down2: Conv,
    middle: ResBlock,
    up_half: ResBlock,
    up_full: ResBlock,
    norm_out: GroupNormSilu,
    conv_out: Conv,
}

impl UNet {
    /// A U-Net with `config` on `device`, initialised from `seed` (PyTorch's defaults: fan-in
    /// uniform for convolutions and linear layers, `N(0, 1)` for the class table as for
    /// [`super::ScoreNet`]'s; GroupNorm scale 1, shift 0).
    pub fn new(config: UNetConfig, device: &Device, seed: u64) -> Result<Self> {
        config.check()?;
        if device.is_cpu() {
            super::device::keep_freed_buffers();
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let (c, e) = (config.channels, config.embed_dim);
        let net = Self {
            time: SinusoidalEmbedding::new(e, 10_000.0, 1000.0, device)?,
            time_mlp: (
                linear(e, e, vb.pp("time.0"))?,
                linear(e, e, vb.pp("time.1"))?,
            ),
            class_emb: config
                .classes
                .map(|k| embedding(k + 1, e, vb.pp("class")))
                .transpose()?,
            conv_in: conv(1, c, 3, 1, vb.pp("conv_in"))?,
            res_full: ResBlock::new(c, c, &config, vb.pp("down.0"))?,
            down1: conv(c, 2 * c, 3, 2, vb.pp("down.0.pool"))?,
            res_half: ResBlock::new(2 * c, 2 * c, &config, vb.pp("down.1"))?,
            down2: conv(2 * c, 2 * c, 3, 2, vb.pp("down.1.pool"))?,
            middle: ResBlock::new(2 * c, 2 * c, &config, vb.pp("middle"))?,
            up_half: ResBlock::new(4 * c, 2 * c, &config, vb.pp("up.1"))?,
            up_full: ResBlock::new(3 * c, c, &config, vb.pp("up.0"))?,
            norm_out: GroupNormSilu::new(config.groups, c, EPS_NORM, vb.pp("out.norm"))?,
            conv_out: conv(c, 1, 3, 1, vb.pp("out.conv"))?,
            config,
            varmap,
            device: device.clone(),
        };
        initialise(&net.varmap, device, seed, |name| {
            let norm = name.contains("norm");
            match name {
                "class.weight" => Some(Fill::Normal(1.0)),
                _ if norm && name.ends_with(".weight") => Some(Fill::Const(1.0)),
                _ if norm && name.ends_with(".bias") => Some(Fill::Const(0.0)),
                _ => None,
            }
        })?;
        Ok(net)
    }

    /// The architecture.
    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    /// Saves the parameters to `path` (safetensors); see [`super::checkpoint::save`].
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        super::checkpoint::save(&self.varmap, path)
    }

    /// Loads parameters from `path`, leaving the network unchanged on any mismatch.
    pub fn load(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        super::checkpoint::load(&self.varmap, path)
    }

    /// The output `ε̂` for images `x` (`B × 1 × s × s`), times `t` (`B × 1`) and labels
    /// (`B`, `u32`; `classes` is `∅`; `None`: all `∅`).
    pub fn forward_images(
        &self,
        x: &Tensor,
        t: &Tensor,
        labels: Option<&Tensor>,
    ) -> Result<Tensor> {
        let b = x.dim(0)?;
        let temb = self.time.forward(t)?;
        let mut e = self
            .time_mlp
            .1
            .forward(&silu(&self.time_mlp.0.forward(&temb)?)?)?;
        if let (Some(table), Some(k)) = (&self.class_emb, self.config.classes) {
            let y = match labels {
                Some(y) => y.clone(),
                None => Tensor::full(k as u32, b, &self.device)?,
            };
            e = (e + table.forward(&y)?)?;
        } else if labels.is_some() {
            return invalid(
                "labels",
                "Some(…)",
                "this U-Net is unconditional: pass no labels",
            );
        }
        let h1 = self.res_full.forward(&self.conv_in.forward(x)?, &e)?;
        let h2 = self.res_half.forward(&self.down1.forward(&h1)?, &e)?;
        let m = self.middle.forward(&self.down2.forward(&h2)?, &e)?;
        let u = Tensor::cat(&[&upsample_nearest(&m, 2)?, &h2], 1)?;
        let u = self.up_half.forward(&u, &e)?;
        let u = Tensor::cat(&[&upsample_nearest(&u, 2)?, &h1], 1)?;
        let u = self.up_full.forward(&u, &e)?;
        Ok(self.conv_out.forward(&self.norm_out.forward(&u)?)?)
    }
}

impl DenoisingNet for UNet {
    fn dim(&self) -> usize {
        self.config.side * self.config.side
    }

    fn classes(&self) -> Option<usize> {
        self.config.classes
    }

    fn parameterisation(&self) -> Parameterisation {
        Parameterisation::Epsilon
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    fn trainable_vars(&self) -> Vec<Var> {
        let vars = self.varmap.data().lock().expect("var map lock");
        let mut named: Vec<(&String, &Var)> = vars.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// Flattened `n × s²` states in, flattened `n × s²` outputs out.
    fn forward_labelled(&self, x: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        let (n, d) = x.dims2()?;
        let s = self.config.side;
        if d != s * s {
            return Err(Error::Shape(format!(
                "the U-Net takes {s}×{s} = {} pixels per image, got {d}",
                s * s
            )));
        }
        let out = self.forward_images(&x.reshape((n, 1, s, s))?, t, labels)?;
        Ok(out.reshape((n, d))?)
    }

    fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        let s = self.config.side;
        if x.ncols() != s * s {
            return Err(Error::Shape(format!(
                "the U-Net takes {s}×{s} images flattened to {} columns, the batch has {} ({} rows)",
                s * s,
                x.ncols(),
                x.nrows()
            )));
        }
        Ok(())
    }

    /// Images scaled to `[−1, 1]` (the range the prior `N(0, I)` is matched to).
    fn check_data(&self, x0: ArrayView2<f64>) -> Result<()> {
        self.check_input(x0)?;
        if let Some(v) = x0.iter().find(|v| !(-1.0..=1.0).contains(*v)) {
            return invalid(
                "pixel",
                v,
                "training images must be scaled to [−1, 1] (e.g. data::digits::load)",
            );
        }
        Ok(())
    }
}
