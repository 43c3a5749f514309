//! # diffusion_sde — the library behind the workbook
//!
//! Diffusion models seen through SDEs and ODEs, one module per chapter of the workbook
//! (the notebooks in `notebooks/` follow the seed documents section by section):
//!
//! | module | chapter | what it holds |
//! |---|---|---|
//! | [`real`], [`rng`], [`linalg`], [`error`], [`workbook`] | all | the batch element type, seeded streams, small linear algebra, errors, the reduced-size switch |
//! | [`data`], [`metrics`] | all | toy distributions with analytic densities and scores, the 8×8 digits; sample-quality measures |
//! | [`sde_basics`] | 1 | the SDE vocabulary — `Sde`, `Score`, `ReverseSde`, `ProbabilityFlow`, `ForwardSde` (VE/VP/sub-VP), `TimeGrid`, `Record`, `Solution`, `OdeSystem`, Wiener paths — and chapter 1's examples, Fokker–Planck and chains |
//! | [`solvers`] | 2 | the one driver loop ([`solvers::driver`]) and the ODE/SDE steps it runs, with declared orders |
//! | [`models`] | 4 | candle networks and their time embeddings: score MLP, 8×8 U-Net, noisy classifier (CPU; CUDA with `--features cuda`) |
//! | [`smld`] | 3 | SMLD/NCSN, Langevin dynamics, noise schedules |
//! | [`framework`] | 4 | affine SDEs, exact mixture marginals, samplers (one [`framework::samplers::Sampler`] trait), likelihood, encoding, guidance, flow matching |
//! | [`appendix`] | A | seed 000's appendix experiment, as written and corrected |
//! | [`plot`] | all | plotly figures shown inline and offline |
//!
//! The rows are the layers, lowest first: each module uses only the modules above its row
//! (`tests/architecture.rs` keeps it so), so the vocabulary lives where it is used.
//!
//! Classical numerics are `f64` on `ndarray` (a batch is `n × d`, one particle per row);
//! networks are `f32` in candle, converted in [`models::to_tensor`] / [`models::to_array`].
//! The SDE loop also runs `f32` batches ([`real::Real`]: `Sde<f32>`, `Score<f32>`) where an
//! SDE and its score implement them (the VP SDE with a Gaussian-mixture score), for speed.
//! Every random experiment takes a seed ([`rng`]).
//!
//! ```
//! use diffusion_sde::prelude::*;
//!
//! // Seed 000 §2.2.1: push 1-D mixture data through the VP SDE with Euler–Maruyama.
//! let sde = VpSde::default();
//! let x0 = GaussianMixture::two_modes_1d().sample(2000, 7);
//! let grid = TimeGrid::uniform(0.0, 1.0, 500)?;
//! let sol = EulerMaruyama.solve(&sde, x0.view(), &grid, Noise::Seed(7), Record::Final)?;
//! // At t = 1 the VP SDE has forgotten the data: mean ≈ 0, variance ≈ 1.
//! let x1 = sol.last();
//! assert!(x1.mean().unwrap().abs() < 0.1);
//! assert!((x1.var(0.0) - 1.0).abs() < 0.15);
//! # Ok::<(), diffusion_sde::Error>(())
//! ```

pub mod appendix;
pub mod data;
pub mod error;
pub mod framework;
pub mod linalg;
pub mod metrics;
pub mod models;
pub mod plot;
pub mod real;
pub mod rivals;
pub mod rng;
pub mod sde_basics;
pub mod smld;
pub mod solvers;
pub mod workbook;

pub use error::{Error, Result};

// Notebooks see only the crates they `:dep`; these re-exports give them the same versions.
pub use candle_core;
pub use candle_nn;
pub use ndarray;
pub use plotly;

/// What a notebook needs in scope: `use diffusion_sde::prelude::*;`.
pub mod prelude {
    pub use crate::data::GaussianMixture;
    pub use crate::framework::{ForwardSde, MixtureMarginal, VpSde};
    pub use crate::plot;
    pub use crate::real::Real;
    pub use crate::rng;
    pub use crate::sde_basics::{Diffusion, ProbabilityFlow, ReverseSde, Score, ScoreFn, Sde};
    pub use crate::solvers::{EulerMaruyama, Noise, OdeSystem, Record, SdeScheme, TimeGrid};
    pub use crate::workbook;
    pub use crate::{Error, Result};
    pub use ndarray::{array, s, Array1, Array2, ArrayView2, Axis};
}
