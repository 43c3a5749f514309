//! Seed 000's appendix (A.1–A.9), rerun twice with the crate's own training loop
//! ([`crate::framework::dsm::train_dsm`]), samplers and metrics:
//!
//! - [`Variant::AsWritten`] — the seed's code, faithfully: A.3's discrete process
//!   ([`DiscreteVp::seed`], the *cosine* A.2 schedule, since A.5 and A.6 reuse the
//!   `forward_process` object A.3 built with `beta_schedule='cosine'`), the network predicting
//!   the score directly, trained on `t = i/1000` with `MSELoss` to `−ε/√(1 − ᾱ_i)`, 1000
//!   full-batch Adam steps at `lr = 10⁻³`; sampled with A.6's update
//!   `x ← x − ½ β_i s Δt + √(β_i Δt) z` ([`AsWrittenReverse`]) for 1000 steps, and A.8's
//!   statistics taken on `samples[-1]` — which, as written, is the state after step 901,
//!   not the last one (A.6 records when `i % 100 == 0`, *after* the update);
//! - [`Variant::Corrected`] — the PyTorch twin's experiment (`bench/python/appendix.py`): the VP SDE
//!   with `β(t) = 0.1 + 19.9 t` on `[10⁻³, 1]` (the consistent continuous limit of a
//!   per-step `β_i`: `β(t)Δt ↔ β_i`), the same network predicting `ε` (score `= −ε̂/σ(t)`),
//!   `‖ε̂ − ε‖²` loss, 2000 full-batch Adam steps; sampled by the reverse SDE with the full
//!   drift `f − g² s` (Euler–Maruyama), the PF-ODE `f − ½ g² s` (Euler), and adaptive
//!   Dormand–Prince on the PF-ODE (scipy's RK45 in the bench), 1000 steps each;
//! - [`Variant::Improved`] — A.9's remark ("the score network's quality directly decides
//!   sample quality") in numbers: the corrected problem, the same data, network widths and
//!   samplers, a better recipe — the network predicts `v = α ε − σ x_0` (Salimans & Ho 2022)
//!   from fixed sinusoidal time features, the learning rate decays along a cosine over 4000
//!   steps, and the samplers use an exponential moving average of the weights (decay 0.999).
//!   Its samples reach the noise floor where the corrected recipe's do not.
//!
//! Both start from the same prior draw and are measured against the same fresh data with
//! [`crate::metrics::quality`] beside the [`crate::metrics::noise_floor`].
//! Nothing here writes to the terminal: progress goes to a callback ([`Progress`]).

pub mod checkpoint;
mod process;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use candle_core::Device;
use ndarray::{Array1, Array2, Axis};

pub use checkpoint::CheckpointInfo;
pub use process::{AsWrittenReverse, BetaSchedule, DiscreteVp, BETA_END, BETA_START, SEED_T};

use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::framework::dsm::{
    train_dsm_observed, Batch, DsmConfig, LrSchedule, TimeSampling, Weighting,
};
use crate::framework::samplers::{AdaptivePfOde, PfMethod, PfOde, ReverseEulerMaruyama, Sampler};
use crate::framework::{ForwardSde, VpSde};
use crate::metrics::{noise_floor, quality, NoiseFloor, Quality};
use crate::models::{LearnedScore, Parameterisation, ScoreNet, ScoreNetConfig, TimeEmbedding};
use crate::solvers::{EulerMaruyama, Noise, Record, SdeScheme, Solution, TimeGrid};
use crate::{rng, Error, Result};

/// Which appendix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// The seed's code as written.
    AsWritten,
    /// The consistent VP SDE of `appendix_torch.py`.
    Corrected,
    /// The corrected problem with a better training recipe (v-prediction, sinusoidal time
    /// features, EMA of the weights, cosine learning-rate decay).
    Improved,
}

impl Variant {
    /// Both, as-written first.
    pub const BOTH: [Variant; 2] = [Variant::AsWritten, Variant::Corrected];
    /// All three, as-written first.
    pub const ALL: [Variant; 3] = [Variant::AsWritten, Variant::Corrected, Variant::Improved];

