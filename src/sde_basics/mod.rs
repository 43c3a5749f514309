//! Chapter 1 — SDE basics (seed 000 §一, seed 003, seed 001 §3.1.1), and the SDE vocabulary
//! every later chapter speaks: the home of "the SDE and its law".
//!
//! The vocabulary (used by the solvers of chapter 2 and everything above them):
//! - the vector SDE `dx = f dt + G dW` ([`Sde`], [`Diffusion`]) and the score ([`Score`],
//!   [`ConditionalScore`]); the reverse-time SDE and the probability-flow ODE built from them
//!   ([`ReverseSde`], [`ProbabilityFlow`]);
//! - forward SDEs with an affine perturbation kernel `N(α(t) x₀, σ(t)² I)` ([`ForwardSde`]):
//!   [`VeSde`], [`VpSde`], [`SubVpSde`] (seed 001 §3.2–§3.3);
//! - ODE systems ([`OdeSystem`]), time grids ([`TimeGrid`]), what a solve keeps ([`Record`]) and
//!   returns ([`Solution`]); Wiener paths to drive an SDE ([`wiener`]).
//!
//! Chapter 1's own material: worked examples with closed-form laws ([`examples`]: `dx = A dW`,
//! Ornstein–Uhlenbeck, geometric Brownian motion); the 1-D Fokker–Planck equation on a grid
//! ([`fokker_planck`]); the discrete DDPM / NCSN chains and their SDE limits ([`chains`]).
//!
//! This module imports nothing above it (`tests/architecture.rs`): the solvers that integrate
//! these equations live in [`crate::solvers`].

pub mod chains;
pub mod examples;
pub mod fokker_planck;
pub mod notation;
mod forward;
mod grid;
mod ode;
pub mod quadrature;
mod reverse;
mod score;
mod sde;
mod solution;
mod subvp;
mod ve;
pub mod wiener;

pub use forward::{ForwardSde, VpSde};
pub use grid::TimeGrid;
pub use ode::OdeSystem;
pub use reverse::{ProbabilityFlow, ReverseSde};
pub use score::{ConditionalScore, Score, ScoreFn, ScoreJacobian};
pub use sde::{Diffusion, Sde};
pub use solution::{Record, Solution};
pub use subvp::SubVpSde;
pub use ve::VeSde;
