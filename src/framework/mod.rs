//! Chapter 4 — the unified framework (seed 000 §四, seed 001 §3.1.2–§3.3, seeds 002 and 004).
//!
//! - the forward-SDE family with one interface ([`ForwardSde`]): [`VeSde`], [`VpSde`],
//!   [`ScheduledVpSde`] (any noise schedule, e.g. cosine), [`SubVpSde`], and the general affine [`AffineSde`] whose kernel comes from the
//!   mean/variance ODEs;
//! - the lemma "perturbation kernel ⇔ linear SDE" ([`KernelSde`], [`linear_sde_coefficients`]);
//! - seed 001's Table 1 as checkable data ([`table1`]);
//! - the exact marginals of mixture data ([`MixtureMarginal`]) and seed 001 §3.1.6's
//!   closed-form Gaussian example ([`GaussianExample`]);
//! - denoising score matching for candle networks ([`dsm`]);
//! - samplers with one interface ([`samplers::Sampler`]) for analytic and learned scores;
//! - the exact log-likelihood through the PF-ODE ([`likelihood`]) and the PF-ODE as an
//!   encoder/decoder with latent interpolation ([`encoding`]);
//! - classifier and classifier-free guidance ([`guidance`]) and flow matching with the
//!   velocity ↔ score ↔ ε ↔ x₀ dictionary ([`flow_matching`]);
//! - the reverse SDE's Euler step as the limit of the one-step Bayes kernel ([`bayes_step`]);
//! - the family of reverse processes with the forward marginals, PF-ODE to reverse SDE and beyond
//!   ([`reverse_family`], seed 001 §3.1.5);
//! - the optimal variance of DDPM's reverse step between `β̃` and `β` ([`reverse_variance`], seed 002 §1.2);
//! - what Girsanov's theorem bounds, checked on a grid ([`girsanov`], seed 004 §6);
//! - seed 002 §3's sampler listings run as written and corrected ([`listings`]).

mod affine;
pub mod bayes_step;
pub mod dsm;
pub mod encoding;
pub mod flow_matching;
mod gaussian;
pub mod girsanov;
pub mod guidance;
mod kernel_lemma;
pub mod likelihood;
pub mod listings;
pub mod reverse_family;
pub mod reverse_recipe;
pub mod reverse_variance;
mod marginal;
pub mod samplers;
pub mod score_targets;
mod scheduled;
pub mod table1;

pub use affine::{AffineSde, TimeFn, AFFINE_STEPS};
// The forward-SDE family is vocabulary of every chapter; it is defined in `sde_basics`.
pub use crate::sde_basics::{ForwardSde, SubVpSde, VeSde, VpSde};
pub use gaussian::GaussianExample;
pub use kernel_lemma::{linear_sde_coefficients, variational_score_weight, variational_step_kl, KernelSde};
pub use marginal::MixtureMarginal;
pub use scheduled::ScheduledVpSde;
