//! Classifier-free guidance (seed 002 §6; Ho & Salimans 2022): one network trained with and
//! without its label (label dropout, [`crate::framework::dsm::DsmConfig::label_dropout`])
//! gives both the conditional and the unconditional prediction, and sampling uses
//!
//! ```text
//! ε̃(x, t, y) = (1 + w) ε_θ(x, t, y) − w ε_θ(x, t, ∅),
//! ```
//!
//! `w = 0` the plain conditional model, `w > 0` pushing further from the unconditional one.
//! Seed 002 §6 writes the same line as `ε_θ(∅) + s (ε_θ(y) − ε_θ(∅))` with a guidance scale
//! `s = 1 + w` (so its `s = 1` is our `w = 0`, and `s = 0` the unconditional model). The
//! combination is affine with weights summing to one, so it is the same in `ε`, score or
//! `x̂_0` space; [`GuidedScore`] combines scores and is a [`Score`] for every sampler.

use ndarray::{concatenate, s, Array2, ArrayView2, Axis};

use super::DenoisingNet;
use crate::error::{finite, invalid};
use crate::framework::samplers::{sample_from_prior, Sampler};
use crate::framework::ForwardSde;
use crate::sde_basics::Score;
use crate::Result;

/// The guided score of class `label` with weight `w` (see the module docs).
pub struct GuidedScore<'a, S, N: ?Sized> {
    net: &'a N,
    sde: S,
    label: usize,
    w: f64,
}

impl<'a, S: ForwardSde, N: DenoisingNet + ?Sized> GuidedScore<'a, S, N> {
    /// Guidance towards `label` (`< net.classes()`) with finite weight `w`.
    pub fn new(net: &'a N, sde: S, label: usize, w: f64) -> Result<Self> {
        finite("w (guidance weight)", w)?;
        if net.classes() == 0 {
            return invalid("label", label, "the network is unconditional");
        }
        if label >= net.classes() {
            return invalid(
                "label",
                label,
                format!("must lie in 0..{} (the network's classes)", net.classes()),
            );
        }
        Ok(Self { net, sde, label, w })
    }

    /// The class.
    pub fn label(&self) -> usize {
        self.label
    }

    /// The guidance weight `w` (seed 002's scale is `1 + w`).
    pub fn w(&self) -> f64 {
        self.w
    }
}

impl<S: ForwardSde, N: DenoisingNet + ?Sized> Score for GuidedScore<'_, S, N> {
    /// `(1 + w) s(x, t, y) − w s(x, t, ∅)`, both halves in one forward pass of `2n` rows.
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let n = x.nrows();
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let both = concatenate(Axis(0), &[x, x]).map_err(|e| crate::Error::Shape(e.to_string()))?;
        let mut labels = vec![self.label; n];
        labels.extend(std::iter::repeat_n(self.net.classes(), n));
        let o = self.net.predict(both.view(), t, Some(&labels))?;
        let score = self
            .net
            .parameterisation()
            .to_score(&o, both.view(), alpha, sigma);
        let cond = score.slice(s![..n, ..]);
        let uncond = score.slice(s![n.., ..]);
        Ok(&cond * (1.0 + self.w) - &(&uncond * self.w))
    }
}

/// Guided samples of several classes: the images (grouped by class, `per_class` rows each),
/// their labels, and the sampler's NFE per image (each NFE is one network pass over the
/// conditional and unconditional halves).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSamples {
    /// `(classes · per_class) × d`.
    pub images: Array2<f64>,
    /// The class of each row.
    pub labels: Vec<usize>,
    /// Score evaluations per image.
    pub nfe: usize,
}

/// `per_class` samples of every class in `classes` with guidance weight `w`, drawn by
/// `sampler` from the prior (class `k` of the list from seed `seed + 2k`, see
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
        let score = GuidedScore::new(net, &sde, y, w)?;
        let seed_k = seed.wrapping_add(2 * k as u64);
        let out = sample_from_prior(sampler, &sde, &score, per_class, net.dim(), seed_k)?;
        nfe = out.nfe;
        parts.push(out.last().clone());
        labels.extend(std::iter::repeat_n(y, per_class));
    }
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let images = concatenate(Axis(0), &views).map_err(|e| crate::Error::Shape(e.to_string()))?;
    Ok(ClassSamples {
        images,
        labels,
        nfe,
    })
}
