//! A RealNVP-style normalising flow (seed 000 §4.5.3; Dinh et al. 2017): an invertible map
//! `z = f(x)` made of affine coupling layers, each keeping the coordinates where its mask
//! `m` is 1 and transforming the others given them,
//!
//! ```text
//! y = m ⊙ x + (1 − m) ⊙ (x ⊙ exp(s(m ⊙ x)) + t(m ⊙ x)),   log |det ∂y/∂x| = Σ_j (1 − m_j) s_j,
//! ```
//!
//! with `s = tanh(·)` and `t` from one MLP per layer; masks alternate between the even and odd
//! coordinates. The Jacobian is triangular, so the change of variables is exact:
//! `log p(x) = log N(f(x); 0, I) + Σ_layers log |det|`, and training maximises it. Sampling
//! inverts the layers in reverse order, `x = (y − t) ⊙ exp(−s)` on the transformed coordinates —
//! one pass of each layer's network per sample, like encoding.

use candle_core::{Device, Tensor};
use candle_nn::Module;
use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::net::{widths, SeededMlp};
use super::TrainConfig;
use crate::error::invalid;
use crate::framework::dsm::{optimise, TrainLog};
use crate::models::{to_array, to_tensor};
use crate::rng;
use crate::{Error, Result};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The architecture of a [`RealNvp`].
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// Data dimension `d ≥ 2` (a coupling layer needs a part to condition on).
    pub dim: usize,
    /// Number of coupling layers.
    pub layers: usize,
    /// Hidden widths of each layer's network.
    pub hidden: Vec<usize>,
}

impl FlowConfig {
    /// 2-D data, 8 coupling layers with two hidden layers of 64.
    pub fn small_2d() -> Self {
        Self {
            dim: 2,
            layers: 8,
            hidden: vec![64, 64],
        }
    }
}

struct Coupling {
    net: SeededMlp,
    /// `1 × d`: 1 on the coordinates kept.
    mask: Tensor,
    /// `1 − mask`.
    free: Tensor,
}

/// A stack of affine coupling layers with a standard normal base.
pub struct RealNvp {
    config: FlowConfig,
    device: Device,
    couplings: Vec<Coupling>,
}

impl RealNvp {
    /// A flow with `config` on `device`, layer `l`'s network from `seed + l`. Errors on
    /// `dim < 2`, zero layers or a zero width.
    pub fn new(config: FlowConfig, device: &Device, seed: u64) -> Result<Self> {
        if config.dim < 2 {
            return invalid(
                "dim",
                config.dim,
                "coupling layers need d ≥ 2: one part is transformed given the other",
            );
        }
        if config.layers == 0 {
            return invalid("layers", 0, "need at least one coupling layer");
        }
        let d = config.dim;
        let couplings = (0..config.layers)
            .map(|l| {
                let keep: Vec<f32> = (0..d).map(|j| ((j + l) % 2 == 0) as u8 as f32).collect();
                let free: Vec<f32> = keep.iter().map(|m| 1.0 - m).collect();
                Ok(Coupling {
                    net: SeededMlp::new(
                        &widths(d, &config.hidden, 2 * d)?,
                        device,
                        seed.wrapping_add(l as u64),
                    )?,
                    mask: Tensor::from_vec(keep, (1, d), device)?,
                    free: Tensor::from_vec(free, (1, d), device)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config,
            device: device.clone(),
            couplings,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// Trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.couplings.iter().map(|c| c.net.num_parameters()).sum()
    }

    /// Network evaluations per sample (one per layer), in either direction.
    pub fn nfe(&self) -> usize {
        self.couplings.len()
    }

    fn check_dim(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.config.dim {
            return Err(Error::Shape(format!(
                "points of dimension {}, the flow's is {}",
                x.ncols(),
                self.config.dim
            )));
        }
        Ok(())
    }

    /// `(s, t)` of a layer at the kept coordinates `m ⊙ x`, both zero where `m = 1`.
    fn scale_shift(c: &Coupling, kept: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let out = c.net.mlp.forward(kept)?;
        let d = kept.dim(1)?;
        let s = out.narrow(1, 0, d)?.tanh()?.broadcast_mul(&c.free)?;
        let t = out.narrow(1, d, d)?.broadcast_mul(&c.free)?;
        Ok((s, t))
    }

    /// `(f(x), log |det ∂f/∂x|)` as tensors.
    fn forward_t(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let mut y = x.clone();
        let mut log_det = Tensor::zeros(x.dim(0)?, x.dtype(), x.device())?;
        for c in &self.couplings {
            let kept = y.broadcast_mul(&c.mask)?;
            let (s, t) = Self::scale_shift(c, &kept)?;
            let moved = ((y * s.exp()?)? + t)?.broadcast_mul(&c.free)?;
            y = (kept + moved)?;
            log_det = (log_det + s.sum(1)?)?;
        }
        Ok((y, log_det))
    }

    fn log_density_t(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (z, log_det) = self.forward_t(x)?;
        let d = self.config.dim as f64;
        ((z.sqr()?.sum(1)? * -0.5)? - 0.5 * d * LN_2PI)? + log_det
    }

    /// The latents `z = f(x)` and `log |det ∂f/∂x|` of every row of `x`.
    pub fn forward(&self, x: ArrayView2<f64>) -> Result<(Array2<f64>, Array1<f64>)> {
        self.check_dim(x)?;
        let (z, ld) = self.forward_t(&to_tensor(x, &self.device)?)?;
        Ok((to_array(&z)?, to_array(&ld.unsqueeze(1)?)?.column(0).to_owned()))
    }

    /// `x = f⁻¹(z)`, the layers undone in reverse order.
    pub fn inverse(&self, z: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.check_dim(z)?;
        let mut x = to_tensor(z, &self.device)?;
        for c in self.couplings.iter().rev() {
            let kept = x.broadcast_mul(&c.mask)?;
            let (s, t) = Self::scale_shift(c, &kept)?;
            let moved = ((x - t)? * s.neg()?.exp()?)?.broadcast_mul(&c.free)?;
            x = (kept + moved)?;
        }
        to_array(&x)
    }

    /// The exact `log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x|` of every row, in nats.
    pub fn log_density(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.check_dim(x)?;
        let lp = self.log_density_t(&to_tensor(x, &self.device)?)?;
        Ok(to_array(&lp.unsqueeze(1)?)?.column(0).to_owned())
    }

    /// `n` samples `f⁻¹(z)`, `z ~ N(0, I)` from `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Array2<f64>> {
        let z = rng::normals(&mut rng::seeded(seed), n, self.config.dim);
        self.inverse(z.view())
    }
}

/// Trains `flow` on `data` by maximum likelihood (loss: mean negative log-density, nats per
/// point). Errors on bad settings, data of the wrong dimension, and a non-finite loss (naming
/// the step).
pub fn train_flow(flow: &RealNvp, data: ArrayView2<f64>, config: &TrainConfig) -> Result<TrainLog> {
    flow.check_dim(data)?;
    crate::error::all_finite("the training data", data.iter())?;
    let settings = config.optimiser(data.nrows())?;
    let vars = flow.couplings.iter().flat_map(|c| c.net.vars()).collect();
    optimise(
        vars,
        data.nrows(),
        &settings,
        "flow (negative log-likelihood)",
        &mut |_, _| {},
        &mut |rows, _| {
            let x = to_tensor(data.select(Axis(0), rows).view(), &flow.device)?;
            Ok(flow.log_density_t(&x)?.mean_all()?.neg()?.into())
        },
    )
}
