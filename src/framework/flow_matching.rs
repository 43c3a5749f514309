//! Flow matching (seed 002 §4.3, §7; Lipman et al. 2023, Liu et al. 2023's rectified flow)
//! and its dictionary to the score view (seed 002 §2).
//!
//! **One kernel, four predictions.** For `x_t = α_t x_0 + σ_t ε` ([`Kernel`]), Tweedie gives
//! `E[x_0 | x_t] = (x + σ² s)/α` and `E[ε | x_t] = −σ s`, so the marginal velocity
//! `u_t(x) = E[α̇ x_0 + σ̇ ε | x_t = x]` (seed 002 §7's `E[Ẋ_t | X_t = x]`) is
//!
//! ```text
//! u = (α̇/α) x + σ² (α̇/α − σ̇/σ) s = (α̇/α) x + σ² (d/dt log(α/σ)) s,
//! ```
//!
//! which is the probability-flow drift `f x − ½ g² s` with `f = α̇/α`, `g² = 2σσ̇ − 2(α̇/α)σ²`
//! (seed 001 §3.1.4). In `ε`: `u = (α̇/α) x + (σ̇ − α̇σ/α) ε`.
//!
//! **Erratum (seed 002 §7).** The table's `u = −σ² s = −σ² (x − αx₀)/σ² = (αx₀ − x)/σ` drops the
//! `(α̇/α) x` term and the time derivatives, and is not even consistent with itself
//! (`−σ²·(x − αx₀)/σ² = αx₀ − x`, not `(αx₀ − x)/σ`; and `∇log p(x_t|x_0) = −(x − αx₀)/σ²`).
//! [`velocity_as_written`] is its first expression, kept so that a test and the notebook can
//! show it is not the velocity.
//!
//! **Erratum (seed 002 §2.3).** The seed's PF-ODE `dx = [u_t(x) − ½σ_t² ∇log p_t] dt`, "that is,
//! `dx = −½σ_t² s_θ dt`", puts the kernel's variance `σ_t²` where the diffusion `g(t)²` belongs
//! and drops (or leaves undefined) the drift `f`. [`Pf002AsWritten`] is either line as an ODE.
//!
//! **Losses (seed 002 §4.3).** With the velocity affine in `ε` at fixed `x_t`,
//! `‖û − u‖² = c(t)² ‖ε̂ − ε‖²`, `c = σ̇ − α̇σ/α = −σ d/dt log(α/σ)`
//! ([`Kernel::eps_to_velocity`]): flow matching is `ε`-prediction with the time weighting
//! `c(t)²` — equivalent up to a weighting, not "up to a constant" as the seed says. On the
//! linear path `c = 1/(1 − t)`.
//!
//! **Training and sampling.** [`train_flow_matching`] regresses the network on the linear
//! (rectified-flow) path [`LinearPath`] `x_t = (1 − t) x_0 + t ε`, target `ε − x_0`,
//! `t ~ U[ε, 1]`: the network's raw output is the velocity ([`LearnedVelocity`]).
//! [`sample_flow`] integrates `dx/dt = u(x, t)` from `x_1 ~ N(0, I)` down to `t = 0` with the
//! crate's ODE solvers; [`compare_flow_and_score`] sets it beside the PF-ODE of a DSM model
//! with the same solver and step counts (seed 004 §5: fewer ODE steps).

use ndarray::{Array2, ArrayView2};

use super::dsm::{fit_regression, DsmConfig, RegressionBatch, TrainLog, Weighting};
use crate::error::check_time;
use super::samplers::PfMethod;
use super::ForwardSde;
use crate::error::{invalid, positive};
use crate::metrics::{quality, Quality};
use crate::models::{LearnedScore, ScoreNet};
use crate::rng;
use crate::sde_basics::{Diffusion, ProbabilityFlow, Score, Sde};
use crate::solvers::{solve_ode, Euler, Heun, Solution, OdeSystem, Record, TimeGrid};
use crate::{Error, Result};

/// The linear (rectified-flow) path `x_t = (1 − t) x_0 + t ε` on `[0, 1]` as a forward SDE:
/// `α = 1 − t`, `σ = t`, so `f = α̇/α = −1/(1 − t)` and `g² = 2σσ̇ − 2fσ² = 2t/(1 − t)`.
/// Its drift and diffusion blow up at `t = 1` (an error there); the kernel is fine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinearPath;

