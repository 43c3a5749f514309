//! Denoising score matching (seed 001 §3.2.1, seed 000 §4.4.1, seed 002 §2 and §4):
//!
//! ```text
//! L(θ) = E_{t ~ p_time} E_{x_0 ~ data} E_{ε ~ N(0,I)} λ(t) ‖ s_θ(α_t x_0 + σ_t ε, t) + ε/σ_t ‖²,
//! ```
//!
//! the conditional score `∇log p_t(x_t | x_0) = −ε/σ_t` standing in for the unknown
//! `∇log p_t(x_t)`. Seed 001's proposition: the minimiser is `s*(x_t, t) = E[∇log p_t(x_t|x_0) | x_t]
//! = ∇log p_t(x_t)` — checked in `tests/framework_dsm.rs` by training on a mixture whose
//! `∇log p_t` is known ([`score_error`]) and by comparing losses ([`dsm_loss`]).
//!
//! The loss is computed in the network's own output space ([`Parameterisation`]): with
//! `s_θ − (−ε/σ) = ± c(t) (o − target)` it is `λ(t) c(t)² ‖o − target‖²`; for `ε`-prediction
//! with `λ = σ²` that is the appendix's `‖ε̂ − ε‖²`.
//!
//! Training is seeded (times, noise, minibatch order, label dropout; initialisation through
//! the network's constructor); progress goes to stdout every `log_every` steps (a notebook
//! shows it under the cell, a terminal as lines) and the whole loss history is returned.
//!
//! Every [`DenoisingNet`] trains here: the MLP [`crate::models::ScoreNet`] on points and the
//! U-Net [`crate::models::UNet`] on images. [`train_dsm_conditional`] trains a
//! class-conditional network with label dropout for classifier-free guidance (seed 002 §6).
//! One optimisation loop serves every training run of the crate — DSM, conditional DSM, flow
//! matching ([`super::flow_matching`]) and the noisy classifier
//! ([`super::guidance::train_classifier`]).

use std::time::Instant;

use candle_core::Tensor;
use candle_nn::{Optimizer, ParamsAdamW};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::Rng as _;

use super::ForwardSde;
use crate::error::{invalid, positive};
use crate::models::kernels::in_pool;
use crate::models::{to_tensor, DenoisingNet, Gradients, Parameterisation};
use crate::rng::{self, Rng};
use crate::sde_basics::{Diffusion, Score};
use crate::{Error, Result};

/// The time weighting `λ(t)` of the score-space loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weighting {
    /// `λ = 1`.
    Uniform,
    /// `λ = σ_t²` (Song & Ermon; for `ε`-prediction this is DDPM's simple loss).
    SigmaSquared,
    /// `λ = g(t)²` (Song et al. 2021's likelihood weighting: the loss bounds the KL).
    Likelihood,
    /// `λ = α_t²`: seed 002 §4.2's "SNR-weighted" `ε`-loss, `SNR(t) ‖ε̂ − ε‖²` with
    /// `SNR = α²/σ²`, in score space (`‖ε̂ − ε‖² = σ² ‖ŝ − s‖²`); in `x₀` it is
    /// `SNR² ‖x̂₀ − x₀‖²`.
    Snr,
    /// `λ = g(t)² · sech(ℓ/2) = g² · 2ασ/(α² + σ²)`, `ℓ = log(α²/σ²)` the log-SNR: seed
    /// 002 §4.2's "cosine: smooth weighting", which the seed leaves without a formula, read as
    /// Kingma & Gao (2023) define it — the weighting under which uniform-time training on
    /// *any* schedule is uniform-time `ε`-training (`λ_ε = 1`) on the cosine schedule, whose
    /// log-SNR has density `sech(ℓ/2)/(2π)`. Since `|dℓ/dt| = g²/σ²` for every SDE with
    /// linear drift, the `ε`-space weight `|dℓ/dt| sech(ℓ/2)` is this `λ` over `σ²`; on the
    /// cosine schedule itself (`s → 0`) it is `2πσ²`, the uniform `ε` weight.
    Cosine,
}

