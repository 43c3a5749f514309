//! Seed 000 §4.5's three tables, measured: the GAN, the VAE, the flow and the diffusion model
//! of chapter 4 trained on the same data with the same seeds, then measured the same way.
//!
//! | row of the seed's tables | measurement here |
//! |---|---|
//! | sample / generation quality | energy distance to fresh data, beside the noise floor of two true draws |
//! | mode collapse | modes covered, and the total-variation error of the mode weights |
//! | likelihood, "theory" | NLL of held-out data in nats: exact (flow), PF-ODE (diffusion), a bound (VAE), none (GAN) |
//! | latent space, reconstruction, invertibility | RMSE of `decode(encode(x))`: VAE, flow (exact inverse), diffusion (PF-ODE) |
//! | sampling speed, computational cost | network evaluations and wall time per 1000 samples |
//! | training stability | spread of the quality across training seeds; the loss curves |
//!
//! Mode statistics follow the usual convention of the mode-collapse literature (e.g. VEEGAN,
//! Srivastava et al. 2017): a sample is *high quality* when its Mahalanobis distance to the
//! nearest component is at most 3, and a mode is *covered* when it receives at least a quarter
//! of the high-quality samples its weight is due.

use std::time::Instant;

use candle_core::Device;
use ndarray::{Array2, ArrayView2, Axis};

use super::flow::{train_flow, FlowConfig, RealNvp};
use super::gan::{train_gan, Gan, GanConfig};
use super::vae::{train_vae, Vae, VaeConfig};
use super::TrainConfig;
use crate::data::GaussianMixture;
use crate::error::invalid;
use crate::framework::dsm::{train_dsm, Batch, DsmConfig};
use crate::framework::encoding::{decode, encode, FlowSolver};
use crate::framework::likelihood::{log_likelihood, Divergence};
use crate::framework::samplers::{
    sample_from_prior, PfMethod, PfOde, ReverseEulerMaruyama, Sampler, Schedule, Spacing,
    DEFAULT_EPS,
};
use crate::framework::VpSde;
use crate::metrics::{energy_distance, noise_floor, NoiseFloor};
use crate::models::{LearnedScore, Parameterisation, ScoreNet, ScoreNetConfig, TimeEmbedding};
use crate::{linalg, Result};

/// The data the models are compared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// Seed 000's appendix mixture: three equal modes, covariance 0.1·I.
    Appendix,
    /// Eight modes on a circle of radius 2, standard deviation 0.1, unequal weights from 0.25
    /// down to 0.05: the classic mode-collapse test, made harder by the small modes.
    Ring,
}

/// The ring's weights, largest first going round the circle.
pub const RING_WEIGHTS: [f64; 8] = [0.25, 0.2, 0.15, 0.1, 0.1, 0.08, 0.07, 0.05];

impl Dataset {
    /// Both, the appendix first.
    pub const BOTH: [Dataset; 2] = [Dataset::Appendix, Dataset::Ring];

    /// The mixture.
    pub fn mixture(self) -> GaussianMixture {
        match self {
            Dataset::Appendix => GaussianMixture::appendix_2d(),
            Dataset::Ring => {
                let k = RING_WEIGHTS.len();
                let means = Array2::from_shape_fn((k, 2), |(i, j)| {
                    let a = 2.0 * std::f64::consts::PI * i as f64 / k as f64;
                    2.0 * if j == 0 { a.cos() } else { a.sin() }
                });
                GaussianMixture::isotropic(RING_WEIGHTS.to_vec(), means, 0.01)
                    .expect("valid constants")
            }
        }
    }

    /// A name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Dataset::Appendix => "appendix mixture (3 modes)",
            Dataset::Ring => "ring (8 unequal modes)",
        }
    }
}

/// The five ways of drawing samples compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// [`Gan`]: one generator pass.
    Gan,
    /// [`Vae`]: one decoder pass.
    Vae,
    /// [`RealNvp`]: the inverse flow.
    Flow,
    /// The diffusion model sampled by the PF-ODE (Heun).
    DiffusionOde,
    /// The same network sampled by the reverse SDE (Euler–Maruyama).
    DiffusionSde,
}

impl Method {
    /// All, in table order.
    pub const ALL: [Method; 5] = [
        Method::Gan,
        Method::Vae,
        Method::Flow,
        Method::DiffusionOde,
        Method::DiffusionSde,
    ];