    /// Each variant's own training length: the seed's 1000 epochs; the bench's 2000 steps;
    /// 4000 for the improved recipe (the cosine decay spans the whole run).
    pub fn default_steps(self) -> usize {
        match self {
            Variant::AsWritten => 1000,
            Variant::Corrected => 2000,
            Variant::Improved => 4000,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::AsWritten => "as-written",
            Variant::Corrected => "corrected",
            Variant::Improved => "improved",
        })
    }
}

impl FromStr for Variant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "as-written" => Ok(Variant::AsWritten),
            "corrected" => Ok(Variant::Corrected),
            "improved" => Ok(Variant::Improved),
            other => invalid(
                "variant",
                other,
                "expected as-written, corrected, improved (or both, all, for the command)",
            ),
        }
    }
}

/// Sizes and seed of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendixConfig {
    /// Seed of data, initialisation, training and sampling.
    pub seed: u64,
    /// Training points (full batch): 1000 in the seed and the bench.
    pub n_train: usize,
    /// Optimiser steps (`None`: [`Variant::default_steps`]).
    pub train_steps: Option<usize>,
    /// Samples drawn per method, and fresh reference points: 2000 (the bench; the seed draws 500).
    pub n_sample: usize,
    /// Fixed sampler steps: 1000.
    pub sampler_steps: usize,
    /// The as-written schedule (the seed's: cosine; the bench's `appendix_as_written.py` reads linear).
    pub schedule: BetaSchedule,
}

impl AppendixConfig {
    /// The full-size run with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            n_train: 1000,
            train_steps: None,
            n_sample: 2000,
            sampler_steps: SEED_T,
            schedule: BetaSchedule::Cosine,
        }
    }

    /// Optimiser steps for `variant`.
    pub fn steps(&self, variant: Variant) -> usize {
        self.train_steps.unwrap_or(variant.default_steps())
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [("n_train", self.n_train), ("n_sample", self.n_sample)] {
            if v < 2 {
                return invalid(name, v, "need at least 2 points");
            }
        }
        if self.sampler_steps == 0 || self.train_steps == Some(0) {
            return invalid("steps", 0, "need at least one step");
        }
        Ok(())
    }
}

/// The data every method is compared on.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The seed's 3-component mixture, means (1,1), (−1,−1), (0,2), covariance 0.1·I.
    pub mixture: GaussianMixture,
    /// The training points (A.5 `data`).
    pub data: Array2<f64>,
    /// Fresh points of the mixture for the metrics.
    pub reference: Array2<f64>,
    /// The common prior draw `x_T ~ N(0, I)` every sampler starts from.
    pub prior: Array2<f64>,
    /// Metrics between two fresh true draws of the same size.
    pub floor: NoiseFloor,
}

impl Experiment {
    /// Data from `seed`, reference from `seed + 1`, floor from `seed + 2`, prior from `seed + 10`.
    pub fn new(config: &AppendixConfig) -> Result<Self> {
        config.check()?;
        let mixture = GaussianMixture::appendix_2d();
        let s = config.seed;
        Ok(Self {
            data: mixture.sample(config.n_train, s),
            reference: mixture.sample(config.n_sample, s.wrapping_add(1)),
            floor: noise_floor(&mixture, config.n_sample, 10, s.wrapping_add(2))?,
            prior: rng::normals(&mut rng::seeded(s.wrapping_add(10)), config.n_sample, 2),
            mixture,
        })
    }
}

/// What a run reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// An optimiser step finished.
    Train {
        /// The variant.
        variant: Variant,
        /// Steps done (counting a resumed checkpoint's).
        step: usize,
        /// Steps requested.
        total: usize,
        /// This step's loss.
        loss: f64,
    },
    /// A sampler starts.
    Sample {
        /// The variant.
        variant: Variant,
        /// The method's name.
        method: String,
    },
}

