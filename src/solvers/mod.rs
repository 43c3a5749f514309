//! Chapter 2 — numerical solvers (seed 000 §二).
//!
//! - One driver loop ([`driver::drive`]: chunked, seeded per chunk, recording, NFE) runs every
//!   fixed-step method of the crate, the samplers of chapter 4 included.
//! - ODEs: one fixed-step solve [`solve_ode`] for every [`OdeStepper`] — [`Euler`], [`Heun`],
//!   [`Rk4`], [`DormandPrince`], the implicit [`BackwardEuler`] and the symplectic
//!   [`StormerVerlet`] — and the adaptive Dormand–Prince 5(4) solver [`dormand_prince`].
//! - SDEs: one loop [`sde::solve`] for every [`SdeScheme`] — [`EulerMaruyama`], [`Milstein`],
//!   [`StochasticHeun`] (and [`MilsteinAsWritten`], the seed's formula, for its erratum).
//! - Exact solutions of linear SDEs ([`linear_exact`]), convergence orders
//!   ([`convergence`]), linear stability ([`stability`]) and test problems ([`problems`]).

pub mod adaptive;
pub mod convergence;
pub mod driver;
pub mod implicit;
pub mod linear_exact;
pub mod ode_fixed;
pub mod problems;
pub mod sde;
pub mod sde_schemes;
pub mod stability;
pub mod step_rule;
pub mod symplectic;

pub use adaptive::{dormand_prince, AdaptiveOptions, AdaptiveSolution, DormandPrince};
pub use implicit::BackwardEuler;
pub use ode_fixed::{solve_ode, Euler, Heun, OdeStepper, Rk4};
pub use sde::{EulerMaruyama, Noise, SdeScheme};
// The vocabulary the solvers speak, defined one layer down and re-exported where it is used.
pub use crate::sde_basics::{OdeSystem, Record, Solution, TimeGrid};
pub use sde_schemes::{Milstein, MilsteinAsWritten, StochasticHeun};
pub use symplectic::{HamiltonianFlow, HarmonicOscillator, StormerVerlet};