    /// A name for tables.
    pub fn label(self) -> &'static str {
        match self {
            Method::Gan => "GAN",
            Method::Vae => "VAE",
            Method::Flow => "flow (RealNVP)",
            Method::DiffusionOde => "diffusion, PF-ODE",
            Method::DiffusionSde => "diffusion, reverse SDE",
        }
    }
}

/// What a model's log-likelihood figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likelihood {
    /// The change of variables, exact (flow).
    Exact,
    /// The PF-ODE's instantaneous change of variables (diffusion; exact for the model the ODE defines).
    PfOde,
    /// A lower bound on `log p` (VAE: ELBO, or its importance-weighted tightening).
    Bound,
}

/// Sizes of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizes {
    /// Training points.
    pub n_train: usize,
    /// Optimiser steps of every model.
    pub steps: usize,
    /// Samples drawn per method and fresh reference points.
    pub n_eval: usize,
    /// Held-out points for likelihood and reconstruction.
    pub n_heldout: usize,
    /// Heun steps of the PF-ODE sampler (2 NFE each).
    pub ode_steps: usize,
    /// Euler–Maruyama steps of the reverse-SDE sampler.
    pub sde_steps: usize,
    /// Importance samples of the VAE's IWAE bound.
    pub iwae_k: usize,
}

impl Sizes {
    /// The notebook's and the headless example's full size.
    pub fn full() -> Self {
        Self {
            n_train: 2000,
            steps: 1500,
            n_eval: 2000,
            n_heldout: 300,
            ode_steps: 25,
            sde_steps: 250,
            iwae_k: 64,
        }
    }

    /// A reduced size that still shows the point (the test runner's).
    pub fn quick() -> Self {
        Self {
            n_train: 1000,
            steps: 800,
            n_eval: 800,
            n_heldout: 150,
            ode_steps: 20,
            sde_steps: 150,
            iwae_k: 16,
        }
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [
            ("n_train", self.n_train),
            ("steps", self.steps),
            ("n_eval", self.n_eval),
            ("n_heldout", self.n_heldout),
            ("ode_steps", self.ode_steps),
            ("sde_steps", self.sde_steps),
            ("iwae_k", self.iwae_k),
        ] {
            if v < 2 {
                return invalid(name, v, "must be ≥ 2");
            }
        }
        Ok(())
    }
}

/// How samples spread over the modes of a mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeReport {
    /// High-quality samples per component (Mahalanobis distance ≤ 3 to it, the nearest).
    pub counts: Vec<usize>,
    /// Components covered: at least a quarter of the high-quality samples their weight is due.
    pub covered: usize,
    /// Fraction of all samples that are high quality (0.989 for exact samples in 2-D).
    pub high_quality: f64,
    /// Total variation `½ Σ_k |p̂_k − w_k|` between the high-quality samples' mode frequencies
    /// and the weights (1 when there are none).
    pub weight_error: f64,
}

/// The [`ModeReport`] of `samples` under `mixture`.
pub fn modes(mixture: &GaussianMixture, samples: ArrayView2<f64>) -> Result<ModeReport> {
    if samples.ncols() != mixture.dim() {
        return Err(crate::Error::Shape(format!(
            "samples of dimension {}, the mixture's is {}",
            samples.ncols(),
            mixture.dim()
        )));
    }
    let k = mixture.weights().len();
    let precisions: Vec<Array2<f64>> = mixture
        .covs()
        .iter()
        .map(|c| Ok(linalg::inverse(linalg::cholesky("covariance", c.view())?.view())))
        .collect::<Result<_>>()?;
    let mut counts = vec![0usize; k];
    for x in samples.rows() {
        let (best, d2) = (0..k)
            .map(|c| {
                let diff = &x - &mixture.means().row(c);
                (c, diff.dot(&precisions[c].dot(&diff)))
            })
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        if d2 <= 9.0 {
            counts[best] += 1;
        }
    }
    let hq: usize = counts.iter().sum();
    let n = samples.nrows().max(1) as f64;
    let covered = counts
        .iter()
        .zip(mixture.weights())
        .filter(|(&c, &w)| c as f64 >= 0.25 * w * hq.max(1) as f64 && c > 0)
        .count();
    let weight_error = if hq == 0 {
        1.0
    } else {
        0.5 * counts
            .iter()
            .zip(mixture.weights())
            .map(|(&c, &w)| (c as f64 / hq as f64 - w).abs())
            .sum::<f64>()
    };
    Ok(ModeReport {
        counts,
        covered,
        high_quality: hq as f64 / n,
        weight_error,
    })
}