impl LinearPath {
    fn check_open(t: f64) -> Result<f64> {
        let t = check_time(t, 1.0)?;
        if t == 1.0 {
            return invalid(
                "t",
                t,
                "the linear path's drift −x/(1−t) and diffusion are infinite at t = 1",
            );
        }
        Ok(t)
    }
}

impl Sde for LinearPath {
    fn drift(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let t = Self::check_open(t)?;
        Ok(&x * (-1.0 / (1.0 - t)))
    }

    fn diffusion(&self, _x: ArrayView2<f64>, t: f64) -> Result<Diffusion> {
        let t = Self::check_open(t)?;
        Ok(Diffusion::Scalar((2.0 * t / (1.0 - t)).sqrt()))
    }
}

impl ForwardSde for LinearPath {
    fn marginal_mean_std(&self, t: f64) -> Result<(f64, f64)> {
        let t = check_time(t, 1.0)?;
        Ok((1.0 - t, t))
    }

    fn prior_std(&self) -> f64 {
        1.0
    }
}

/// The kernel `x_t = α x_0 + σ ε` at one time with its time derivatives `α̇`, `σ̇`, and the
/// conversions between the four things a network can predict (seed 002 §2, §7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kernel {
    /// `α_t`.
    pub alpha: f64,
    /// `σ_t`.
    pub sigma: f64,
    /// `dα/dt`.
    pub d_alpha: f64,
    /// `dσ/dt`.
    pub d_sigma: f64,
}

impl Kernel {
    /// The kernel of `sde` at `t`, with `α̇ = f α` and `σ̇ = (g² + 2 f σ²)/(2σ)` from the SDE's
    /// `f(t)` and `g(t)` (the mean and variance ODEs of seed 001 §3.1.2).
    /// Errors where `σ = 0` (e.g. `t = 0`: the conversions divide by σ) or `α = 0`.
    pub fn of(sde: &dyn ForwardSde, t: f64) -> Result<Self> {
        let (alpha, sigma) = sde.marginal_mean_std(t)?;
        positive("σ(t)", sigma)?;
        positive("α(t)", alpha)?;
        let one = Array2::ones((1, 1));
        let f = sde.drift(one.view(), t)?[[0, 0]];
        let g = match sde.diffusion(one.view(), t)? {
            Diffusion::Scalar(g) => g,
            other => {
                return Err(Error::Shape(format!(
                    "the kernel's derivatives need a scalar diffusion, got {other:?}"
                )))
            }
        };
        Ok(Self {
            alpha,
            sigma,
            d_alpha: f * alpha,
            d_sigma: (g * g + 2.0 * f * sigma * sigma) / (2.0 * sigma),
        })
    }

    /// `d/dt log(α/σ) = α̇/α − σ̇/σ` (half the log-SNR's rate).
    pub fn d_log_snr_half(&self) -> f64 {
        self.d_alpha / self.alpha - self.d_sigma / self.sigma
    }

    /// `c = σ̇ − α̇σ/α`: at fixed `x_t`, `u = (α̇/α) x + c ε`, so `‖û − u‖² = c² ‖ε̂ − ε‖²`.
    pub fn eps_to_velocity(&self) -> f64 {
        self.d_sigma - self.d_alpha * self.sigma / self.alpha
    }

    /// `s = −ε/σ`.
    pub fn score_from_eps(&self, eps: ArrayView2<f64>) -> Array2<f64> {
        &eps * (-1.0 / self.sigma)
    }

    /// `ε = −σ s`.
    pub fn eps_from_score(&self, s: ArrayView2<f64>) -> Array2<f64> {
        &s * -self.sigma
    }

    /// Tweedie: `x̂_0 = (x + σ² s)/α`.
    pub fn x0_from_score(&self, x: ArrayView2<f64>, s: ArrayView2<f64>) -> Array2<f64> {
        (&x + &(&s * (self.sigma * self.sigma))) / self.alpha
    }

    /// `s = (α x̂_0 − x)/σ²`.
    pub fn score_from_x0(&self, x: ArrayView2<f64>, x0: ArrayView2<f64>) -> Array2<f64> {
        (&x0 * self.alpha - x) / (self.sigma * self.sigma)
    }

