//! What denoising score matching trains and the samplers run: a network that maps a batch of
//! flattened states `x` (`n × d`), times `t` (`n × 1`) and — for a class-conditional network —
//! labels `y` to an output in the space of its [`Parameterisation`] (seed 002 §2, §5, §6).
//!
//! The MLP [`ScoreNet`] and the image [`super::UNet`] both implement [`DenoisingNet`], so
//! [`crate::framework::dsm`] has one training loop and [`LearnedScore`] one way of turning
//! either into a [`Score`] (and, for a class-conditional network, into a
//! [`ConditionalScore`] for classifier-free guidance).
//!
//! **Labels.** A class-conditional network has `classes() = Some(k)` and a learned embedding of
//! `k + 1` rows: labels `0..k` and the null label `∅` of classifier-free guidance. Every
//! function that takes a label takes `Some(y)` or `None` for `∅`; inside a label tensor
//! (`u32`) `∅` is the index `k` ([`DenoisingNet::label_index`]).

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use ndarray::{concatenate, s, Array2, ArrayView2, Axis};

use super::kernels::in_pool;
use super::{to_array, to_tensor, Gradients, Parameterisation, ScoreNet};
use crate::error::{all_finite, invalid};
use crate::sde_basics::ConditionalScore;
use crate::sde_basics::ForwardSde;
use crate::sde_basics::{Score, ScoreJacobian};
use crate::{Error, Result};

/// `mean_i w_i ‖out_i − target_i‖²` for `out`, `target` (`n × d`) and weights `w` (`n × 1`).
pub fn weighted_mse(out: &Tensor, target: &Tensor, w: &Tensor) -> Result<Tensor> {
    Ok(((out - target)?.sqr()?.sum_keepdim(1)? * w)?.mean_all()?)
}

/// [`DenoisingNet::regression_loss`] through candle's graph: the forward pass, the loss, its
/// backward pass.
pub(crate) fn regression_loss_by_autograd<N: DenoisingNet + ?Sized>(
    net: &N,
    x: &Tensor,
    t: &Tensor,
    labels: Option<&Tensor>,
    target: &Tensor,
    w: &Tensor,
) -> Result<(Tensor, Gradients)> {
    let out = net.forward_labelled(x, t, labels)?;
    let loss = weighted_mse(&out, target, w)?;
    let store = loss.backward()?;
    let mut grads = Gradients::default();
    for var in net.trainable_vars() {
        if let Some(g) = store.get(&var) {
            grads.insert(&var, g.clone());
        }
    }
    Ok((loss, grads))
}

/// [`DenoisingNet::output_f32`] through the network's candle forward pass.
pub(crate) fn output_f32_by_candle<N: DenoisingNet + ?Sized>(
    net: &N,
    x: ArrayView2<f32>,
    t: f64,
) -> Result<Array2<f32>> {
    let (n, d) = x.dim();
    let device = net.device();
    let data: Vec<f32> = match x.as_slice() {
        Some(s) => s.to_vec(),
        None => x.iter().copied().collect(),
    };
    let xt = Tensor::from_vec(data, (n, d), device)?;
    let tt = Tensor::full(t as f32, (n, 1), device)?;
    let o: Vec<f32> = net
        .forward_labelled(&xt, &tt, None)?
        .flatten_all()?
        .to_vec1()?;
    Array2::from_shape_vec((n, d), o).map_err(|e| Error::Shape(e.to_string()))
}

/// A network `o_θ(x, t[, y])` trained by denoising score matching.
pub trait DenoisingNet: Sync {
    /// The dimension `d` of a (flattened) state.
    fn dim(&self) -> usize;

    /// `Some(k)`: conditional on labels `0..k` and `∅` (index `k`); `None`: unconditional.
    fn classes(&self) -> Option<usize> {
        None
    }

    /// What the output predicts.
    fn parameterisation(&self) -> Parameterisation;

    /// The device the parameters live on.
    fn device(&self) -> &Device;

    /// All parameters, by name (what a checkpoint holds).
    fn varmap(&self) -> &VarMap;

    /// The parameters an optimiser updates.
    fn trainable_vars(&self) -> Vec<Var>;