/// One method's figures for one training seed.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Which method.
    pub method: Method,
    /// The training seed.
    pub seed: u64,
    /// Energy distance of `n_eval` samples to `n_eval` fresh data points.
    pub energy: f64,
    /// Modes.
    pub modes: ModeReport,
    /// Held-out negative log-likelihood in nats (`None`: the model has no density).
    pub nll: Option<(f64, Likelihood)>,
    /// The VAE's looser ELBO-based NLL bound (`None` for the others).
    pub nll_elbo: Option<f64>,
    /// RMSE of `decode(encode(x))` on held-out data (`None`: no encoder).
    pub reconstruction: Option<f64>,
    /// Network evaluations per sample.
    pub nfe: usize,
    /// Wall-clock seconds per 1000 samples.
    pub sample_seconds_per_1000: f64,
    /// Training wall-clock seconds (the two diffusion samplers share one network).
    pub train_seconds: f64,
    /// The training losses (the GAN's generator; the diffusion model's DSM loss).
    pub losses: Vec<f64>,
    /// The samples.
    pub samples: Array2<f64>,
}

/// The comparison's settings beside its data.
struct Bench<'a> {
    mixture: &'a GaussianMixture,
    data: Array2<f64>,
    reference: Array2<f64>,
    heldout: Array2<f64>,
    sizes: &'a Sizes,
    seed: u64,
}

impl Bench<'_> {
    #[allow(clippy::too_many_arguments)]
    fn measure(
        &self,
        method: Method,
        sample: &mut dyn FnMut(usize, u64) -> Result<Array2<f64>>,
        nfe: usize,
        nll: Option<(f64, Likelihood)>,
        reconstruction: Option<f64>,
        train_seconds: f64,
        losses: Vec<f64>,
    ) -> Result<Measurement> {
        let start = Instant::now();
        let samples = sample(self.sizes.n_eval, self.seed.wrapping_add(100))?;
        let seconds = start.elapsed().as_secs_f64();
        crate::error::all_finite(format!("{} samples", method.label()), samples.iter())?;
        Ok(Measurement {
            method,
            seed: self.seed,
            energy: energy_distance(samples.view(), self.reference.view())?,
            modes: modes(self.mixture, samples.view())?,
            nll,
            nll_elbo: None,
            reconstruction,
            nfe,
            sample_seconds_per_1000: seconds * 1000.0 / self.sizes.n_eval as f64,
            train_seconds,
            losses,
            samples,
        })
    }
}

fn rmse(a: &Array2<f64>, b: ArrayView2<f64>) -> f64 {
    ((a - &b).mapv(|v| v * v).sum() / a.nrows() as f64).sqrt()
}

/// The diffusion model's minibatch: larger than the rivals' 256, since each DSM term draws its
/// own time and noise (a noisier loss); the training-time column shows what it costs.
pub const DIFFUSION_BATCH: usize = 1000;

/// The diffusion model's network: seed 000's appendix MLP shape at 2 × 128, Gaussian Fourier
/// time features, predicting `ε`.
pub fn diffusion_net_config() -> ScoreNetConfig {
    ScoreNetConfig {
        hidden: vec![128, 128],
        embedding: TimeEmbedding::GaussianFourier {
            dim: 16,
            scale: 2.0,
        },
        parameterisation: Parameterisation::Epsilon,
        ..ScoreNetConfig::appendix()
    }
}

