//! Data: toy distributions with analytic densities and scores, used by every chapter, and
//! loaders for the small datasets shipped in `data/` ([`digits`]).

pub mod digits;
mod mixture;

pub use digits::Digits;
pub use crate::rng::normal_cdf;
pub use mixture::{log_sum_exp, GaussianMixture};
