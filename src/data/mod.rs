//! Toy distributions with analytic densities and scores, used by every chapter.

mod mixture;

pub use mixture::{log_sum_exp, normal_cdf, GaussianMixture};
