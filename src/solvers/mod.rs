//! Chapter 2 — numerical solvers (seed 000 §二).
//!
//! ODE systems ([`ode`]) and fixed-step SDE schemes ([`sde`]) over a [`TimeGrid`].

mod grid;
pub mod ode;
pub mod sde;

pub use grid::TimeGrid;
pub use ode::OdeSystem;
pub use sde::{EulerMaruyama, Noise, Record, SdeScheme, SdeSolution};