impl Weighting {
    /// `λ(t)` for `sde`.
    pub fn lambda(self, sde: &dyn ForwardSde, t: f64) -> Result<f64> {
        let g2 = || match sde.diffusion(Array2::zeros((1, 1)).view(), t)? {
            Diffusion::Scalar(g) => Ok(g * g),
            other => Err(Error::Shape(format!(
                "the {self:?} weighting needs a scalar diffusion, got {other:?}"
            ))),
        };
        Ok(match self {
            Weighting::Uniform => 1.0,
            Weighting::SigmaSquared => sde.marginal_mean_std(t)?.1.powi(2),
            Weighting::Snr => sde.marginal_mean_std(t)?.0.powi(2),
            Weighting::Likelihood => g2()?,
            Weighting::Cosine => {
                let (a, s) = sde.marginal_mean_std(t)?;
                g2()? * 2.0 * a * s / (a * a + s * s)
            }
        })
    }
}

/// How the times of a batch are drawn on `[ε, T]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSampling {
    /// Independent uniform times.
    Uniform,
    /// One uniform time in each of `n` equal strata, shuffled over the batch (lower variance).
    Stratified,
    /// Seed 000 A.5's discrete timesteps: `t = i/points` with `i` uniform on `{0, …, points−1}`
    /// (scaled by `T`; `ε` is not used).
    Grid(usize),
}

/// Full batch or minibatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Every data point every step.
    Full,
    /// This many points per step, from a seeded reshuffle each epoch.
    Mini(usize),
}

/// How the learning rate moves over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrSchedule {
    /// `lr` at every step.
    Constant,
    /// Half a cosine from `lr` to 0 (Loshchilov & Hutter 2017; PyTorch's `CosineAnnealingLR`
    /// with `T_max = steps`): step `k = 0, 1, …, K−1` uses `lr · ½ (1 + cos(π k / K))`.
    Cosine,
}

impl LrSchedule {
    /// The learning rate of step `k` (from 0) of `steps`, starting from `lr`.
    pub fn rate(self, lr: f64, k: usize, steps: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                lr * 0.5 * (1.0 + (std::f64::consts::PI * k as f64 / steps as f64).cos())
            }
        }
    }
}

/// Settings of a DSM training run.
#[derive(Debug, Clone, PartialEq)]
pub struct DsmConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Full batch or minibatches.
    pub batch: Batch,
    /// `λ(t)`.
    pub weighting: Weighting,
    /// How times are drawn.
    pub time_sampling: TimeSampling,
    /// Smallest time `ε > 0`.
    pub t_eps: f64,
    /// Seed of times, noise and minibatch order.
    pub seed: u64,
    /// Print `step k/K loss …` to stdout every this many steps (`None`: silent).
    pub log_every: Option<usize>,
    /// The learning-rate schedule ([`LrSchedule::Constant`] by default).
    pub lr_schedule: LrSchedule,
    /// `Some(decay)`: keep an exponential moving average of the weights,
    /// `m ← decay · m + (1 − decay) · θ` after every step from `m = 0`, and leave the network
    /// holding the bias-corrected average `θ̄ = m / (1 − decayᴷ)` after `K` steps — the
    /// weights the samplers then use (Polyak averaging; DDPM's 0.9999). Starting from 0 and
    /// correcting, as Adam does its moments, keeps the random initial weights out of the
    /// average (started from `θ_0` instead, `0.999¹⁵⁰⁰ ≈ 22 %` of them would remain after 1500
    /// steps). `None` (the default): the last iterate.
    pub ema: Option<f64>,
}

impl DsmConfig {
    /// The appendix's run: Adam `lr = 10⁻³`, full batch, `σ²` weighting (`ε`-MSE), uniform
    /// times on `[10⁻³, T]`, silent.
    pub fn new(steps: usize, seed: u64) -> Self {
        Self {
            steps,
            lr: 1e-3,
            batch: Batch::Full,
            weighting: Weighting::SigmaSquared,
            time_sampling: TimeSampling::Uniform,
            t_eps: 1e-3,
            seed,
            log_every: None,
            lr_schedule: LrSchedule::Constant,
            ema: None,
        }
    }
}