/// Trains every model on `dataset` with training seed `seed` and measures each method.
///
/// Data from `seed`, reference from `seed + 1`, held-out points from `seed + 2`; networks
/// initialised from `seed + 3…`; the samplers' draws from `seed + 100`. `log_every` prints
/// each training run's progress.
pub fn run_seed(
    dataset: Dataset,
    seed: u64,
    sizes: &Sizes,
    device: &Device,
    log_every: Option<usize>,
) -> Result<Vec<Measurement>> {
    sizes.check()?;
    let mixture = dataset.mixture();
    let bench = Bench {
        mixture: &mixture,
        data: mixture.sample(sizes.n_train, seed),
        reference: mixture.sample(sizes.n_eval, seed.wrapping_add(1)),
        heldout: mixture.sample(sizes.n_heldout, seed.wrapping_add(2)),
        sizes,
        seed,
    };
    let train = TrainConfig {
        log_every,
        ..TrainConfig::new(sizes.steps, seed.wrapping_add(4))
    };
    let heldout = bench.heldout.view();
    let mut out = Vec::with_capacity(Method::ALL.len());

    if log_every.is_some() {
        println!("{} · seed {seed} · GAN", dataset.label());
    }
    let gan = Gan::new(GanConfig::small_2d(), device, seed.wrapping_add(3))?;
    let log = train_gan(&gan, bench.data.view(), &train)?;
    out.push(bench.measure(
        Method::Gan,
        &mut |n, s| gan.sample(n, s),
        1,
        None,
        None,
        log.generator.seconds,
        log.generator.losses,
    )?);

    if log_every.is_some() {
        println!("{} · seed {seed} · VAE", dataset.label());
    }
    let vae = Vae::new(VaeConfig::small_2d(), device, seed.wrapping_add(3))?;
    let log = train_vae(&vae, bench.data.view(), &train)?;
    let (elbo, iwae) = vae.log_likelihood_bounds(heldout, sizes.iwae_k, seed.wrapping_add(5))?;
    let mut m = bench.measure(
        Method::Vae,
        &mut |n, s| vae.sample(n, s),
        1,
        Some((-iwae.mean().unwrap_or(f64::NAN), Likelihood::Bound)),
        Some(rmse(&vae.reconstruct(heldout)?, heldout)),
        log.seconds,
        log.losses,
    )?;
    m.nll_elbo = Some(-elbo.mean().unwrap_or(f64::NAN));
    out.push(m);

    if log_every.is_some() {
        println!("{} · seed {seed} · flow", dataset.label());
    }
    let flow = RealNvp::new(FlowConfig::small_2d(), device, seed.wrapping_add(3))?;
    let log = train_flow(&flow, bench.data.view(), &train)?;
    let nll = -flow.log_density(heldout)?.mean().unwrap_or(f64::NAN);
    let round_trip = flow.inverse(flow.forward(heldout)?.0.view())?;
    out.push(bench.measure(
        Method::Flow,
        &mut |n, s| flow.sample(n, s),
        flow.nfe(),
        Some((nll, Likelihood::Exact)),
        Some(rmse(&round_trip, heldout)),
        log.seconds,
        log.losses,
    )?);

    if log_every.is_some() {
        println!("{} · seed {seed} · diffusion (DSM)", dataset.label());
    }
    let vp = VpSde::default();
    let net = ScoreNet::new(diffusion_net_config(), device, seed.wrapping_add(3))?;
    let log = train_dsm(
        &net,
        &vp,
        bench.data.view(),
        &DsmConfig {
            lr: 2e-3,
            batch: Batch::Mini(DIFFUSION_BATCH.min(sizes.n_train)),
            log_every,
            ..DsmConfig::new(sizes.steps, seed.wrapping_add(4))
        },
    )?;
    let score = LearnedScore::new(&net, vp);
    let ode = FlowSolver::Rk4 {
        steps: 2 * sizes.ode_steps,
    };
    let ll = log_likelihood(&vp, &score, heldout, DEFAULT_EPS, Divergence::Exact, ode)?;
    let latents = encode(&vp, &score, heldout, DEFAULT_EPS, ode)?;
    let back = decode(&vp, &score, latents.view(), DEFAULT_EPS, ode)?;
    let samplers: [(Method, Box<dyn Sampler>); 2] = [
        (
            Method::DiffusionOde,
            Box::new(PfOde {
                method: PfMethod::Heun,
                schedule: Schedule::new(sizes.ode_steps).spacing(Spacing::LogSnr),
            }),
        ),
        (
            Method::DiffusionSde,
            Box::new(ReverseEulerMaruyama::new(sizes.sde_steps)),
        ),
    ];
    for (method, sampler) in samplers {
        let mut nfe = 0;
        let mut m = bench.measure(
            method,
            &mut |n, s| {
                let sol = sample_from_prior(sampler.as_ref(), &vp, &score, n, 2, s)?;
                nfe = sol.nfe;
                Ok(sol.last().clone())
            },
            0,
            Some((ll.nll(), Likelihood::PfOde)),
            Some(rmse(&back, heldout)),
            log.seconds,
            log.losses.clone(),
        )?;
        m.nfe = nfe;
        out.push(m);
    }
    Ok(out)
}

