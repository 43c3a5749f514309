//! Chapter 4 — the unified framework (seed 000 §四, seed 001 §3.1.2–§3.3, seeds 002 and 004).
//!
//! Forward SDEs with affine kernels ([`ForwardSde`], [`VpSde`]) and the exact marginals of
//! mixture data under them ([`MixtureMarginal`]).

mod forward;
mod marginal;
mod ve;

pub use forward::{ForwardSde, VpSde};
pub use marginal::MixtureMarginal;
pub use ve::VeSde;