    /// The conditional velocity `d/dt (α x_0 + σ ε) = α̇ x_0 + σ̇ ε` (the regression target).
    pub fn conditional_velocity(&self, x0: ArrayView2<f64>, eps: ArrayView2<f64>) -> Array2<f64> {
        &x0 * self.d_alpha + &(&eps * self.d_sigma)
    }

    /// The marginal velocity `u = (α̇/α) x + σ² (α̇/α − σ̇/σ) s`.
    pub fn velocity_from_score(&self, x: ArrayView2<f64>, s: ArrayView2<f64>) -> Array2<f64> {
        &x * (self.d_alpha / self.alpha) + &(&s * (self.sigma * self.sigma * self.d_log_snr_half()))
    }

    /// The score from a velocity, `s = (u − (α̇/α) x) / (σ² (α̇/α − σ̇/σ))`. Errors where the
    /// log-SNR is stationary (`α̇/α = σ̇/σ`): there the velocity does not see the score.
    pub fn score_from_velocity(
        &self,
        x: ArrayView2<f64>,
        u: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        let c = self.sigma * self.sigma * self.d_log_snr_half();
        if c == 0.0 || !c.is_finite() {
            return invalid(
                "d/dt log(α/σ)",
                self.d_log_snr_half(),
                "must be finite and non-zero to recover the score from a velocity",
            );
        }
        Ok((&u - &(&x * (self.d_alpha / self.alpha))) / c)
    }
}

/// Seed 002 §7's `u = −σ² s`, as written (wrong: see the module's erratum). Kept for the
/// erratum test and the notebook.
pub fn velocity_as_written(sigma: f64, s: ArrayView2<f64>) -> Array2<f64> {
    &s * -(sigma * sigma)
}

/// Seed 002 §2.3's probability flow as written: `dx/dt = [f(x, t)] − ½ σ_t² s(x, t)`, with the
/// drift `f` when `with_drift` (its first line, `u_t` read as `f`) or without (its second line).
/// The PF-ODE has `g(t)²` where this has `σ_t²`.
pub struct Pf002AsWritten<'a> {
    /// The forward SDE (its kernel's `σ_t`, its drift `f`).
    pub sde: &'a dyn ForwardSde,
    /// The score.
    pub score: &'a dyn Score,
    /// Keep the drift `f`.
    pub with_drift: bool,
}

impl OdeSystem for Pf002AsWritten<'_> {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let (_, sigma) = self.sde.marginal_mean_std(t)?;
        let flow = self.score.score(x, t)? * (-0.5 * sigma * sigma);
        Ok(if self.with_drift { flow + self.sde.drift(x, t)? } else { flow })
    }
}

/// A flow-matching network as the ODE `dx/dt = u_θ(x, t)` (its raw output is the velocity on
/// [`LinearPath`]'s time axis: `t = 1` noise, `t = 0` data).
pub struct LearnedVelocity<'a> {
    /// The network trained by [`train_flow_matching`].
    pub net: &'a ScoreNet,
}

impl OdeSystem for LearnedVelocity<'_> {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.net.output(x, t)
    }
}

/// Settings for [`train_flow_matching`]: as [`DsmConfig::new`] (Adam `10⁻³`, full batch,
/// uniform times on `[10⁻³, 1]`), with the unweighted loss.
pub fn flow_matching_config(steps: usize, seed: u64) -> DsmConfig {
    DsmConfig {
        weighting: Weighting::Uniform,
        ..DsmConfig::new(steps, seed)
    }
}

