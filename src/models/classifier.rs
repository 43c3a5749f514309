//! A classifier of noisy data `p_φ(y | x_t, t)` for classifier guidance (seed 002 §6.1,
//! Dhariwal & Nichol 2021): a SiLU MLP of `[x_t, t]` to `k` logits, trained by cross-entropy
//! on perturbed data ([`crate::framework::guidance::train_classifier`]). Its input gradient
//! `∇ₓ log p_φ(y | x_t, t)` — what guidance adds to the score — comes from candle's backward
//! pass with respect to the input batch held as a [`Var`].

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use ndarray::{Array2, ArrayView2};

use super::init::initialise;
use super::{to_array, to_tensor, Mlp};
use crate::error::invalid;
use crate::{Error, Result};

/// `p_φ(y | x_t, t) = softmax(MLP([x_t, t]))_y` in candle; parameters in its own [`VarMap`].
pub struct TimeClassifier {
    dim: usize,
    classes: usize,
    varmap: VarMap,
    device: Device,
    net: Mlp,
}

impl TimeClassifier {
    /// A classifier of `dim`-dimensional points into `classes ≥ 2` classes through SiLU layers
    /// of widths `hidden`, on `device`, initialised from `seed` (PyTorch's `U(±1/√fan_in)`).
    pub fn new(
        dim: usize,
        classes: usize,
        hidden: &[usize],
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        if dim == 0 {
            return invalid("dim", 0, "data need at least one dimension");
        }
        if classes < 2 {
            return invalid("classes", classes, "a classifier needs ≥ 2 classes");
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let mut dims = vec![dim + 1];
        dims.extend(hidden);
        dims.push(classes);
        let net = Mlp::new(vb.pp("net"), &dims)?;
        initialise(&varmap, device, seed, |_| None)?;
        Ok(Self {
            dim,
            classes,
            varmap,
            device: device.clone(),
            net,
        })
    }

    /// Number of classes `k`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// All parameters, by name (for [`super::checkpoint`]).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The parameters an optimiser updates, in name order.
    pub fn trainable_vars(&self) -> Vec<Var> {
        let vars = self.varmap.data().lock().expect("var map lock");
        let mut named: Vec<(&String, &Var)> = vars.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// The logits (`n × k`) for `x` (`n × d`) and times `t` (`n × 1`), as candle tensors.
    pub fn logits(&self, x: &Tensor, t: &Tensor) -> Result<Tensor> {
        Ok(self.net.forward(&Tensor::cat(&[x, t], 1)?)?)
    }

    /// Checks that a batch has the classifier's dimension.
    pub(crate) fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.dim {
            return Err(Error::Shape(format!(
                "the classifier takes d = {}, the batch has d = {}",
                self.dim,
                x.ncols()
            )));
        }
        Ok(())
    }

    fn check_label(&self, label: usize) -> Result<()> {
        if label >= self.classes {
            return invalid(
                "label",
                label,
                format!("must be < classes = {}", self.classes),
            );
        }
        Ok(())
    }

    /// `log p_φ(y | x, t)` for every row and class (`n × k`).
    pub fn log_prob(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.check_input(x)?;
        let xt = to_tensor(x, &self.device)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), &self.device)?;
        to_array(&candle_nn::ops::log_softmax(&self.logits(&xt, &tt)?, 1)?)
    }

    /// `∇ₓ log p_φ(y = label | x, t)` for every row (`n × d`): the backward pass of
    /// `Σ_i log p_φ(y | x_i, t)` with respect to the input (rows are independent, so the
    /// gradient of the sum is each row's own gradient).
    pub fn log_prob_grad(&self, x: ArrayView2<f64>, t: f64, label: usize) -> Result<Array2<f64>> {
        self.check_input(x)?;
        self.check_label(label)?;
        let input = Var::from_tensor(&to_tensor(x, &self.device)?)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), &self.device)?;
        let logp = candle_nn::ops::log_softmax(&self.logits(input.as_tensor(), &tt)?, 1)?;
        let total = logp.narrow(1, label, 1)?.sum_all()?;
        let grads = total.backward()?;
        let g = grads
            .get(input.as_tensor())
            .ok_or_else(|| Error::Numerical("no gradient reached the input".into()))?;
        to_array(g)
    }
}