/// Mean and sample standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub sd: f64,
}

impl Spread {
    /// Of `values` (NaN for none).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self { mean, sd }
    }

    /// `mean ± sd` with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!("{:.*} ± {:.*}", digits, self.mean, digits, self.sd)
    }
}

/// One method over all seeds.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Which method.
    pub method: Method,
    /// Energy distance to fresh data.
    pub energy: Spread,
    /// Modes covered.
    pub covered: Spread,
    /// Seeds in which every mode was covered.
    pub seeds_all_covered: usize,
    /// Mode-weight error (total variation).
    pub weight_error: Spread,
    /// Held-out NLL and its kind.
    pub nll: Option<(Spread, Likelihood)>,
    /// The VAE's ELBO-based NLL bound.
    pub nll_elbo: Option<Spread>,
    /// Reconstruction RMSE.
    pub reconstruction: Option<Spread>,
    /// Network evaluations per sample.
    pub nfe: usize,
    /// Seconds per 1000 samples.
    pub sample_seconds: Spread,
    /// Training seconds.
    pub train_seconds: Spread,
}

/// A comparison on one dataset over several training seeds.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The data.
    pub dataset: Dataset,
    /// Every measurement, seed by seed in [`Method::ALL`] order.
    pub runs: Vec<Measurement>,
    /// The energy distance between two true draws of `n_eval` points.
    pub floor: NoiseFloor,
    /// The true mixture's held-out NLL (first seed's held-out points).
    pub true_nll: f64,
    /// The number of modes.
    pub components: usize,
}

/// [`run_seed`] for every seed of `seeds`, with the noise floor and the true NLL.
pub fn compare(
    dataset: Dataset,
    seeds: &[u64],
    sizes: &Sizes,
    device: &Device,
    log_every: Option<usize>,
) -> Result<Comparison> {
    if seeds.is_empty() {
        return invalid("seeds", "[]", "need at least one training seed");
    }
    let mixture = dataset.mixture();
    let mut runs = Vec::new();
    for &seed in seeds {
        runs.extend(run_seed(dataset, seed, sizes, device, log_every)?);
    }
    let heldout = mixture.sample(sizes.n_heldout, seeds[0].wrapping_add(2));
    Ok(Comparison {
        dataset,
        floor: noise_floor(&mixture, sizes.n_eval, 10, 7919)?,
        true_nll: -mixture.log_density(heldout.view())?.mean().unwrap_or(f64::NAN),
        components: mixture.weights().len(),
        runs,
    })
}

impl Comparison {
    /// The measurements of `method`, one per seed.
    pub fn of(&self, method: Method) -> Vec<&Measurement> {
        self.runs.iter().filter(|m| m.method == method).collect()
    }

    /// The summary of `method` over the seeds.
    pub fn summary(&self, method: Method) -> Summary {
        let runs = self.of(method);
        let spread = |f: &dyn Fn(&Measurement) -> f64| {
            Spread::of(&runs.iter().map(|m| f(m)).collect::<Vec<_>>())
        };
        let first = runs[0];
        Summary {
            method,
            energy: spread(&|m| m.energy),
            covered: spread(&|m| m.modes.covered as f64),
            seeds_all_covered: runs
                .iter()
                .filter(|m| m.modes.covered == self.components)
                .count(),
            weight_error: spread(&|m| m.modes.weight_error),
            nll: first
                .nll
                .map(|(_, kind)| (spread(&|m| m.nll.map_or(f64::NAN, |v| v.0)), kind)),
            nll_elbo: first
                .nll_elbo
                .map(|_| spread(&|m| m.nll_elbo.unwrap_or(f64::NAN))),
            reconstruction: first
                .reconstruction
                .map(|_| spread(&|m| m.reconstruction.unwrap_or(f64::NAN))),
            nfe: first.nfe,
            sample_seconds: spread(&|m| m.sample_seconds_per_1000),
            train_seconds: spread(&|m| m.train_seconds),
        }
    }