/// What a run returns.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainLog {
    /// The loss at every step.
    pub losses: Vec<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl TrainLog {
    /// Optimiser steps per second.
    pub fn steps_per_second(&self) -> f64 {
        self.losses.len() as f64 / self.seconds
    }
}

pub(crate) fn check_span(sde: &dyn ForwardSde, t_eps: f64) -> Result<f64> {
    let t_max = sde.t_max();
    if !(t_eps.is_finite() && t_eps > 0.0) {
        return invalid(
            "t_eps (ε)",
            t_eps,
            "must be > 0: σ(0) = 0 makes −ε/σ infinite",
        );
    }
    if t_eps >= t_max {
        return invalid("t_eps (ε)", t_eps, format!("must be < T = {t_max}"));
    }
    Ok(t_max)
}

pub(crate) fn draw_times(
    sampling: TimeSampling,
    n: usize,
    t_eps: f64,
    t_max: f64,
    rng: &mut Rng,
) -> Vec<f64> {
    let span = t_max - t_eps;
    match sampling {
        TimeSampling::Uniform => (0..n).map(|_| t_eps + span * rng.random::<f64>()).collect(),
        TimeSampling::Stratified => {
            let mut t: Vec<f64> = (0..n)
                .map(|i| t_eps + span * (i as f64 + rng.random::<f64>()) / n as f64)
                .collect();
            t.shuffle(rng);
            t
        }
        TimeSampling::Grid(points) => (0..n)
            .map(|_| t_max * rng.random_range(0..points) as f64 / points as f64)
            .collect(),
    }
}

/// A batch of a regression (DSM, flow matching): perturbed points, times, targets and per-row
/// weights.
pub(crate) struct RegressionBatch {
    pub x_t: Array2<f64>,
    pub t: Vec<f64>,
    pub target: Array2<f64>,
    pub weight: Vec<f64>,
}

fn dsm_batch(
    sde: &dyn ForwardSde,
    x0: ArrayView2<f64>,
    param: Parameterisation,
    weighting: Weighting,
    t: Vec<f64>,
    rng: &mut Rng,
) -> Result<RegressionBatch> {
    let (n, d) = x0.dim();
    let eps = rng::normals(rng, n, d);
    let mut alpha = Vec::with_capacity(n);
    let mut sigma = Vec::with_capacity(n);
    let mut weight = Vec::with_capacity(n);
    for &ti in &t {
        let (a, s) = sde.marginal_mean_std(ti)?;
        alpha.push(a);
        sigma.push(s);
        weight.push(weighting.lambda(sde, ti)? * param.score_factor(a, s).powi(2));
    }
    let a = Array1::from(alpha.clone()).insert_axis(Axis(1));
    let s = Array1::from(sigma.clone()).insert_axis(Axis(1));
    let x_t = &x0 * &a + &eps * &s;
    let target = param.target(x0, eps.view(), &alpha, &sigma);
    Ok(RegressionBatch {
        x_t,
        t,
        target,
        weight,
    })
}

/// Trains `net` by denoising score matching on `data` (`n × d`) under `sde`; a
/// class-conditional network is trained unconditionally (every label `∅`).
///
/// Errors on bad settings, a data/model mismatch (dimension; for images, the pixel range),
/// and — stopping at once, naming the step — a non-finite loss.
pub fn train_dsm<N: DenoisingNet + ?Sized>(
    net: &N,
    sde: &dyn ForwardSde,
    data: ArrayView2<f64>,
    config: &DsmConfig,
) -> Result<TrainLog> {
    train_dsm_observed(net, sde, data, config, &mut |_, _| {})
}

/// [`train_dsm`], calling `observe(step, loss)` after every step (e.g. a terminal progress bar).
pub fn train_dsm_observed<N: DenoisingNet + ?Sized>(
    net: &N,
    sde: &dyn ForwardSde,
    data: ArrayView2<f64>,
    config: &DsmConfig,
    observe: &mut dyn FnMut(usize, f64),
) -> Result<TrainLog> {
    fit_regression(
        net,
        sde,
        data,
        None,
        config,
        "DSM",
        observe,
        &mut |x0, t, rng| dsm_batch(sde, x0, net.parameterisation(), config.weighting, t, rng),
    )
}

