//! Seed 002 §5.1's U-Net listing in candle, with its channel plan as printed and as the forward
//! pass needs it.
//!
//! The listing declares `DownBlock(in, 64)`, `DownBlock(64, 128)`, `DownBlock(128, 256)`,
//! `MidBlock(256)` and `UpBlock(256 + 128, 128)`, `UpBlock(128 + 64, 64)`,
//! `UpBlock(64 + in, in)`; its `forward` appends every down block's *output* to `skips` and
//! feeds up block `k` with `cat([x, skips.pop()])`. The pops return the outputs of the down
//! blocks 3, 2, 1 — 256, 128 and 64 channels — so the up blocks receive 256 + 256, 128 + 128 and
//! 64 + 64 channels: the declarations pair each up block with the skip one level shallower, as
//! if the input had been pushed first (`64 + in`), which the loop never does. candle's
//! convolution refuses the first up block's 512 channels where 384 were declared.
//!
//! The listing leaves the blocks undefined; here `DownBlock(c_in, c_out)` is a stride-2 3×3
//! convolution, `MidBlock(c)` a 3×3 convolution, `UpBlock(c_in, c_out)` a 3×3 convolution then a
//! nearest ×2 upsampling, each adding `Linear(t_emb)` per channel before a SiLU (the last up
//! block outputs the prediction, no SiLU). With these the pops are at the right resolutions,
//! so the channels are the only defect: [`SkipPlan::Corrected`] declares
//! `UpBlock(256 + 256, 128)`, `UpBlock(128 + 128, 64)`, `UpBlock(64 + 64, in)`.
//! The workbook's own network is [`super::UNet`].

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{conv2d, linear, Conv2d, Conv2dConfig, Linear, VarBuilder, VarMap};

use super::kernels::silu;
use super::SinusoidalEmbedding;
use crate::error::invalid;
use crate::Result;

/// Channels of the three down blocks' outputs.
const DOWN: [usize; 3] = [64, 128, 256];
/// The time embedding's width (`time_emb_dim=256`).
const TIME_DIM: usize = 256;

/// The up blocks' declared input channels: as the seed prints them, or what the forward pass
/// concatenates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipPlan {
    /// `256 + 128`, `128 + 64`, `64 + in`.
    AsWritten,
    /// `256 + 256`, `128 + 128`, `64 + 64`.
    Corrected,
}

/// One row per up block: `(block, declared input channels, channels the forward pass feeds it)`.
pub fn channel_plan(plan: SkipPlan, in_channels: usize) -> Vec<(String, usize, usize)> {
    let up_out = [DOWN[1], DOWN[0], in_channels];
    let mut x = DOWN[2]; // the middle block's output
    (0..3)
        .map(|k| {
            let popped = DOWN[2 - k];
            let declared = match plan {
                SkipPlan::AsWritten => x + if k < 2 { DOWN[1 - k] } else { in_channels },
                SkipPlan::Corrected => x + popped,
            };
            let row = (format!("up[{k}] = UpBlock({declared}, {})", up_out[k]), declared, x + popped);
            x = up_out[k];
            row
        })
        .collect()
}

/// A block: 3×3 convolution (`stride`), `+ Linear(t_emb)`, SiLU unless it is the output, then
/// nearest ×2 if it goes up.
struct Block {
    conv: Conv2d,
    time: Linear,
    up: bool,
    activate: bool,
}

impl Block {
    fn new(cin: usize, cout: usize, stride: usize, up: bool, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv2dConfig { padding: 1, stride, ..Conv2dConfig::default() };
        Ok(Self {
            conv: conv2d(cin, cout, 3, cfg, vb.pp("conv"))?,
            time: linear(TIME_DIM, cout, vb.pp("time"))?,
            up,
            activate: true,
        })
    }

    fn forward(&self, x: &Tensor, t_emb: &Tensor) -> Result<Tensor> {
        let shift = self.time.forward(t_emb)?.unsqueeze(2)?.unsqueeze(3)?;
        let mut h = self.conv.forward(x)?.broadcast_add(&shift)?;
        if self.activate {
            h = silu(&h)?;
        }
        if self.up {
            let (_, _, hh, ww) = h.dims4()?;
            h = h.upsample_nearest2d(2 * hh, 2 * ww)?;
        }
        Ok(h)
    }
}

/// The listing's `UNet(in_channels)` with a [`SkipPlan`] (randomly initialised; only shapes
/// are at stake).
pub struct SeedUNet {
    in_channels: usize,
    time: SinusoidalEmbedding,
    time_mlp: (Linear, Linear),
    down: Vec<Block>,
    mid: Block,
    up: Vec<Block>,
}

impl SeedUNet {
    /// The network for `in_channels`-channel images on `device`.
    pub fn new(in_channels: usize, plan: SkipPlan, device: &Device) -> Result<Self> {
        if in_channels == 0 {
            return invalid("in_channels", in_channels, "must be at least 1");
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let ins = [in_channels, DOWN[0], DOWN[1]];
        let down = (0..3)
            .map(|k| Block::new(ins[k], DOWN[k], 2, false, vb.pp(format!("down.{k}"))))
            .collect::<Result<_>>()?;
        let rows = channel_plan(plan, in_channels);
        let up_out = [DOWN[1], DOWN[0], in_channels];
        let mut up: Vec<Block> = (0..3)
            .map(|k| Block::new(rows[k].1, up_out[k], 1, true, vb.pp(format!("up.{k}"))))
            .collect::<Result<_>>()?;
        up[2].activate = false;
        Ok(Self {
            in_channels,
            time: SinusoidalEmbedding::new(TIME_DIM, 10_000.0, 1000.0, device)?,
            time_mlp: (linear(TIME_DIM, TIME_DIM, vb.pp("time.0"))?, linear(TIME_DIM, TIME_DIM, vb.pp("time.1"))?),
            down,
            mid: Block::new(DOWN[2], DOWN[2], 1, false, vb.pp("mid"))?,
            up,
        })
    }

    /// The listing's `forward(x, t)` for images `x` (`B × in × s × s`, `s` divisible by 8) and
    /// times `t` (`B × 1`): candle's error where the channels do not add up.
    pub fn forward(&self, x: &Tensor, t: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if c != self.in_channels || !h.is_multiple_of(8) || !w.is_multiple_of(8) {
            return invalid("x", format!("{:?}", x.dims()), format!("need B × {} × s × s with s divisible by 8", self.in_channels));
        }
        let t_emb = self.time_mlp.1.forward(&self.time_mlp.0.forward(&self.time.forward(t)?)?.gelu()?)?;
        let mut x = x.clone();
        let mut skips = Vec::new();
        for block in &self.down {
            x = block.forward(&x, &t_emb)?;
            skips.push(x.clone());
        }
        x = self.mid.forward(&x, &t_emb)?;
        for block in &self.up {
            let skip = skips.pop().expect("three down blocks, three up blocks");
            x = block.forward(&Tensor::cat(&[&x, &skip], 1)?, &t_emb)?;
        }
        Ok(x)
    }
}
