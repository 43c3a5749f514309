//! Guidance (seed 002 §6): sampling from `p(x | y)` — or a sharpened version of it — with a
//! score that knows the label `y`.
//!
//! - **Classifier guidance** (seed 002 §6.1, Bayes' rule `∇log p(x|y) = ∇log p(x) + ∇log p(y|x)`,
//!   Dhariwal & Nichol 2021): `s̃ = s(x, t) + w ∇ₓ log p(y | x_t, t)` ([`ClassifierGuided`]),
//!   with a classifier of *noisy* data ([`NoisyClassifier`]: the exact one of a labelled
//!   mixture, or [`TimeClassifier`] trained by [`train_classifier`]). `w = 1` is the
//!   conditional score, `w > 1` sharpens.
//! - **Classifier-free guidance** (seed 002 §6.1–6.2, Ho & Salimans 2022): one network learns
//!   the conditional and the unconditional score (label dropout,
//!   [`super::dsm::train_dsm_conditional`]) and
//!   `s̃ = (1 + w) s(x, t, y) − w s(x, t, ∅)` ([`ClassifierFree`] over any [`ConditionalScore`];
//!   a learned network, [`LearnedScore`], evaluates both halves in one batched pass;
//!   [`sample_classes`] draws guided samples class by class). Convention: `w = 0` is the
//!   conditional score. The seed writes it in `ε`-space as
//!   `ε̃ = ε(∅) + γ (ε(y) − ε(∅))` with `guidance_scale γ`; since `s = −ε/σ` is linear this is
//!   the same formula with `γ = 1 + w` ([`ClassifierFree::from_guidance_scale`]): the seed's
//!   "w > 1 strengthens the condition" is `w > 0` here.
//!
//! The two agree: `(1 + w) s_y − w s = s + (1 + w)(s_y − s)` and `s_y − s = ∇log p_t(y | x)`, so
//! classifier-free guidance with `w` is classifier guidance with scale `1 + w` and the exact
//! classifier (tested in `tests/framework_guidance.rs`).
//!
//! [`guidance_sweep`] measures what `w` trades: the fraction of samples nearer their class's
//! mean than the others' (precision) rises, the within-class spread (diversity) falls.

use candle_core::Tensor;
use ndarray::{Array2, ArrayView2, Axis};

use super::dsm::{check_span, draw_times, optimise, DsmConfig, TrainLog, Weighting};
use super::samplers::{sample_from_prior, Sampler};
use super::{ForwardSde, MixtureMarginal};
use crate::error::{finite, invalid};
use crate::models::{to_tensor, DenoisingNet, LearnedScore, TimeClassifier};
use crate::rng;
use crate::sde_basics::Score;
// The conditional score is vocabulary of the models too; it is defined in `sde_basics`.
pub use crate::sde_basics::ConditionalScore;
use crate::solvers::Record;
use crate::{Error, Result};


impl<C: ConditionalScore + ?Sized> ConditionalScore for &C {
    fn classes(&self) -> usize {
        (**self).classes()
    }
    fn conditional_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: Option<usize>,
    ) -> Result<Array2<f64>> {
        (**self).conditional_score(x, t, label)
    }
    fn guided_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: usize,
        w: f64,
    ) -> Result<Array2<f64>> {
        (**self).guided_score(x, t, label, w)
    }
}

/// `label` if it is `< classes`, else an error naming it.
fn check_label(label: usize, classes: usize) -> Result<usize> {
    if label < classes {
        Ok(label)
    } else {
        invalid("label", label, format!("must be < classes = {classes}"))
    }
}

/// The exact class scores of a labelled mixture (each component a class): class `y`'s
/// Gaussian pushed through the forward SDE, `N(α μ_y, α² Σ_y + σ² I)`.
impl<S: ForwardSde> ConditionalScore for MixtureMarginal<S> {
    fn classes(&self) -> usize {
        self.data.weights().len()
    }

    fn conditional_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: Option<usize>,
    ) -> Result<Array2<f64>> {
        match label {
            None => self.score(x, t),
            Some(y) => {
                let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
                let class = self
                    .data
                    .component(check_label(y, ConditionalScore::classes(self))?)?;
                class.perturbed(alpha, sigma)?.score(x)
            }
        }
    }
}