    /// The headline table: one row per method, columns as in [`HEADLINE`].
    pub fn headline(&self) -> Vec<Vec<String>> {
        Method::ALL
            .iter()
            .map(|&method| {
                let s = self.summary(method);
                let nll = match (s.nll, s.nll_elbo) {
                    (Some((v, Likelihood::Bound)), Some(e)) => {
                        format!("≤ {} (IWAE); ≤ {} (ELBO)", v.show(2), e.show(2))
                    }
                    (Some((v, Likelihood::Exact)), _) => format!("{} (exact)", v.show(2)),
                    (Some((v, _)), _) => format!("{} (PF-ODE)", v.show(2)),
                    (None, _) => "— (no density)".into(),
                };
                vec![
                    method.label().to_string(),
                    s.energy.show(4),
                    format!("{} / {}", s.covered.show(1), self.components),
                    format!("{}/{}", s.seeds_all_covered, self.of(method).len()),
                    s.weight_error.show(3),
                    nll,
                    s.reconstruction
                        .map_or("— (no encoder)".into(), |r| format!("{:.1e}", r.mean)),
                    s.nfe.to_string(),
                    format!("{:.1}", 1000.0 * s.sample_seconds.mean),
                    s.train_seconds.show(1),
                ]
            })
            .collect()
    }

    /// One line for under the table: the floor and the true NLL.
    pub fn reference_line(&self) -> String {
        let (lo, hi) = self.floor.energy_band();
        format!(
            "{}: noise floor (two true draws) {:.4} [{lo:.4}, {hi:.4}]; true mixture NLL {:.2} nats",
            self.dataset.label(),
            self.floor.energy_mean(),
            self.true_nll
        )
    }