/// Denoising score matching of a class-conditional network (seed 002 §6, classifier-free
/// guidance; Ho & Salimans 2022): each point is trained with its label `labels[i]`, replaced
/// by the null label `∅` with probability `p_uncond` (drawn from `config.seed`), so the one
/// network learns `∇log p_t(x | y)` and `∇log p_t(x)` together.
///
/// Errors on a network without classes, a label `≥ classes`, `p_uncond ∉ [0, 1]`, and as
/// [`train_dsm`].
pub fn train_dsm_conditional<N: DenoisingNet + ?Sized>(
    net: &N,
    sde: &dyn ForwardSde,
    data: ArrayView2<f64>,
    labels: &[usize],
    p_uncond: f64,
    config: &DsmConfig,
) -> Result<TrainLog> {
    net.label_index(None)?;
    if !(0.0..=1.0).contains(&p_uncond) {
        return invalid("p_uncond", p_uncond, "must be a probability in [0, 1]");
    }
    if labels.len() != data.nrows() {
        return Err(Error::Shape(format!(
            "{} labels for {} data points",
            labels.len(),
            data.nrows()
        )));
    }
    for &y in labels {
        net.label_index(Some(y))?;
    }
    let dropout = LabelDropout { labels, p_uncond };
    fit_regression(
        net,
        sde,
        data,
        Some(dropout),
        config,
        "conditional DSM",
        &mut |_, _| {},
        &mut |x0, t, rng| dsm_batch(sde, x0, net.parameterisation(), config.weighting, t, rng),
    )
}

/// Labels of the data and the probability of replacing one by `∅` in a training step.
#[derive(Clone, Copy)]
pub(crate) struct LabelDropout<'a> {
    pub labels: &'a [usize],
    pub p_uncond: f64,
}

/// What a regression batch is made from: the clean points, their times and the generator.
pub(crate) type MakeBatch<'a> =
    dyn FnMut(ArrayView2<f64>, Vec<f64>, &mut Rng) -> Result<RegressionBatch> + 'a;

/// The weighted regression `mean_i w_i ‖net(x_t, t[, y]) − target‖²` over `config`'s steps,
/// times and minibatches, with batches from `make_batch` (DSM here; flow matching in
/// [`super::flow_matching`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_regression<N: DenoisingNet + ?Sized>(
    net: &N,
    sde: &dyn ForwardSde,
    data: ArrayView2<f64>,
    labels: Option<LabelDropout>,
    config: &DsmConfig,
    what: &str,
    observe: &mut dyn FnMut(usize, f64),
    make_batch: &mut MakeBatch,
) -> Result<TrainLog> {
    if config.time_sampling == TimeSampling::Grid(0) {
        return invalid("TimeSampling::Grid", 0, "needs at least one grid point");
    }
    let t_max = check_span(sde, config.t_eps)?;
    net.check_data(data)?;
    let device = net.device().clone();
    optimise(
        net.trainable_vars(),
        data.nrows(),
        config,
        what,
        observe,
        &mut |rows, rng| {
            let m = rows.len();
            let x0 = data.select(Axis(0), rows);
            let t = draw_times(config.time_sampling, m, config.t_eps, t_max, rng);
            let b = make_batch(x0.view(), t, rng)?;
            let x_t = to_tensor(b.x_t.view(), &device)?;
            let tt = column(&b.t, &device)?;
            let target = to_tensor(b.target.view(), &device)?;
            let w = column(&b.weight, &device)?;
            let y = match labels {
                None => None,
                Some(LabelDropout { labels, p_uncond }) => {
                    let null = net.label_index(None)?;
                    let y: Vec<u32> = rows
                        .iter()
                        .map(|&i| {
                            if rng.random::<f64>() < p_uncond {
                                null
                            } else {
                                labels[i] as u32
                            }
                        })
                        .collect();
                    Some(Tensor::from_vec(y, m, &device)?)
                }
            };
            // The step's forward and backward pass on a thread of rayon's pool (see `in_pool`).
            let (loss, grads) = in_pool(&device, || {
                net.regression_loss(&x_t, &tt, y.as_ref(), &target, &w)
            })?;
            Ok(Objective {
                loss,
                grads: Some(grads),
            })
        },
    )
}