/// A trained network and how it got there.
pub struct Trained {
    /// The variant.
    pub variant: Variant,
    /// The network.
    pub net: ScoreNet,
    /// Steps taken from a checkpoint (0 without one).
    pub resumed_from: usize,
    /// Steps done in all.
    pub steps: usize,
    /// The losses of this session's steps, on the variant's own scale: the seed's `MSELoss`
    /// (mean over coordinates) as written; `appendix_torch.py`'s `‖ε̂ − ε‖²` corrected.
    pub losses: Vec<f64>,
    /// Training wall-clock seconds in this session.
    pub seconds: f64,
}

/// The network architecture of `variant`: seed 000 A.4's shape, predicting the score as
/// written and `ε` corrected; improved, the same main MLP on 64 fixed sinusoidal time
/// features (no time MLP), predicting `v`.
pub fn net_config(variant: Variant) -> ScoreNetConfig {
    let mut c = ScoreNetConfig::appendix();
    match variant {
        Variant::AsWritten => c.parameterisation = Parameterisation::Score,
        Variant::Corrected => {}
        Variant::Improved => {
            c.parameterisation = Parameterisation::V;
            c.embedding = TimeEmbedding::Sinusoidal { dim: 64 };
        }
    }
    c
}

/// The DSM settings of `variant` for `steps` steps from `seed`.
pub fn dsm_config(variant: Variant, steps: usize, seed: u64) -> DsmConfig {
    let mut c = DsmConfig::new(steps, seed);
    if variant == Variant::AsWritten {
        // A.5: uniform weight on the score error, t = i/T, i ~ U{0..T−1}.
        c.weighting = Weighting::Uniform;
        c.time_sampling = TimeSampling::Grid(SEED_T);
    }
    if variant == Variant::Improved {
        // With v-prediction the σ² weighting is α² ‖v̂ − v‖² on the VP SDE: the ε-space loss.
        c.lr_schedule = LrSchedule::Cosine;
        c.ema = Some(IMPROVED_EMA);
    }
    c.batch = Batch::Full;
    c
}

/// The decay of the improved recipe's moving average of the weights.
pub const IMPROVED_EMA: f64 = 0.999;

/// The forward process the variant trains on.
pub fn forward_process(variant: Variant, config: &AppendixConfig) -> Result<Box<dyn ForwardSde>> {
    Ok(match variant {
        Variant::AsWritten => Box::new(DiscreteVp::new(config.schedule, SEED_T)?),
        Variant::Corrected | Variant::Improved => Box::new(VpSde::default()),
    })
}

