//! Learned models in candle: CPU by default, CUDA with `--features cuda`, same code.
//!
//! - [`DenoisingNet`]: what DSM trains and the samplers run — `(x, t[, y]) ↦ output`, labels
//!   `Some(y)` or the null label `None` (`∅`, index `classes` inside a label tensor);
//! - [`Mlp`]: the SiLU multilayer perceptron;
//! - [`embeddings`]: time embeddings as candle modules (sinusoidal, random Fourier, learned;
//!   seed 000 §3.6.2);
//! - [`ScoreNet`]: a time-conditioned MLP with a choice of time embedding and
//!   parameterisation (low-dimensional data), optionally class-conditional;
//! - [`UNet`]: a small class-conditional U-Net for 8×8 images (seed 002 §5.1);
//! - [`seed_unet`]: seed 002 §5.1's U-Net listing, its channel plan as printed and corrected;
//! - [`LearnedScore`]: any [`DenoisingNet`] as a [`crate::sde_basics::Score`] and, with labels,
//!   a [`crate::sde_basics::ConditionalScore`] (classifier-free guidance, seed 002 §6,
//!   both halves in one batched pass);
//! - [`TimeClassifier`]: a classifier of noisy data `p(y | x_t, t)` for classifier guidance;
//! - [`checkpoint`]: safetensors save/load with shape checks;
//! - `norm`, `upsample`: the U-Net's `GroupNorm → SiLU` and nearest ×2 upsampling on the
//!   CPU, each with its own backward;
//! - [`kernels`]: fused CPU kernels for the layers' affine maps and SiLU (candle's ops on
//!   other devices), and [`keep_freed_buffers`], the allocator setting they rely on;
//! - [`Adam`]: the training loop's optimiser, candle-nn's `AdamW` fused into one in-place
//!   pass per variable on the CPU (same numbers), stepping from candle's gradients or from
//!   [`Gradients`] a network computed itself;
//! - `backprop`: the SiLU MLP's backward pass by hand, how [`ScoreNet`] trains on the CPU
//!   (candle's gradients, bit for bit, without its graph).

mod adam;
mod backprop;
pub mod checkpoint;
mod classifier;
pub mod conv;
mod convert;
mod denoiser;
mod device;
pub mod embeddings;
pub(crate) mod init;
pub mod kernels;
mod mlp;
mod norm;
pub mod seed_unet;
mod score_net;
mod unet;
mod upsample;

pub use adam::{Adam, Gradients};
pub use classifier::TimeClassifier;
pub use convert::{to_array, to_tensor};
pub use denoiser::{weighted_mse, DenoisingNet, LearnedScore};
pub use device::{describe, device, keep_freed_buffers};
pub use embeddings::{LearnedEmbedding, RandomFourierEmbedding, SinusoidalEmbedding};
pub use mlp::Mlp;
pub use score_net::{Parameterisation, ScoreNet, ScoreNetConfig, TimeEmbedding};
pub use unet::{UNet, UNetConfig};

impl ScoreNet {
    /// Saves the parameters to `path` (safetensors); see [`checkpoint::save`].
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()> {
        checkpoint::save(self.varmap(), path)
    }

    /// Loads parameters from `path`, leaving the network unchanged on any mismatch; see
    /// [`checkpoint::load`].
    pub fn load(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()> {
        checkpoint::load(self.varmap(), path)
    }
}