/// A training step's loss and, when the model computed them itself, the gradients of its
/// variables (`None`: [`optimise`] backpropagates through the loss's graph).
pub(crate) struct Objective {
    pub loss: Tensor,
    pub grads: Option<Gradients>,
}

impl From<Tensor> for Objective {
    fn from(loss: Tensor) -> Self {
        Self { loss, grads: None }
    }
}

/// A column `m × 1` of `f32` on `device`.
pub(crate) fn column(values: &[f64], device: &candle_core::Device) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        values.iter().map(|&v| v as f32).collect::<Vec<_>>(),
        (values.len(), 1),
        device,
    )?)
}

/// The optimisation loop shared by every training run of the crate (DSM, conditional DSM,
/// flow matching, the noisy classifier): AdamW ([`crate::models::Adam`]: candle-nn's numbers,
/// fused on the CPU) with `config.lr` and no weight decay over `config.steps` steps, each on
/// the rows `config.batch` picks from `0..n` (a seeded reshuffle per epoch for minibatches),
/// the loss — and, where the model computes them itself, the gradients — from
/// `objective(rows, rng)`; seeded from `config.seed`; progress to stdout every
/// `config.log_every` steps; the learning rate from `config.lr_schedule`, and the weights left
/// in `vars` the moving average `config.ema` when given. Stops with an error naming the step
/// at a non-finite loss (`what` names the loss).
pub(crate) fn optimise(
    vars: Vec<candle_core::Var>,
    n: usize,
    config: &DsmConfig,
    what: &str,
    observe: &mut dyn FnMut(usize, f64),
    objective: &mut dyn FnMut(&[usize], &mut Rng) -> Result<Objective>,
) -> Result<TrainLog> {
    positive("lr", config.lr)?;
    if config.steps == 0 {
        return invalid("steps", 0, "need at least one step");
    }
    if n == 0 {
        return invalid("data.nrows()", 0, "need at least one data point");
    }
    let m = match config.batch {
        Batch::Full => n,
        Batch::Mini(m) if m == 0 || m > n => {
            return invalid(
                "Batch::Mini",
                m,
                format!("must lie in 1..={n} (the data size)"),
            )
        }
        Batch::Mini(m) => m,
    };
    if config.log_every == Some(0) {
        return invalid("log_every", 0, "must be ≥ 1 (or None)");
    }
    if let Some(decay) = config.ema {
        if !(0.0..1.0).contains(&decay) {
            return invalid(
                "ema",
                decay,
                "the decay of a moving average must lie in [0, 1)",
            );
        }
    }
    let mut average = match config.ema {
        Some(decay) => Some(Ema::new(&vars, decay)?),
        None => None,
    };
    let params = ParamsAdamW {
        lr: config.lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut opt = crate::models::Adam::new(vars, params)?;
    let mut rng = rng::seeded(config.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let mut cursor = n; // forces a shuffle before the first minibatch
    let mut losses = Vec::with_capacity(config.steps);
    let start = Instant::now();
    for step in 1..=config.steps {
        let rows = if m == n {
            &order[..]
        } else {
            if cursor + m > n {
                order.shuffle(&mut rng);
                cursor = 0;
            }
            cursor += m;
            &order[cursor - m..cursor]
        };
        let rows = rows.to_vec();
        if config.lr_schedule != LrSchedule::Constant {
            opt.set_learning_rate(config.lr_schedule.rate(config.lr, step - 1, config.steps));
        }
        let Objective { loss, grads } = objective(&rows, &mut rng)?;
        let value = f64::from(loss.to_scalar::<f32>()?);
        if !value.is_finite() {
            return Err(Error::Numerical(format!(
                "the {what} loss is {value} at step {step} of {}: stopping (try a smaller lr = {}; for score matching, also a weighting that stays bounded near t = ε)",
                config.steps, config.lr
            )));
        }
        match grads {
            Some(grads) => opt.step_with(&grads)?,
            None => opt.backward_step(&loss)?,
        }
        if let Some(ema) = average.as_mut() {
            ema.update()?;
        }
        losses.push(value);
        observe(step, value);
        if let Some(k) = config.log_every {
            if step % k == 0 || step == config.steps {
                println!("step {step:>6}/{}  loss {value:.5}", config.steps);
            }
        }
    }
    if let Some(ema) = average {
        ema.store()?;
    }
    Ok(TrainLog {
        losses,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// A bias-corrected exponential moving average of variables: `m ← d m + (1 − d) θ` from
/// `m = 0`; the average is `m / (1 − dᵏ)` after `k` updates.
struct Ema {
    vars: Vec<candle_core::Var>,
    sums: Vec<Tensor>,
    decay: f64,
    updates: i32,
}

impl Ema {
    fn new(vars: &[candle_core::Var], decay: f64) -> Result<Self> {
        Ok(Self {
            sums: vars
                .iter()
                .map(|v| v.as_tensor().zeros_like())
                .collect::<candle_core::Result<_>>()?,
            vars: vars.to_vec(),
            decay,
            updates: 0,
        })
    }

    fn update(&mut self) -> Result<()> {
        for (m, var) in self.sums.iter_mut().zip(&self.vars) {
            *m = crate::models::kernels::moving_average(m, var.as_tensor(), self.decay)?;
        }
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    /// Leaves the corrected average in the variables.
    fn store(self) -> Result<()> {
        let correction = 1.0 / (1.0 - self.decay.powi(self.updates));
        for (m, var) in self.sums.iter().zip(&self.vars) {
            var.set(&(m * correction)?)?;
        }
        Ok(())
    }
}

/// A Monte-Carlo estimate of the score-space DSM loss `E λ(t) ‖s(x_t, t) + ε/σ_t‖²` of any
/// score, on `data` with `reps` draws of `(t, ε)` per point from `seed` — the same draws for
/// every score given the same seed, so losses of two scores compare without noise from the
/// draws.
pub fn dsm_loss(
    score: &dyn Score,
    sde: &dyn ForwardSde,
    data: ArrayView2<f64>,
    weighting: Weighting,
    t_eps: f64,
    reps: usize,
    seed: u64,
) -> Result<f64> {
    let t_max = check_span(sde, t_eps)?;
    if reps == 0 || data.nrows() == 0 {
        return invalid(
            "reps × data",
            format!("{reps} × {}", data.nrows()),
            "need at least one draw",
        );
    }
    let mut rng = rng::seeded(seed);
    let mut total = 0.0;
    for _ in 0..reps {
        let t = draw_times(TimeSampling::Uniform, data.nrows(), t_eps, t_max, &mut rng);
        let b = dsm_batch(sde, data, Parameterisation::Score, weighting, t, &mut rng)?;
        for (i, &ti) in b.t.iter().enumerate() {
            let s = score.score(b.x_t.slice(ndarray::s![i..i + 1, ..]), ti)?;
            let diff = &s.row(0) - &b.target.row(i);
            total += b.weight[i] * diff.dot(&diff);
        }
    }
    Ok(total / (reps * data.nrows()) as f64)
}

/// The relative L2 error `√(E‖s − s_ref‖² / E‖s_ref‖²)` with `x ~ p_t`, at each time of
/// `times`, from `n` exact draws of `p_t` per time (`draw(t, n, seed)`).
pub fn score_error(
    score: &dyn Score,
    reference: &dyn Score,
    draw: impl Fn(f64, usize, u64) -> Result<Array2<f64>>,
    times: &[f64],
    n: usize,
    seed: u64,
) -> Result<Vec<(f64, f64)>> {
    times
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let x = draw(t, n, seed.wrapping_add(k as u64))?;
            let s = score.score(x.view(), t)?;
            let r = reference.score(x.view(), t)?;
            let num = (&s - &r).mapv(|v| v * v).sum();
            let den = r.mapv(|v| v * v).sum();
            Ok((t, (num / den).sqrt()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::VpSde;

    /// Seed 002 §4.2's SNR weighting: with [`Weighting::Snr`] the `ε` output's weight is
    /// `SNR(t) = α²/σ²` and the `x₀` output's `SNR(t)²`.
    #[test]
    fn snr_weighting_weighs_eps_by_the_snr() {
        let sde = VpSde::default();
        let x0 = crate::data::GaussianMixture::appendix_2d().sample(20, 1);
        let mut rng = rng::seeded(4);
        let t = draw_times(TimeSampling::Uniform, 20, 1e-3, 1.0, &mut rng);
        let e = dsm_batch(&sde, x0.view(), Parameterisation::Epsilon, Weighting::Snr, t.clone(), &mut rng).unwrap();
        let x = dsm_batch(&sde, x0.view(), Parameterisation::X0, Weighting::Snr, t, &mut rng).unwrap();
        for i in 0..20 {
            let (a, sg) = sde.marginal_mean_std(e.t[i]).unwrap();
            let snr = a * a / (sg * sg);
            assert!((e.weight[i] - snr).abs() < 1e-9 * snr, "ε: {} vs {snr}", e.weight[i]);
            assert!((x.weight[i] - snr * snr).abs() < 1e-9 * snr * snr, "x₀: {} vs {}", x.weight[i], snr * snr);
        }
    }

    /// The output-space loss `λ c² ‖o − target‖²` is the score-space loss
    /// `λ ‖s_θ(o) + ε/σ‖²` for every parameterisation and weighting.
    #[test]
    fn output_space_loss_is_the_score_space_loss() {
        let sde = VpSde::default();
        let x0 = crate::data::GaussianMixture::appendix_2d().sample(50, 1);
        let mut rng = rng::seeded(2);
        let o = rng::normals(&mut rng, 50, 2);
        for param in [
            Parameterisation::Epsilon,
            Parameterisation::Score,
            Parameterisation::X0,
            Parameterisation::V,
        ] {
            for weighting in [
                Weighting::Uniform,
                Weighting::SigmaSquared,
                Weighting::Likelihood,
                Weighting::Snr,
                Weighting::Cosine,
            ] {
                let t = draw_times(TimeSampling::Stratified, 50, 1e-3, 1.0, &mut rng);
                let mut r1 = rng::seeded(3);
                let b = dsm_batch(&sde, x0.view(), param, weighting, t.clone(), &mut r1).unwrap();
                let mut r2 = rng::seeded(3);
                let s = dsm_batch(
                    &sde,
                    x0.view(),
                    Parameterisation::Score,
                    weighting,
                    t,
                    &mut r2,
                )
                .unwrap();
                for i in 0..50 {
                    let (a, sg) = sde.marginal_mean_std(b.t[i]).unwrap();
                    let oi = o.slice(ndarray::s![i..i + 1, ..]).to_owned();
                    let d = &oi.row(0) - &b.target.row(i);
                    let out_space = b.weight[i] * d.dot(&d);
                    let score = param.to_score(&oi, b.x_t.slice(ndarray::s![i..i + 1, ..]), a, sg);
                    let e = &score.row(0) - &s.target.row(i);
                    let score_space = s.weight[i] * e.dot(&e);
                    assert!(
                        (out_space - score_space).abs() <= 1e-9 * score_space.max(1e-12),
                        "{param:?} {weighting:?} row {i}: {out_space} vs {score_space}"
                    );
                }
            }
        }
    }

    #[test]
    fn stratified_times_cover_every_stratum() {
        let t = draw_times(TimeSampling::Stratified, 10, 0.0, 1.0, &mut rng::seeded(1));
        let mut bins: Vec<usize> = t.iter().map(|v| (v * 10.0) as usize).collect();
        bins.sort();
        assert_eq!(bins, (0..10).collect::<Vec<_>>());
    }
}