/// Classifier-free guidance: `s̃(x, t) = (1 + w) s(x, t, y) − w s(x, t, ∅)`.
#[derive(Debug, Clone)]
pub struct ClassifierFree<C> {
    model: C,
    label: usize,
    w: f64,
}

impl<C: ConditionalScore> ClassifierFree<C> {
    /// Guidance towards `label` with strength `w` (`0`: the conditional score; any finite
    /// value, negative ones move towards the unconditional score and beyond).
    /// Errors on a non-finite `w` or a label `≥ classes`.
    pub fn new(model: C, label: usize, w: f64) -> Result<Self> {
        finite("w (guidance weight)", w)?;
        check_label(label, model.classes())?;
        Ok(Self { model, label, w })
    }

    /// Seed 002 §6.2's parameterisation `ε̃ = ε(∅) + γ (ε(y) − ε(∅))`: `w = γ − 1`.
    pub fn from_guidance_scale(model: C, label: usize, guidance_scale: f64) -> Result<Self> {
        finite("guidance_scale", guidance_scale)?;
        Self::new(model, label, guidance_scale - 1.0)
    }

    /// The guidance strength `w`.
    pub fn w(&self) -> f64 {
        self.w
    }

    /// The class guided towards.
    pub fn label(&self) -> usize {
        self.label
    }
}

impl<C: ConditionalScore> Score for ClassifierFree<C> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.model.guided_score(x, t, self.label, self.w)
    }
}

/// A classifier of noisy data: `∇ₓ log p(y | x_t, t)`.
pub trait NoisyClassifier: Sync {
    /// Number of classes `k`.
    fn classes(&self) -> usize;

    /// `∇ₓ log p(y = label | x_t = x, t)` for every row.
    fn log_prob_grad(&self, x: ArrayView2<f64>, t: f64, label: usize) -> Result<Array2<f64>>;
}

/// The exact classifier of a labelled mixture: `p_t(y | x) ∝ w_y N(x; α μ_y, α² Σ_y + σ² I)`,
/// whose input gradient is `∇log p_t(x | y) − ∇log p_t(x)`.
impl<S: ForwardSde> NoisyClassifier for MixtureMarginal<S> {
    fn classes(&self) -> usize {
        self.data.weights().len()
    }

    fn log_prob_grad(&self, x: ArrayView2<f64>, t: f64, label: usize) -> Result<Array2<f64>> {
        Ok(self.conditional_score(x, t, Some(label))? - self.score(x, t)?)
    }
}

impl NoisyClassifier for TimeClassifier {
    fn classes(&self) -> usize {
        TimeClassifier::classes(self)
    }

    fn log_prob_grad(&self, x: ArrayView2<f64>, t: f64, label: usize) -> Result<Array2<f64>> {
        TimeClassifier::log_prob_grad(self, x, t, label)
    }
}

impl<K: NoisyClassifier + ?Sized> NoisyClassifier for &K {
    fn classes(&self) -> usize {
        (**self).classes()
    }
    fn log_prob_grad(&self, x: ArrayView2<f64>, t: f64, label: usize) -> Result<Array2<f64>> {
        (**self).log_prob_grad(x, t, label)
    }
}

/// Classifier guidance: `s̃(x, t) = s(x, t) + w ∇ₓ log p(y | x_t, t)`.
#[derive(Debug, Clone)]
pub struct ClassifierGuided<S, K> {
    score: S,
    classifier: K,
    label: usize,
    w: f64,
}

impl<S: Score, K: NoisyClassifier> ClassifierGuided<S, K> {
    /// `score` guided towards `label` by `classifier` with scale `w` (`1`: the conditional
    /// score when both are exact). Errors on a non-finite `w` or a label `≥ classes`.
    pub fn new(score: S, classifier: K, label: usize, w: f64) -> Result<Self> {
        finite("w", w)?;
        check_label(label, classifier.classes())?;
        Ok(Self {
            score,
            classifier,
            label,
            w,
        })
    }
}