    /// The raw output for `x` (`n × d`, `f32`), `t` (`n × 1`) and label indices `labels`
    /// (`n`, `u32`, see [`Self::label_index`]); `None`: unconditional (`∅` for every row of a
    /// class-conditional network). Errors on labels for an unconditional network.
    fn forward_labelled(&self, x: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Result<Tensor>;

    /// The weighted regression loss of a training step,
    /// `mean_i w_i ‖o(x_i, t_i[, y_i]) − target_i‖²` ([`weighted_mse`]; DSM's and flow
    /// matching's), and the gradient of every trainable variable: by candle's autograd;
    /// [`ScoreNet`] computes it by hand on the CPU (`models::backprop`).
    fn regression_loss(
        &self,
        x: &Tensor,
        t: &Tensor,
        labels: Option<&Tensor>,
        target: &Tensor,
        w: &Tensor,
    ) -> Result<(Tensor, Gradients)> {
        regression_loss_by_autograd(self, x, t, labels, target, w)
    }

    /// The unconditional output at one time `t` for an `f32` batch `x` (`n × d`), forward only:
    /// what the `f32` samplers call ([`LearnedScore`] as a `Score<f32>`). By default
    /// [`forward_labelled`](Self::forward_labelled) with `t` on every row; [`ScoreNet`] on the
    /// CPU computes `emb(t)` once and folds it into its first layer's bias.
    fn output_f32(&self, x: ArrayView2<f32>, t: f64) -> Result<Array2<f32>> {
        output_f32_by_candle(self, x, t)
    }

    /// The index of a label in a label tensor: `Some(y)` with `y < k`, or `None` for `∅`
    /// (index `k`). Errors on an unconditional network or `y ≥ k`.
    fn label_index(&self, label: Option<usize>) -> Result<u32> {
        let Some(k) = self.classes() else {
            return invalid(
                "classes",
                "None",
                "labels need a class-conditional network (classes = Some(k))",
            );
        };
        match label {
            None => Ok(k as u32),
            Some(y) if y < k => Ok(y as u32),
            Some(y) => invalid("label", y, format!("must be < classes = {k} (None is ∅)")),
        }
    }

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

    /// The raw output at one time `t` for a batch `x`, as `f64`, one label per row
    /// (`None`: `∅`).
    fn output_per_row(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        labels: &[Option<usize>],
    ) -> Result<Array2<f64>> {
        self.check_input(x)?;
        if labels.len() != x.nrows() {
            return Err(Error::Shape(format!(
                "{} labels for a batch of {} rows",
                labels.len(),
                x.nrows()
            )));
        }
        let y = labels
            .iter()
            .map(|&l| self.label_index(l))
            .collect::<Result<Vec<u32>>>()?;
        let device = self.device();
        let y = Tensor::from_vec(y, x.nrows(), device)?;
        let xt = to_tensor(x, device)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), device)?;
        to_array(&self.forward_labelled(&xt, &tt, Some(&y))?)
    }

    /// The raw output at one time `t` for a batch `x`, as `f64`, given one label for every
    /// row; `None` is unconditional (`∅` for a class-conditional network).
    fn output_labelled(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: Option<usize>,
    ) -> Result<Array2<f64>> {
        if label.is_some() {
            return self.output_per_row(x, t, &vec![label; x.nrows()]);
        }
        self.check_input(x)?;
        let device = self.device();
        let xt = to_tensor(x, device)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), device)?;
        to_array(&self.forward_labelled(&xt, &tt, None)?)
    }

    /// Number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.trainable_vars().iter().map(|v| v.elem_count()).sum()
    }
}

/// A trained network as the score of `sde`'s marginals: `s(x, t)` from the network's output
/// through its [`Parameterisation`] and `sde.marginal_mean_std(t)` — unconditional as a
/// [`Score`], given a label as a [`ConditionalScore`].
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

    /// A call of the network on a thread of rayon's pool (`kernels::in_pool`, as the training
    /// step): the samplers call from the main thread, and every split of the network's
    /// kernels would wake the pool's threads and put the caller to sleep. Same numbers.
    fn on_pool<R: Send>(&self, call: impl FnOnce(&N) -> R + Send) -> R {
        let net = self.net;
        in_pool(net.device(), || call(net))
    }

    /// The score given a label of a class-conditional network (`None`: `∅`, the
    /// unconditional score, the same as [`Score::score`]).
    pub fn labelled_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: Option<usize>,
    ) -> Result<Array2<f64>> {
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let o = self.on_pool(|net| net.output_labelled(x, t, label))?;
        Ok(self.net.parameterisation().to_score(&o, x, alpha, sigma))
    }
}

impl<S: ForwardSde, N: DenoisingNet + ?Sized> Score for LearnedScore<'_, S, N> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.labelled_score(x, t, None)
    }
}

