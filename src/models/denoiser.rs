//! What denoising score matching trains and the samplers run: a network that maps a batch of
//! flattened states `x` (`n × d`), times `t` (`n × 1`) and — for a class-conditional network —
//! labels `y` to an output in the space of its [`Parameterisation`] (seed 002 §2, §5, §6).
//!
//! The MLP [`super::ScoreNet`] (unconditional) and the image [`super::UNet`]
//! (class-conditional, with a null label for classifier-free guidance) both implement
//! [`DenoisingNet`], so [`crate::framework::dsm`] has one training loop and
//! [`LearnedScore`] / [`super::GuidedScore`] one way of turning either into a
//! [`Score`].

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use ndarray::{Array2, ArrayView2};

use super::{to_array, to_tensor, Parameterisation, ScoreNet};
use crate::error::{all_finite, invalid};
use crate::framework::ForwardSde;
use crate::sde_basics::Score;
use crate::{Error, Result};

/// A network `o_θ(x, t[, y])` trained by denoising score matching.
pub trait DenoisingNet: Sync {
    /// The dimension `d` of a (flattened) state.
    fn dim(&self) -> usize;

    /// Number of classes it is conditioned on; `0` for an unconditional network. Label
    /// `classes()` is the null label `∅` of classifier-free guidance.
    fn classes(&self) -> usize {
        0
    }

    /// What the output predicts.
    fn parameterisation(&self) -> Parameterisation;

    /// The device the parameters live on.
    fn device(&self) -> &Device;

    /// All parameters, by name (what a checkpoint holds).
    fn varmap(&self) -> &VarMap;

    /// The parameters an optimiser updates.
    fn trainable_vars(&self) -> Vec<Var>;

    /// The raw output for `x` (`n × d`, `f32`), `t` (`n × 1`) and `labels` (`n`, `u32`, the
    /// null label `classes()` allowed); `None` means unconditional.
    fn forward_labelled(&self, x: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Result<Tensor>;

    /// Checks a batch of states before it is converted (its dimension; for images, the size).
    fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.dim() {
            return Err(Error::Shape(format!(
                "the network takes d = {}, the batch has d = {} ({} rows)",
                self.dim(),
                x.ncols(),
                x.nrows()
            )));
        }
        Ok(())
    }

    /// Checks clean training data `x_0`: [`check_input`](Self::check_input) and finite values
    /// (an image network also checks the pixel range).
    fn check_data(&self, x0: ArrayView2<f64>) -> Result<()> {
        self.check_input(x0)?;
        all_finite("the training data", x0.iter())
    }

    /// The raw output at one time `t` for a batch `x`, as `f64`; `labels` per row (the null
    /// label `classes()` allowed), `None` for unconditional.
    fn predict(&self, x: ArrayView2<f64>, t: f64, labels: Option<&[usize]>) -> Result<Array2<f64>> {
        self.check_input(x)?;
        let device = self.device();
        let xt = to_tensor(x, device)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), device)?;
        let y = labels
            .map(|l| labels_tensor(l, x.nrows(), self.classes(), device))
            .transpose()?;
        to_array(&self.forward_labelled(&xt, &tt, y.as_ref())?)
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.trainable_vars().iter().map(|v| v.elem_count()).sum()
    }
}

/// Labels as a `u32` tensor, checked: `n` of them, each `≤ classes` (`classes` is `∅`), and
/// only for a conditional network.
pub(crate) fn labels_tensor(
    labels: &[usize],
    n: usize,
    classes: usize,
    device: &Device,
) -> Result<Tensor> {
    if classes == 0 {
        return invalid(
            "labels",
            format!("{} labels", labels.len()),
            "this network is unconditional: pass no labels",
        );
    }
    if labels.len() != n {
        return Err(Error::Shape(format!(
            "{} labels for a batch of {n} rows",
            labels.len()
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&y| y > classes) {
        return invalid(
            "label",
            bad,
            format!("must lie in 0..{classes} (or {classes}, the null label ∅)"),
        );
    }
    let v: Vec<u32> = labels.iter().map(|&y| y as u32).collect();
    Ok(Tensor::from_vec(v, n, device)?.to_dtype(DType::U32)?)
}

impl DenoisingNet for ScoreNet {
    fn dim(&self) -> usize {
        self.config().dim
    }

    fn parameterisation(&self) -> Parameterisation {
        self.config().parameterisation
    }

    fn device(&self) -> &Device {
        ScoreNet::device(self)
    }

    fn varmap(&self) -> &VarMap {
        ScoreNet::varmap(self)
    }

    fn trainable_vars(&self) -> Vec<Var> {
        ScoreNet::trainable_vars(self)
    }

    fn forward_labelled(&self, x: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        if labels.is_some() {
            return invalid(
                "labels",
                "Some(…)",
                "ScoreNet is unconditional: pass no labels",
            );
        }
        self.forward(x, t)
    }
}

/// A trained network as the score of `sde`'s marginals: `s(x, t)` from the network's
/// (unconditional) output through its [`Parameterisation`] and `sde.marginal_mean_std(t)`.
pub struct LearnedScore<'a, S, N: ?Sized = ScoreNet> {
    /// The network.
    pub net: &'a N,
    /// The forward SDE it was trained for.
    pub sde: S,
}

impl<'a, S: ForwardSde, N: DenoisingNet + ?Sized> LearnedScore<'a, S, N> {
    /// The score of `net` under `sde`.
    pub fn new(net: &'a N, sde: S) -> Self {
        Self { net, sde }
    }
}

impl<S: ForwardSde, N: DenoisingNet + ?Sized> Score for LearnedScore<'_, S, N> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let o = self.net.predict(x, t, None)?;
        Ok(self.net.parameterisation().to_score(&o, x, alpha, sigma))
    }
}
