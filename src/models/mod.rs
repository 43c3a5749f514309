//! Learned models in candle: CPU by default, CUDA with `--features cuda`, same code.

mod convert;
mod device;
mod mlp;

pub use convert::{to_array, to_tensor};
pub use device::{describe, device};
pub use mlp::Mlp;
