//! Learned models in candle: CPU by default, CUDA with `--features cuda`, same code.
//!
//! - [`DenoisingNet`]: what DSM trains and the samplers run — `(x, t[, y]) ↦ output`;
//! - [`Mlp`]: the SiLU multilayer perceptron;
//! - [`ScoreNet`]: a time-conditioned MLP with a choice of time embedding and
//!   parameterisation (low-dimensional data);
//! - [`UNet`]: a small class-conditional U-Net for 8×8 images (seed 002 §5.1);
//! - [`LearnedScore`] (unconditional) and [`GuidedScore`] (classifier-free guidance, seed 002
//!   §6): a network as a [`crate::sde_basics::Score`];
//! - [`checkpoint`]: safetensors save/load with shape checks.

pub mod checkpoint;
mod convert;
mod denoiser;
mod device;
mod guidance;
mod init;
mod mlp;
mod score_net;
mod unet;

pub use convert::{to_array, to_tensor};
pub(crate) use denoiser::labels_tensor;
pub use denoiser::{DenoisingNet, LearnedScore};
pub use device::{describe, device};
pub use guidance::{sample_classes, ClassSamples, GuidedScore};
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
