//! Chapter 3 — from SMLD/NCSN to SDEs (seed 000 §三, seed 001 §3.1.1).
//!
//! - [`langevin`]: Langevin and annealed Langevin dynamics (§3.1.2, NCSN);
//! - [`chains`]: the discrete SMLD chain, forward and reverse, and its limit the VE SDE
//!   (§3.2–§3.4; the SDE itself is [`crate::sde_basics::VeSde`]);
//! - [`flow`]: the probability-flow ODE and the reverse SDE's conditional mean (§3.5);
//! - [`schedules`]: noise schedules β(t), ᾱ(t), SNR(t) and their discretisations (§3.3.3, §3.6.3);
//! - time embeddings for score networks (§3.6.2) are candle modules of [`crate::models::embeddings`],
//!   re-exported here where chapter 3 teaches them;
//! - [`change_of_variables`], [`interpolation`]: §3.1.1's score properties and §3.3.3's
//!   interpolation of β, with their errata;
//! - [`field`]: densities and scores sampled on a 2-D grid, for vector-field plots (§3.1.1).

pub mod chains;
pub mod change_of_variables;
pub mod field;
pub mod interpolation;
pub mod flow;
pub mod langevin;
pub mod schedules;

pub use chains::{ScaledScore, SmldChain};
pub use crate::models::embeddings::{self, LearnedEmbedding, RandomFourierEmbedding, SinusoidalEmbedding};
pub use field::FieldGrid;
pub use flow::{conditional_mean, probability_flow};
pub use langevin::{mode_weights, AnnealedLangevin, Langevin, LangevinSde};
pub use schedules::{
    CosSquaredBeta, CosineSchedule, DiscreteSchedule, GeometricSchedule, NoiseSchedule,
};