/// The unconditional score of an `f32` batch, `f32` end to end: the batch goes into the
/// network's `f32` tensor as it is (no `f64` copy) and the score `a o + b x`
/// ([`Parameterisation::score_coefficients`]) is formed in `f32` — what the `f32` SDE loop
/// ([`crate::solvers::sde`]) calls. The `f64` score is unchanged ([`LearnedScore::labelled_score`]).
impl<S: ForwardSde, N: DenoisingNet + ?Sized> Score<f32> for LearnedScore<'_, S, N> {
    fn score(&self, x: ArrayView2<f32>, t: f64) -> Result<Array2<f32>> {
        let (n, d) = x.dim();
        if d != self.net.dim() {
            return Err(Error::Shape(format!(
                "the network takes d = {}, the batch has d = {d} ({n} rows)",
                self.net.dim()
            )));
        }
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let (a, b) = self.net.parameterisation().score_coefficients(alpha, sigma);
        let mut out = self.on_pool(|net| net.output_f32(x, t))?;
        let (a, b) = (a as f32, b as f32);
        if b == 0.0 {
            out.mapv_inplace(|v| v * a);
        } else {
            ndarray::Zip::from(&mut out)
                .and(x)
                .for_each(|o, &x| *o = *o * a + x * b);
        }
        Ok(out)
    }
}

/// A class-conditional network (`classes = Some(k)`); an unconditional one has 0 classes, so
/// every label is an error.
impl<S: ForwardSde, N: DenoisingNet + ?Sized> ConditionalScore for LearnedScore<'_, S, N> {
    fn classes(&self) -> usize {
        self.net.classes().unwrap_or(0)
    }

    fn conditional_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: Option<usize>,
    ) -> Result<Array2<f64>> {
        self.labelled_score(x, t, label)
    }

    /// `(1 + w) s(x, t, y) − w s(x, t, ∅)` with both halves in one forward pass of `2n` rows.
    fn guided_score(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        label: usize,
        w: f64,
    ) -> Result<Array2<f64>> {
        let n = x.nrows();
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let both = concatenate(Axis(0), &[x, x]).map_err(|e| Error::Shape(e.to_string()))?;
        let mut labels = vec![Some(label); n];
        labels.extend(std::iter::repeat_n(None, n));
        let o = self.on_pool(|net| net.output_per_row(both.view(), t, &labels))?;
        let score = self
            .net
            .parameterisation()
            .to_score(&o, both.view(), alpha, sigma);
        let cond = score.slice(s![..n, ..]);
        let uncond = score.slice(s![n.., ..]);
        Ok(&cond * (1.0 + w) - &(&uncond * w))
    }
}

/// `vᵀ ∂s/∂x = a vᵀ ∂o/∂x + b v` with the parameterisation's `(a, b)`
/// ([`Parameterisation::score_coefficients`]) and the network's VJPs ([`ScoreNet::output_vjp`]).
impl<S: ForwardSde> ScoreJacobian for LearnedScore<'_, S, ScoreNet> {
    fn score_vjp(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let param = self.net.config().parameterisation;
        let (a, b) = param.score_coefficients(alpha, sigma);
        let (o, products) = self.net.output_vjp(x, t, probes)?;
        let products = products
            .into_iter()
            .zip(probes)
            .map(|(p, v)| p * a + &(v * b))
            .collect();
        Ok((param.to_score(&o, x, alpha, sigma), products))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sde_basics::VpSde;
    use crate::models::{ScoreNetConfig, TimeEmbedding};

    /// The `f32` score is the `f64` score to `f32` rounding, for every parameterisation
    /// (`b ≠ 0` for `x_0` and `v`), on a strided view too.
    #[test]
    fn f32_score_is_the_f64_score() {
        let cpu = Device::Cpu;
        let x = crate::rng::normals(&mut crate::rng::seeded(1), 40, 3);
        for param in [
            Parameterisation::Epsilon,
            Parameterisation::Score,
            Parameterisation::X0,
            Parameterisation::V,
        ] {
            let mut c = ScoreNetConfig::appendix();
            c.dim = 2;
            c.parameterisation = param;
            c.embedding = TimeEmbedding::Sinusoidal { dim: 16 };
            let net = ScoreNet::new(c, &cpu, 3).unwrap();
            let score = LearnedScore::new(&net, VpSde::default());
            let view = x.slice(s![.., 1..]); // non-contiguous rows
            for t in [0.01, 0.3, 1.0] {
                let s64 = Score::<f64>::score(&score, view, t).unwrap();
                let x32 = view.mapv(|v| v as f32);
                let s32 = Score::<f32>::score(&score, x32.view(), t).unwrap();
                let s32_strided = Score::<f32>::score(&score, x32.t().t(), t).unwrap();
                assert_eq!(s32, s32_strided);
                for (a, b) in s64.iter().zip(&s32) {
                    assert!(
                        (a - f64::from(*b)).abs() <= 1e-5 * (1.0 + a.abs()),
                        "{param:?} t = {t}: {a} vs {b}"
                    );
                }
            }
        }
        let net = ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 3).unwrap();
        let score = LearnedScore::new(&net, VpSde::default());
        let wrong = ndarray::Array2::<f32>::zeros((4, 3));
        let e = Score::<f32>::score(&score, wrong.view(), 0.5).unwrap_err();
        assert!(e.to_string().contains("d = 3"), "{e}");
    }
}