/// Trains `net` by (conditional) flow matching on the linear path: minimises
/// `E_{t, x_0, ε} ‖u_θ((1 − t) x_0 + t ε, t) − (ε − x_0)‖²`, whose minimiser is the marginal
/// velocity `E[ε − x_0 | x_t]` (the rectified-flow convention of Liu et al. 2023; the kernel
/// derivatives are `α̇ = −1`, `σ̇ = 1`). Same loop, batches and seeding as DSM; the network's
/// `parameterisation` is not used (its output *is* the velocity: sample it with
/// [`sample_flow`], not through `LearnedScore`).
///
/// Errors when `config.weighting` is not `Uniform`, and as [`super::dsm::train_dsm`].
pub fn train_flow_matching(
    net: &ScoreNet,
    data: ArrayView2<f64>,
    config: &DsmConfig,
) -> Result<TrainLog> {
    if config.weighting != Weighting::Uniform {
        return invalid(
            "weighting",
            format!("{:?}", config.weighting),
            "the flow-matching loss is unweighted: use Weighting::Uniform (flow_matching_config)",
        );
    }
    let path = LinearPath;
    fit_regression(
        net,
        &path,
        data,
        None,
        config,
        "flow-matching",
        &mut |_, _| {},
        &mut |x0, t, rng| {
            let (n, d) = x0.dim();
            let eps = rng::normals(rng, n, d);
            let mut x_t = eps.clone();
            for (i, mut row) in x_t.rows_mut().into_iter().enumerate() {
                let ti = t[i];
                row.zip_mut_with(&x0.row(i), |e, x| *e = (1.0 - ti) * x + ti * *e);
            }
            let target = &eps - &x0;
            Ok(RegressionBatch {
                x_t,
                t,
                target,
                weight: vec![1.0; n],
            })
        },
    )
}

/// Integrates `system` over `grid` with `method`'s fixed-step solver ([`solve_ode`]).
fn integrate<S: OdeSystem>(
    method: PfMethod,
    system: &S,
    x: ArrayView2<f64>,
    grid: &TimeGrid,
) -> Result<Solution> {
    match method {
        PfMethod::Euler => solve_ode(&Euler, system, x, grid, Record::Final),
        PfMethod::Heun => solve_ode(&Heun, system, x, grid, Record::Final),
    }
}

/// Samples a flow-matching network: `dx/dt = u_θ(x, t)` from `x_1` (`n × d`, draws of
/// `N(0, I)`) at `t = 1` to `t = 0`, `steps` uniform steps of `method`.
pub fn sample_flow(
    net: &ScoreNet,
    x1: ArrayView2<f64>,
    method: PfMethod,
    steps: usize,
) -> Result<Solution> {
    integrate(
        method,
        &LearnedVelocity { net },
        x1,
        &TimeGrid::uniform(1.0, 0.0, steps)?,
    )
}

/// One row of [`compare_flow_and_score`].
#[derive(Debug, Clone, PartialEq)]
pub struct FlowComparisonRow {
    /// `"flow matching"` or `"score (DSM)"`.
    pub model: &'static str,
    /// ODE steps.
    pub steps: usize,
    /// Network evaluations per sample.
    pub nfe: usize,
    /// Energy distance and sliced W2 to `reference`.
    pub quality: Quality,
    /// The samples.
    pub samples: Array2<f64>,
}

/// Flow matching against the score model at equal ODE steps: the flow-matching network `fm`
/// ([`sample_flow`], `1 → 0`) and the PF-ODE of the DSM network `sm` under `sde`
/// (`T → 10⁻³`), both with `method` on uniform grids of each of `steps`, both from the same
/// `N(0, I)` draws (`reference.nrows()` of them from `seed`, scaled by `sde.prior_std()` for
/// the score model), each scored against `reference` by [`quality`].
pub fn compare_flow_and_score(
    fm: &ScoreNet,
    sm: &ScoreNet,
    sde: &dyn ForwardSde,
    reference: ArrayView2<f64>,
    steps: &[usize],
    method: PfMethod,
    seed: u64,
) -> Result<Vec<FlowComparisonRow>> {
    let z = rng::normals(&mut rng::seeded(seed), reference.nrows(), reference.ncols());
    let x_t = &z * sde.prior_std();
    let flow = ProbabilityFlow::new(sde, LearnedScore::new(sm, sde));
    let mut rows = Vec::with_capacity(2 * steps.len());
    for &k in steps {
        let fm_sol = sample_flow(fm, z.view(), method, k)?;
        let grid = TimeGrid::uniform(sde.t_max(), super::samplers::DEFAULT_EPS, k)?;
        let sm_sol = integrate(method, &flow, x_t.view(), &grid)?;
        for (model, sol) in [("flow matching", fm_sol), ("score (DSM)", sm_sol)] {
            rows.push(FlowComparisonRow {
                model,
                steps: k,
                nfe: sol.nfe,
                quality: quality(sol.last().view(), reference)?,
                samples: sol.last().clone(),
            });
        }
    }
    Ok(rows)
}
