//! Samplers: from the prior at `T` to (approximately) the data at `ε`, with any score —
//! the closed-form [`MixtureMarginal`](crate::framework::MixtureMarginal) or a learned
//! network ([`crate::models::LearnedScore`]) are the same [`Score`] (seed 000 §4.4.2,
//! seed 001 §3.2.2, seed 002 §3, seed 000 §2.5).
//!
//! Every sampler implements [`Sampler`] — its name, its grid, its step — and inherits the run,
//! `sample(sde, score, x_T, seed, record)`, which returns the recorded states (the samples are
//! `.last()`) and the NFE — score evaluations per particle. A new sampler is its step and its
//! schedule, nothing else.
//!
//! | family | file | NFE per step |
//! |---|---|---|
//! | reverse-SDE Euler–Maruyama (seed 001 §3.2.2) | [`euler_maruyama`] | 1 |
//! | PF-ODE Euler and Heun (seed 001 §3.2.2, seed 000 §2.5.1) | [`pf_ode`] | 1, 2 |
//! | PF-ODE adaptive Dormand–Prince 5(4) ([`AdaptivePfOde`]) | [`dormand_prince`] | adaptive |
//! | score_sde predictor–corrector: {EM, reverse diffusion, ancestral, none} × {Langevin, annealed Langevin, none} | [`predictor_corrector`] | corrector steps + 1 |
//! | DDPM ancestral and DDIM with η (seed 002 §3.1–3.2) | [`ddim`] | 1 |
//! | DPM-Solver++(2M) (seed 000 §2.5.3) | [`dpm_solver`] | 1 |
//! | exponential Adams predictor–corrector of order p, UniPC-style, and UniPC itself ([`Weights::UniPcBh2`]) (seed 000 §2.5.3) | [`exp_pc`] | 1 |
//! | the k-diffusion family (`euler` … `dpmpp_3m_sde`) in the σ view | [`k_diffusion`] | 1 or 2 |
//! | k-diffusion's `dpm_fast` and `dpm_adaptive` (DPM-Solver-1/2/3 in `λ = −log σ̃`) | [`k_dpm_solver`] | its order (1–3); adaptive |
//! | PNDM: PLMS and F-PNDM on the DDIM transfer (seed 000 §2.5.3) | [`pndm`] | 1 (2 or 4 while warming up) |
//! | hybrid: SDE early and ODE late (seed 000 §2.5.2), or the reverse | [`hybrid`] | sum of its parts |

pub mod ddim;
pub mod dormand_prince;
pub mod dpm_solver;
pub mod euler_maruyama;
pub mod exp_pc;
pub mod hybrid;
pub mod k_diffusion;
pub mod k_dpm_solver;
mod model;
pub mod pf_ode;
pub mod pndm;
pub mod predictor_corrector;
mod schedule;
pub mod sweep;

pub use ddim::Ddim;
pub use dormand_prince::AdaptivePfOde;
pub use dpm_solver::DpmSolverPP2M;
pub use euler_maruyama::ReverseEulerMaruyama;
pub use exp_pc::{ExpPc, Weights};
pub use hybrid::Hybrid;
pub use k_diffusion::{KDiffusion, KMethod};
pub use k_dpm_solver::{DpmAdaptive, DpmFast};
pub use model::{History, Model};
pub use pf_ode::{PfMethod, PfOde};
pub use pndm::{Pndm, WarmStart};
pub use predictor_corrector::{Corrector, Predictor, PredictorCorrector};
pub(crate) use schedule::check_span;
pub use schedule::{Schedule, Spacing, DEFAULT_EPS};
pub use sweep::{hybrid_switch_sweep, nfe_quality_sweep, nfe_to_reach, Family, SweepRow, SwitchRow};

use ndarray::{Array2, ArrayView2};

use model::Sampling;
use crate::rng::{self, Rng};
use crate::sde_basics::{ForwardSde, Record, Score, Solution, TimeGrid};
use crate::solvers::driver::drive;
use crate::Result;

/// A sampler: its time grid from the prior's time down to `ε`, and one step along it. The run
/// ([`Self::sample`]) is written once, here, on chapter 2's driver loop
/// ([`crate::solvers::driver::drive`]): chunks of particles in parallel, each with its own
/// random stream, the states [`Record`] asks for, an error at the first non-finite state.
pub trait Sampler: Sync {
    /// Name for tables and plots, with its settings (e.g. `"DDIM η=0, 20 steps"`).
    fn name(&self) -> String;

    /// Its schedule: the decreasing time grid from `t_start` (usually `T`) to `ε` for `sde`.
    fn grid(&self, sde: &dyn ForwardSde) -> Result<TimeGrid>;

    /// Checks the settings before a run (e.g. `η ∈ [0, 1]`); nothing to check by default.
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// One step from `t` to `t_next < t` of a chunk of particles `x`, with the chunk's
    /// `history` and random stream: the new state and the score evaluations per particle it
    /// took (its NFE per step).
    fn step(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        t_next: f64,
        history: &mut History,
        rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)>;

    /// True when [`Self::step`] itself lands on `t = 0` (`σ = 0`) — the k-diffusion family and
    /// PNDM's transfer do — so that a grid ending at `t = 0` runs the sampler's own last step
    /// instead of [`Self::step_to_zero`]. False by default.
    fn lands_on_zero(&self) -> bool {
        false
    }

    /// The last step of a grid that ends at `t = 0` ([`Schedule::to_zero`], a
    /// [`Spacing::Sigmas`] ending at `σ = 0`) for a sampler that does not land there itself
    /// ([`Self::lands_on_zero`]): onto the denoised `x̂_0 = D(x, t)` (1 NFE), as k-diffusion's
    /// final Euler step to `σ = 0` and score_sde's `denoise=True`.
    fn step_to_zero(
        &self,
        model: Model,
        x: ArrayView2<f64>,
        t: f64,
        _history: &mut History,
        _rng: &mut Rng,
    ) -> Result<(Array2<f64>, usize)> {
        Ok((model.denoise(x, t)?, 1))
    }

    /// `(t_start, ε)`: where its grid starts and ends.
    fn span(&self, sde: &dyn ForwardSde) -> Result<(f64, f64)> {
        let grid = self.grid(sde)?;
        let times = grid.times();
        Ok((times[0], times[times.len() - 1]))
    }

    /// Runs the sampler from `x_start` (`n × d`, a draw of `p_{t_start}`) with noise from
    /// `seed`; `record` chooses the states kept. The samples are the returned `.last()`, the
    /// NFE (score evaluations per particle) its `.nfe`.
    fn sample(
        &self,
        sde: &dyn ForwardSde,
        score: &dyn Score,
        x_start: ArrayView2<f64>,
        seed: u64,
        record: Record,
    ) -> Result<Solution> {
        self.check()?;
        let grid = self.grid(sde)?;
        let run = Sampling {
            sampler: self,
            model: Model { sde, score },
        };
        drive(&run, x_start, "x_start", &grid, seed, record)
    }
}

/// `n` draws of the `d`-dimensional prior from `seed`, then `sampler` from them with noise
/// from `seed + 1`; only the final state is kept.
pub fn sample_from_prior(
    sampler: &dyn Sampler,
    sde: &dyn ForwardSde,
    score: &dyn Score,
    n: usize,
    d: usize,
    seed: u64,
) -> Result<Solution> {
    let x_t = sde.prior_sample(n, d, &mut rng::seeded(seed));
    sampler.sample(sde, score, x_t.view(), seed.wrapping_add(1), Record::Final)
}