/// Trains `variant`'s network on `experiment.data` to [`AppendixConfig::steps`] steps,
/// starting from the checkpoint `resume` if given (its variant must match; its step count is
/// kept; Adam restarts with fresh moments and the training noise continues from a stream
/// derived from `(seed, step)`, so a resumed run is reproducible but not bit-identical to an
/// uninterrupted one).
pub fn train(
    variant: Variant,
    config: &AppendixConfig,
    experiment: &Experiment,
    device: &Device,
    resume: Option<&Path>,
    observe: &mut dyn FnMut(&Progress),
) -> Result<Trained> {
    config.check()?;
    let total = config.steps(variant);
    let net = ScoreNet::new(net_config(variant), device, config.seed)?;
    let mut done = 0;
    if let Some(path) = resume {
        let info = checkpoint::load(&net, path)?;
        if info.variant != variant {
            return invalid(
                "checkpoint",
                path.display().to_string(),
                format!("holds the {} network, not the {variant} one", info.variant),
            );
        }
        done = info.step;
    }
    let mut losses = Vec::new();
    let mut seconds = 0.0;
    if done < total {
        let seed = if done == 0 {
            config.seed.wrapping_add(1)
        } else {
            config.seed ^ (done as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        };
        let sde = forward_process(variant, config)?;
        let dsm = dsm_config(variant, total - done, seed);
        let log = train_dsm_observed(
            &net,
            sde.as_ref(),
            experiment.data.view(),
            &dsm,
            &mut |k, loss| {
                observe(&Progress::Train {
                    variant,
                    step: done + k,
                    total,
                    loss: loss_scale(variant, loss),
                })
            },
        )?;
        seconds = log.seconds;
        losses = log
            .losses
            .into_iter()
            .map(|l| loss_scale(variant, l))
            .collect();
    }
    Ok(Trained {
        variant,
        net,
        resumed_from: done,
        steps: done.max(total),
        losses,
        seconds,
    })
}

/// `train_dsm` sums over the 2 coordinates; the seed's `nn.MSELoss` averages them.
fn loss_scale(variant: Variant, loss: f64) -> f64 {
    match variant {
        Variant::AsWritten => loss / 2.0,
        Variant::Corrected | Variant::Improved => loss,
    }
}

/// One sampler's result.
#[derive(Debug, Clone)]
pub struct MethodRun {
    /// What ran.
    pub name: String,
    /// The samples at the end of the run.
    pub samples: Array2<f64>,
    /// A.7's snapshots `(steps done, state)`: as written, the seed's (after steps 1, 101, …, 901)
    /// plus the end; corrected, every 100 steps.
    pub snapshots: Vec<(usize, Array2<f64>)>,
    /// What A.8 analyses: as written, `samples[-1]` (after step 901); corrected, the samples.
    pub analysed: Array2<f64>,
    /// Network evaluations per sample.
    pub nfe: usize,
    /// Energy distance and sliced W2 of `samples` against the fresh reference.
    pub quality: Quality,
    /// Mean distance `‖x_end − x_T‖` a sample moved from its prior draw.
    pub displacement: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

fn snapshots(sol: &Solution, variant: Variant) -> Vec<(usize, Array2<f64>)> {
    let steps = sol.states.len() - 1;
    let mut picks: Vec<usize> = match variant {
        Variant::AsWritten => (0..10)
            .map(|k| 100 * k + 1)
            .filter(|&k| k <= steps)
            .collect(),
        Variant::Corrected | Variant::Improved => (0..=10).map(|k| k * steps / 10).collect(),
    };
    if picks.last() != Some(&steps) {
        picks.push(steps);
    }
    picks
        .into_iter()
        .map(|k| (k, sol.states[k].clone()))
        .collect()
}

fn finish(
    name: String,
    sol: Solution,
    variant: Variant,
    ex: &Experiment,
    start: Instant,
) -> Result<MethodRun> {
    let samples = sol.last().clone();
    let quality = quality(samples.view(), ex.reference.view())?;
    let displacement = (&samples - &ex.prior)
        .map_axis(Axis(1), |r| r.dot(&r).sqrt())
        .mean()
        .unwrap_or(f64::NAN);
    let (snaps, analysed) = if sol.states.len() > 1 {
        let snaps = snapshots(&sol, variant);
        let analysed = match variant {
            Variant::AsWritten => snaps[snaps.len().saturating_sub(2)].1.clone(),
            Variant::Corrected | Variant::Improved => samples.clone(),
        };
        (snaps, analysed)
    } else {
        (vec![(0, samples.clone())], samples.clone())
    };
    Ok(MethodRun {
        name,
        analysed,
        snapshots: snaps,
        samples,
        nfe: sol.nfe,
        quality,
        displacement,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs the variant's samplers with `trained`'s network from `experiment.prior`, noise from
/// `seed + 11`.
///
/// As written: A.6's SDE and ODE updates, and — as a control separating "bad sampler" from
/// "bad network" — the consistent reverse SDE of the same discrete process
/// (`β(t) = β_i T`, full drift) with the same network. Corrected: reverse-SDE
/// Euler–Maruyama, PF-ODE Euler, PF-ODE Dormand–Prince (`rtol = atol = 10⁻⁵`).
pub fn sample(
    trained: &Trained,
    config: &AppendixConfig,
    experiment: &Experiment,
    observe: &mut dyn FnMut(&Progress),
) -> Result<Vec<MethodRun>> {
    let variant = trained.variant;
    let seed = config.seed.wrapping_add(11);
    let x_t = experiment.prior.view();
    let mut out = Vec::new();
    match variant {
        Variant::AsWritten => {
            let process = DiscreteVp::new(config.schedule, SEED_T)?;
            let score = LearnedScore::new(&trained.net, &process);
            let grid = TimeGrid::uniform(1.0, 0.0, config.sampler_steps)?;
            for (noise, name) in [
                (true, "A.6 sample_sde as written"),
                (false, "A.6 sample_ode as written"),
            ] {
                observe(&Progress::Sample {
                    variant,
                    method: name.into(),
                });
                let start = Instant::now();
                let sde = AsWrittenReverse {
                    process: &process,
                    score: &score,
                    noise,
                };
                let sol =
                    EulerMaruyama.solve(&sde, x_t, &grid, Noise::Seed(seed), Record::Every(1))?;
                out.push(finish(name.into(), sol, variant, experiment, start)?);
            }
            let control = ReverseEulerMaruyama::new(config.sampler_steps);
            let name = "control: same net, consistent reverse SDE".to_string();
            observe(&Progress::Sample {
                variant,
                method: name.clone(),
            });
            let start = Instant::now();
            let sol = control.sample(&process, &score, x_t, seed, Record::Every(1))?;
            out.push(finish(name, sol, Variant::Corrected, experiment, start)?);
        }
        Variant::Corrected | Variant::Improved => {
            let sde = VpSde::default();
            let score = LearnedScore::new(&trained.net, sde);
            let samplers: [Box<dyn Sampler>; 3] = [
                Box::new(ReverseEulerMaruyama::new(config.sampler_steps)),
                Box::new(PfOde::new(PfMethod::Euler, config.sampler_steps)),
                Box::new(AdaptivePfOde::new(1e-5, 1e-5)),
            ];
            for s in samplers {
                observe(&Progress::Sample {
                    variant,
                    method: s.name(),
                });
                let start = Instant::now();
                let record = if s.name().contains("Dormand") {
                    Record::Final
                } else {
                    Record::Every(1)
                };
                let sol = s.sample(&sde, &score, x_t, seed, record)?;
                out.push(finish(s.name(), sol, variant, experiment, start)?);
            }
        }
    }
    Ok(out)
}

/// A variant's whole run.
pub struct VariantReport {
    /// Training.
    pub trained: Trained,
    /// Samplers.
    pub methods: Vec<MethodRun>,
}

/// Trains (or resumes) and samples `variant`.
pub fn run(
    variant: Variant,
    config: &AppendixConfig,
    experiment: &Experiment,
    device: &Device,
    resume: Option<&Path>,
    observe: &mut dyn FnMut(&Progress),
) -> Result<VariantReport> {
    let trained = train(variant, config, experiment, device, resume, observe)?;
    let methods = sample(&trained, config, experiment, observe)?;
    Ok(VariantReport { trained, methods })
}

/// Per-coordinate mean and (population, `np.std`) standard deviation.
pub fn mean_std(x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
    let mean = x.mean_axis(Axis(0)).expect("non-empty");
    let std = x.std_axis(Axis(0), 0.0);
    (mean, std)
}

/// One row of seed 000 A.8's `analyze_sampling_quality`.
#[derive(Debug, Clone, PartialEq)]
pub struct A8Row {
    /// `variant / method`.
    pub label: String,
    /// Sample mean.
    pub mean: Array1<f64>,
    /// Sample std.
    pub std: Array1<f64>,
    /// `‖mean − original mean‖`.
    pub mean_diff: f64,
    /// `‖std − original std‖`.
    pub std_diff: f64,
}

/// A.8 for `analysed` against the training data (the seed compares with `data`).
pub fn a8_row(label: &str, data: &Array2<f64>, analysed: &Array2<f64>) -> A8Row {
    let (m0, s0) = mean_std(data);
    let (m, s) = mean_std(analysed);
    let norm = |v: Array1<f64>| v.dot(&v).sqrt();
    A8Row {
        label: label.into(),
        mean_diff: norm(&m - &m0),
        std_diff: norm(&s - &s0),
        mean: m,
        std: s,
    }
}

/// Seed 000 A.8's figures for every method of `reports` as a text table, with the metrics
/// against fresh data and the noise floor.
pub fn a8_table(experiment: &Experiment, reports: &[&VariantReport]) -> String {
    let (m0, s0) = mean_std(&experiment.data);
    let mut t = format!(
        "{:<62} {:>16} {:>16} {:>9} {:>9} {:>9} {:>8}\n",
        "variant / method (A.8 on what the seed analyses)",
        "mean",
        "std",
        "|Δmean|",
        "|Δstd|",
        "energy",
        "SW2"
    );
    t += &format!(
        "{:<62} {:>16} {:>16} {:>9} {:>9} {:>9} {:>8}\n",
        "training data",
        fmt_pair(&m0),
        fmt_pair(&s0),
        "",
        "",
        "",
        ""
    );
    for r in reports {
        for m in &r.methods {
            let row = a8_row(&m.name, &experiment.data, &m.analysed);
            t += &format!(
                "{:<62} {:>16} {:>16} {:>9.4} {:>9.4} {:>9.4} {:>8.4}\n",
                format!("{} / {}", r.trained.variant, m.name),
                fmt_pair(&row.mean),
                fmt_pair(&row.std),
                row.mean_diff,
                row.std_diff,
                m.quality.energy,
                m.quality.sw2
            );
        }
    }
    let f = &experiment.floor;
    t += &format!(
        "noise floor (true vs true, n = {}, {} pairs): energy {:.4} [{:.4}, {:.4}], SW2 {:.4} [{:.4}, {:.4}]\n",
        f.n,
        f.reps.len(),
        f.energy_mean(),
        f.energy_band().0,
        f.energy_band().1,
        f.sw2_mean(),
        f.sw2_band().0,
        f.sw2_band().1
    );
    t
}

fn fmt_pair(v: &Array1<f64>) -> String {
    format!("({:.3}, {:.3})", v[0], v[1])
}

/// What the as-written sampler really does, in numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnosis {
    /// `Σ β_i Δt`: the variance A.6's SDE adds in all (≈ 0.01).
    pub injected_as_written: f64,
    /// `Σ β_i = ∫ β(t) dt`: what the forward process removes and a consistent reverse SDE adds back.
    pub injected_consistent: f64,
    /// `ᾱ_{T−1}`: the signal left at the end of the forward process.
    pub alpha_bar_end: f64,
    /// Per-coordinate std of the as-written SDE samples (≈ that of `N(0, I)` if nothing happened).
    pub sample_std: Array1<f64>,
    /// Per-coordinate std of the prior draw they started from.
    pub prior_std: Array1<f64>,
    /// Mean `‖x_end − x_T‖` of the as-written SDE.
    pub displacement: f64,
    /// Energy distance between the as-written SDE samples and the prior draw.
    pub energy_vs_prior: f64,
    /// Energy distance between the prior draw and the data (what "nothing happened" scores).
    pub prior_energy: f64,
}

/// [`Diagnosis`] from an as-written report (its first method is A.6's SDE).
pub fn diagnose(
    config: &AppendixConfig,
    experiment: &Experiment,
    report: &VariantReport,
) -> Result<Diagnosis> {
    if report.trained.variant != Variant::AsWritten {
        return invalid(
            "report",
            report.trained.variant,
            "diagnose takes the as-written run",
        );
    }
    let p = DiscreteVp::new(config.schedule, SEED_T)?;
    let sde = &report.methods[0];
    Ok(Diagnosis {
        injected_as_written: p.as_written_injected_variance(),
        injected_consistent: p.consistent_injected_variance(),
        alpha_bar_end: *p.alpha_bar.last().expect("T ≥ 2"),
        sample_std: mean_std(&sde.samples).1,
        prior_std: mean_std(&experiment.prior).1,
        displacement: sde.displacement,
        energy_vs_prior: crate::metrics::energy_distance(
            sde.samples.view(),
            experiment.prior.view(),
        )?,
        prior_energy: crate::metrics::energy_distance(
            experiment.prior.view(),
            experiment.reference.view(),
        )?,
    })
}