impl<S: Score, K: NoisyClassifier> Score for ClassifierGuided<S, K> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let grad = self.classifier.log_prob_grad(x, t, self.label)?;
        Ok(self.score.score(x, t)? + grad * self.w)
    }
}

/// Trains `net` to predict the label of perturbed data: cross-entropy of `p_φ(y | x_t, t)` with
/// `x_t = α_t x_0 + σ_t ε`, `t` drawn as `config.time_sampling` says on `[ε, T]`, over
/// `config`'s steps, batches and seed (`config.weighting` must be `Uniform`: the loss is not
/// weighted in time).
///
/// Errors on bad settings, mismatched labels or dimensions, a label `≥ classes`, and — naming
/// the step — a non-finite loss.
pub fn train_classifier(
    net: &TimeClassifier,
    sde: &dyn ForwardSde,
    data: ArrayView2<f64>,
    labels: &[usize],
    config: &DsmConfig,
) -> Result<TrainLog> {
    if config.weighting != Weighting::Uniform {
        return invalid(
            "weighting",
            format!("{:?}", config.weighting),
            "the classifier's cross-entropy is unweighted: use Weighting::Uniform",
        );
    }
    if config.time_sampling == super::dsm::TimeSampling::Grid(0) {
        return invalid("TimeSampling::Grid", 0, "needs at least one grid point");
    }
    let t_max = check_span(sde, config.t_eps)?;
    net.check_input(data)?;
    crate::error::all_finite("the training data", data.iter())?;
    if labels.len() != data.nrows() {
        return Err(Error::Shape(format!(
            "{} labels for {} data points",
            labels.len(),
            data.nrows()
        )));
    }
    for &y in labels {
        check_label(y, net.classes())?;
    }
    let device = net.device().clone();
    optimise(
        net.trainable_vars(),
        data.nrows(),
        config,
        "classifier cross-entropy",
        &mut |_, _| {},
        &mut |rows, rng| {
            let m = rows.len();
            let x0 = data.select(Axis(0), rows);
            let t = draw_times(config.time_sampling, m, config.t_eps, t_max, rng);
            let eps = rng::normals(rng, m, data.ncols());
            let mut x_t = x0;
            for (i, mut row) in x_t.rows_mut().into_iter().enumerate() {
                let (a, s) = sde.marginal_mean_std(t[i])?;
                row.zip_mut_with(&eps.row(i), |x, e| *x = a * *x + s * e);
            }
            let y: Vec<u32> = rows.iter().map(|&i| labels[i] as u32).collect();
            let logits = net.logits(
                &to_tensor(x_t.view(), &device)?,
                &super::dsm::column(&t, &device)?,
            )?;
            Ok(candle_nn::loss::cross_entropy(&logits, &Tensor::from_vec(y, m, &device)?)?.into())
        },
    )
}

/// One guidance strength's outcome in [`guidance_sweep`].
#[derive(Debug, Clone)]
pub struct GuidanceRow {
    /// The guidance strength.
    pub w: f64,
    /// Fraction of all samples nearer their own class's mean than any other class's.
    pub precision: f64,
    /// Within-class spread: the mean over classes of `E‖x − x̄_y‖²` (trace of the class's
    /// sample covariance, divisor `n`).
    pub spread: f64,
    /// The samples of each class, `samples[y]` (`n × d`).
    pub samples: Vec<Array2<f64>>,
}

/// Precision and within-class spread (see [`GuidanceRow`]) of per-class samples
/// `samples[y]` given the class means (`k × d`).
pub fn precision_spread(samples: &[Array2<f64>], means: ArrayView2<f64>) -> Result<(f64, f64)> {
    if samples.len() != means.nrows() || samples.iter().any(|s| s.nrows() == 0) {
        return Err(Error::Shape(format!(
            "{} sample sets (each non-empty) for {} class means",
            samples.len(),
            means.nrows()
        )));
    }
    let (mut hits, mut total, mut spread) = (0usize, 0usize, 0.0);
    for (y, x) in samples.iter().enumerate() {
        if x.ncols() != means.ncols() {
            return Err(Error::Shape(format!(
                "class {y}'s samples have d = {}, the means d = {}",
                x.ncols(),
                means.ncols()
            )));
        }
        crate::error::all_finite(format!("class {y}'s samples"), x.iter())?;
        for row in x.rows() {
            let dist = |c: usize| {
                let d = &row - &means.row(c);
                d.dot(&d)
            };
            let own = dist(y);
            hits += (0..means.nrows()).all(|c| c == y || own < dist(c)) as usize;
            total += 1;
        }
        let centre = x.mean_axis(Axis(0)).expect("non-empty");
        spread += (x - &centre).mapv(|v| v * v).sum() / x.nrows() as f64;
    }
    Ok((hits as f64 / total as f64, spread / samples.len() as f64))
}

