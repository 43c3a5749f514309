//! Chapter 1 — SDE basics (seed 000 §一, seed 003, seed 001 §3.1.1).
//!
//! The vector SDE `dx = f dt + G dW` ([`Sde`]), the score ([`Score`]), and the reverse-time
//! SDE and probability-flow ODE built from them ([`ReverseSde`], [`ProbabilityFlow`]);
//! Wiener paths to drive them ([`wiener`]); worked examples with closed-form laws
//! ([`examples`]: `dx = A dW`, Ornstein–Uhlenbeck, geometric Brownian motion); the 1-D
//! Fokker–Planck equation on a grid ([`fokker_planck`]); the discrete DDPM / NCSN chains and
//! their SDE limits ([`chains`]).

pub mod chains;
pub mod examples;
pub mod fokker_planck;
pub mod quadrature;
mod reverse;
mod score;
mod sde;
pub mod wiener;

pub use reverse::{ProbabilityFlow, ReverseSde};
pub use score::{Score, ScoreFn, ScoreJacobian};
pub use sde::{Diffusion, Sde};
