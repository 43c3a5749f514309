//! Learned models in candle: CPU by default, CUDA with `--features cuda`, same code.
//!
//! - [`Mlp`]: the SiLU multilayer perceptron;
//! - [`ScoreNet`]: a time-conditioned score network with a choice of time embedding and
//!   parameterisation, and [`LearnedScore`], the network as a [`crate::sde_basics::Score`];
//! - [`TimeClassifier`]: a classifier of noisy data `p(y | x_t, t)` for classifier guidance;
//! - [`checkpoint`]: safetensors save/load with shape checks;
//! - [`kernels`]: fused CPU kernels for the layers' affine maps and SiLU (candle's ops on
//!   other devices), and [`keep_freed_buffers`], the allocator setting they rely on.

pub mod checkpoint;
mod classifier;
mod convert;
mod device;
pub mod kernels;
mod mlp;
mod score_net;

pub use classifier::TimeClassifier;
pub use convert::{to_array, to_tensor};
pub use device::{describe, device, keep_freed_buffers};
pub use mlp::Mlp;
pub use score_net::{LearnedScore, Parameterisation, ScoreNet, ScoreNetConfig, TimeEmbedding};

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