/// For each strength `w` in `ws` and each class `y` of `means` (`k × d`), `n` samples of
/// `sampler` run with the guided score `guide(y, w)` from the same `n` prior draws (from
/// `seed`; sampler noise from `seed + 1`), and their precision and spread.
pub fn guidance_sweep<G: Score>(
    guide: impl Fn(usize, f64) -> Result<G>,
    sde: &dyn ForwardSde,
    sampler: &dyn Sampler,
    means: ArrayView2<f64>,
    ws: &[f64],
    n: usize,
    seed: u64,
) -> Result<Vec<GuidanceRow>> {
    if n == 0 {
        return invalid("n", 0, "need at least one sample per class");
    }
    let x_t = sde.prior_sample(n, means.ncols(), &mut rng::seeded(seed));
    ws.iter()
        .map(|&w| {
            let samples = (0..means.nrows())
                .map(|y| {
                    let guided = guide(y, w)?;
                    let sol = sampler.sample(
                        sde,
                        &guided,
                        x_t.view(),
                        seed.wrapping_add(1),
                        Record::Final,
                    )?;
                    Ok(sol.last().clone())
                })
                .collect::<Result<Vec<_>>>()?;
            let (precision, spread) = precision_spread(&samples, means)?;
            Ok(GuidanceRow {
                w,
                precision,
                spread,
                samples,
            })
        })
        .collect()
}

/// Guided samples of several classes: the samples (grouped by class, `per_class` rows each),
/// their labels, and the sampler's NFE per sample (for a learned network each NFE is one pass
/// over the conditional and unconditional halves).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSamples {
    /// `(classes · per_class) × d`.
    pub images: Array2<f64>,
    /// The class of each row.
    pub labels: Vec<usize>,
    /// Score evaluations per sample.
    pub nfe: usize,
}

/// `per_class` samples of every class in `classes` from the class-conditional `net` with
/// classifier-free guidance of strength `w` ([`ClassifierFree`] over [`LearnedScore`]), drawn
/// by `sampler` from the prior (class `k` of the list from seed `seed + 2k`, see
/// [`sample_from_prior`]).
pub fn sample_classes<S: ForwardSde, N: DenoisingNet + ?Sized>(
    net: &N,
    sde: S,
    sampler: &dyn Sampler,
    classes: &[usize],
    per_class: usize,
    w: f64,
    seed: u64,
) -> Result<ClassSamples> {
    if per_class == 0 || classes.is_empty() {
        return invalid(
            "per_class × classes",
            format!("{per_class} × {}", classes.len()),
            "need at least one sample",
        );
    }
    let mut parts = Vec::with_capacity(classes.len());
    let mut labels = Vec::with_capacity(classes.len() * per_class);
    let mut nfe = 0;
    for (k, &y) in classes.iter().enumerate() {
        let score = ClassifierFree::new(LearnedScore::new(net, &sde), y, w)?;
        let seed_k = seed.wrapping_add(2 * k as u64);
        let out = sample_from_prior(sampler, &sde, &score, per_class, net.dim(), seed_k)?;
        nfe = out.nfe;
        parts.push(out.last().clone());
        labels.extend(std::iter::repeat_n(y, per_class));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let images = ndarray::concatenate(Axis(0), &views).map_err(|e| Error::Shape(e.to_string()))?;
    Ok(ClassSamples {
        images,
        labels,
        nfe,
    })
}