    /// The table as text (for the headless example).
    pub fn to_text(&self) -> String {
        let mut rows = vec![HEADLINE.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
        rows.extend(self.headline());
        let widths: Vec<usize> = (0..HEADLINE.len())
            .map(|j| rows.iter().map(|r| r[j].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in rows {
            for (j, cell) in r.iter().enumerate() {
                out.push_str(&format!("{cell:<w$}  ", w = widths[j]));
            }
            out.push('\n');
        }
        out.push_str(&self.reference_line());
        out.push('\n');
        out
    }

    /// The energy distances of one method, seed by seed.
    pub fn energies(&self, method: Method) -> Vec<f64> {
        self.of(method).iter().map(|m| m.energy).collect()
    }

    /// The samples of one method and seed, as `(x, y)` pairs (for plots).
    pub fn points(&self, method: Method, seed: u64) -> Vec<(f64, f64)> {
        self.runs
            .iter()
            .find(|m| m.method == method && m.seed == seed)
            .map(|m| {
                m.samples
                    .axis_iter(Axis(0))
                    .map(|r| (r[0], r[1]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Column headers of [`Comparison::headline`].
pub const HEADLINE: [&str; 10] = [
    "method",
    "energy distance (mean ± sd)",
    "modes covered",
    "seeds with all modes",
    "mode-weight error (TV)",
    "held-out NLL (nats)",
    "reconstruction RMSE",
    "NFE / sample",
    "ms / 1000 samples",
    "training s",
];

/// Which of seed 000 §4.5's three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedTable {
    /// §4.5.1, diffusion vs GAN.
    Gan,
    /// §4.5.2, diffusion vs VAE.
    Vae,
    /// §4.5.3, diffusion vs flow.
    Flow,
}

/// Column headers of [`seed_table`].
pub const SEED_TABLE: [&str; 5] = [
    "feature (seed's row)",
    "seed: diffusion",
    "seed: rival",
    "measured: diffusion",
    "measured: rival",
];

/// One of seed 000 §4.5's tables with its adjectives beside the measurements of `c`: quality
/// and modes from the reverse SDE, likelihood and round trips from the PF-ODE, costs of both.
pub fn seed_table(which: SeedTable, c: &Comparison) -> Vec<Vec<String>> {
    let ode = c.summary(Method::DiffusionOde);
    let sde = c.summary(Method::DiffusionSde);
    let rival = c.summary(match which {
        SeedTable::Gan => Method::Gan,
        SeedTable::Vae => Method::Vae,
        SeedTable::Flow => Method::Flow,
    });
    let k = c.components;
    let seeds = c.of(Method::Gan).len();
    let quality = |s: &Summary| format!("ED {} (floor {:.4})", s.energy.show(4), c.floor.energy_mean());
    let stability = |s: &Summary| {
        let e = c.energies(s.method);
        let (lo, hi) = e
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        format!("ED sd {:.4}, range {lo:.4}–{hi:.4}", s.energy.sd)
    };
    let modes = |s: &Summary| {
        format!(
            "{:.1}/{k} modes; all {k} in {}/{seeds} seeds; weight error {}",
            s.covered.mean,
            s.seeds_all_covered,
            s.weight_error.show(3)
        )
    };
    let cost = |s: &Summary| {
        format!(
            "{} NFE, {:.1} ms / 1000 samples",
            s.nfe,
            1000.0 * s.sample_seconds.mean
        )
    };
    let diffusion_cost = format!("SDE {}; PF-ODE {}", cost(&sde), cost(&ode));
    let nll = |s: &Summary| match (s.nll, s.nll_elbo) {
        (None, _) => "no likelihood".to_string(),
        (Some((v, Likelihood::Bound)), Some(e)) => {
            format!("NLL ≤ {} (IWAE bound), ≤ {} (ELBO)", v.show(2), e.show(2))
        }
        (Some((v, Likelihood::Exact)), _) => format!("NLL {} (exact)", v.show(2)),
        (Some((v, _)), _) => format!("NLL {} (PF-ODE)", v.show(2)),
    };
    let truth = format!(" [true {:.2}]", c.true_nll);
    let round_trip = |s: &Summary, how: &str| match s.reconstruction {
        Some(r) => format!("{how}: RMSE {:.1e}", r.mean),
        None => "no encoder".to_string(),
    };
    let row = |f: &str, a: &str, b: &str, d: String, r: String| {
        vec![f.to_string(), a.to_string(), b.to_string(), d, r]
    };
    match which {
        SeedTable::Gan => vec![
            row("训练稳定性 training stability", "稳定 stable", "不稳定 unstable", stability(&sde), stability(&rival)),
            row("模式崩塌 mode collapse", "无 none", "常见 common", modes(&sde), modes(&rival)),
            row("采样质量 sample quality", "高 high", "可变 variable", quality(&sde), quality(&rival)),
            row("计算效率 computational efficiency", "低 low", "高 high", diffusion_cost, cost(&rival)),
            row("理论基础 theory", "坚实 solid", "相对薄弱 weaker", nll(&ode) + &truth, nll(&rival)),
        ],
        SeedTable::Vae => vec![
            row("生成质量 generation quality", "高 high", "中等 medium", quality(&sde), quality(&rival)),
            row("采样速度 sampling speed", "慢 slow", "快 fast", diffusion_cost, cost(&rival)),
            row("潜在空间 latent space", "无 none", "有 yes", round_trip(&ode, "PF-ODE latent, decode(encode(x))"), round_trip(&rival, "encoder mean, decode(encode(x))")),
            row("重构质量 reconstruction", "高 high", "中等 medium", round_trip(&ode, "PF-ODE"), round_trip(&rival, "VAE")),
            row("理论基础 theory", "坚实 solid", "坚实 solid", nll(&ode) + &truth, nll(&rival)),
        ],
        SeedTable::Flow => vec![
            row("可逆性 invertibility", "不可逆 not invertible", "可逆 invertible", round_trip(&ode, "PF-ODE inverse"), round_trip(&rival, "exact inverse")),
            row("采样速度 sampling speed", "慢 slow", "快 fast", diffusion_cost, cost(&rival)),
            row(
                "计算复杂度 computational cost",
                "高 high",
                "中等 medium",
                format!("training {} s", sde.train_seconds.show(1)),
                format!("training {} s", rival.train_seconds.show(1)),
            ),
            row("表达能力 expressivity", "强 strong", "受架构限制 limited by architecture", format!("{}; {}", quality(&sde), modes(&sde)), format!("{}; {}", quality(&rival), modes(&rival))),
            row("训练稳定性 training stability", "稳定 stable", "相对稳定 fairly stable", stability(&sde), stability(&rival)),
        ],
    }
}
