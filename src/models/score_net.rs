//! A time-conditioned score network for low-dimensional data (seed 000 A.4, seed 001 §3.2.1,
//! seed 000 §3.6.2 时间嵌入, seed 002 §2): `net(x, t) = MLP([x, emb(t)])` with SiLU
//! activations, and a choice of
//!
//! - time embedding ([`TimeEmbedding`]): the appendix's small MLP of `t`, Gaussian random
//!   Fourier features, or sinusoidal features;
//! - parameterisation ([`Parameterisation`]): what the output predicts — the noise `ε`, the
//!   score itself, the clean data `x_0`, or the velocity `v = α ε − σ x_0` — converted to a
//!   score with the forward SDE's `(α, σ)` in [`Parameterisation::to_score`].
//!
//! [`LearnedScore`] wraps a network and a forward SDE into a [`Score`], so every sampler of
//! chapter 4 runs the network exactly as it runs the closed-form score.
//!
//! Note for the integrator: chapter 3's `smld::embeddings` provides the embeddings as
//! candle modules; [`TimeEmbedding`] keeps small internal ones behind an enum until then.

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use ndarray::{Array2, ArrayView2};
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::{to_array, to_tensor, Mlp};
use crate::error::{invalid, positive};
use crate::framework::ForwardSde;
use crate::sde_basics::Score;
use crate::{Error, Result};

/// How `t` enters the network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeEmbedding {
    /// Seed 000 A.4: `Linear(1, dim) → SiLU → Linear(dim, dim)`, learned.
    Mlp {
        /// Output width.
        dim: usize,
    },
    /// `[sin 2π B t, cos 2π B t]` with `B ~ N(0, scale²)` drawn once and kept fixed
    /// (Tancik et al. 2020; Song et al. 2021's Gaussian Fourier projection).
    GaussianFourier {
        /// Output width (even).
        dim: usize,
        /// Standard deviation of the frequencies.
        scale: f64,
    },
    /// Transformer-style `[sin(1000 t ω_k), cos(1000 t ω_k)]`, `ω_k = 10000^{−k/(dim/2)}`
    /// (the DDPM timestep `1000 t`).
    Sinusoidal {
        /// Output width (even).
        dim: usize,
    },
}

impl TimeEmbedding {
    /// The embedding's output width.
    pub fn dim(&self) -> usize {
        match *self {
            TimeEmbedding::Mlp { dim }
            | TimeEmbedding::GaussianFourier { dim, .. }
            | TimeEmbedding::Sinusoidal { dim } => dim,
        }
    }
}

/// What the network's output `o(x, t)` predicts, for a kernel `x_t = α x_0 + σ ε`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parameterisation {
    /// `o ≈ ε`; score `= −o/σ` (seed 002 §2.2, the appendix).
    Epsilon,
    /// `o ≈ ∇log p_t`; score `= o` (seed 002 §2.1).
    Score,
    /// `o ≈ x_0`; score `= (α o − x)/σ²` (Tweedie).
    X0,
    /// `o ≈ v = α ε − σ x_0` (Salimans & Ho 2022); `ε = (σ x + α o)/(α² + σ²)`, score `= −ε/σ`.
    V,
}

impl Parameterisation {
    /// The score from the output `o` at states `x` with kernel `(α, σ)`.
    pub fn to_score(
        self,
        o: &Array2<f64>,
        x: ArrayView2<f64>,
        alpha: f64,
        sigma: f64,
    ) -> Array2<f64> {
        match self {
            Parameterisation::Epsilon => o / -sigma,
            Parameterisation::Score => o.clone(),
            Parameterisation::X0 => (o * alpha - x) / (sigma * sigma),
            Parameterisation::V => {
                let eps = (&x * sigma + &(o * alpha)) / (alpha * alpha + sigma * sigma);
                eps / -sigma
            }
        }
    }

    /// The regression target for `o` given `x_0`, `ε` and `(α, σ)`.
    pub fn target(
        self,
        x0: ArrayView2<f64>,
        eps: ArrayView2<f64>,
        alpha: &[f64],
        sigma: &[f64],
    ) -> Array2<f64> {
        let mut out = Array2::zeros(x0.dim());
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            let (a, s) = (alpha[i], sigma[i]);
            let (x, e) = (x0.row(i), eps.row(i));
            row.assign(&match self {
                Parameterisation::Epsilon => e.to_owned(),
                Parameterisation::Score => &e / -s,
                Parameterisation::X0 => x.to_owned(),
                Parameterisation::V => &e * a - &(&x * s),
            });
        }
        out
    }

    /// `c` with `s_θ − ∇log p_t(x_t | x_0) = ± c (o − target)`: a score-space loss weighted by
    /// `λ(t)` is the output-space loss weighted by `λ(t) c²`.
    pub fn score_factor(self, alpha: f64, sigma: f64) -> f64 {
        match self {
            Parameterisation::Epsilon => 1.0 / sigma,
            Parameterisation::Score => 1.0,
            Parameterisation::X0 => alpha / (sigma * sigma),
            Parameterisation::V => alpha / (sigma * (alpha * alpha + sigma * sigma)),
        }
    }
}

/// The architecture of a [`ScoreNet`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreNetConfig {
    /// Data dimension `d`.
    pub dim: usize,
    /// Hidden widths of the main MLP.
    pub hidden: Vec<usize>,
    /// The time embedding.
    pub embedding: TimeEmbedding,
    /// What the output predicts.
    pub parameterisation: Parameterisation,
}

impl ScoreNetConfig {
    /// Seed 000's appendix network: 2-D data, `t` through `Linear(1,64)–SiLU–Linear(64,64)`,
    /// then `2 + 64 → 128 → 128 → 128 → 2` with SiLU, predicting `ε`.
    pub fn appendix() -> Self {
        Self {
            dim: 2,
            hidden: vec![128, 128, 128],
            embedding: TimeEmbedding::Mlp { dim: 64 },
            parameterisation: Parameterisation::Epsilon,
        }
    }
}

enum Embedder {
    Mlp(Mlp),
    /// Frequencies as a `1 × dim/2` tensor, multiplied by `t` then `sin`/`cos`.
    Fixed(Tensor),
}

/// A time-conditioned MLP in candle; parameters in its own [`VarMap`] (see [`super::checkpoint`]).
pub struct ScoreNet {
    config: ScoreNetConfig,
    varmap: VarMap,
    device: Device,
    embed: Embedder,
    net: Mlp,
}

/// Name of the fixed Fourier frequencies in the var map (saved, never trained).
const FOURIER_VAR: &str = "temb.fourier_b";

impl ScoreNet {
    /// A network with `config` on `device`, initialised from `seed` (PyTorch's default
    /// `U(±1/√fan_in)` for every weight and bias; Fourier frequencies `N(0, scale²)`).
    pub fn new(config: ScoreNetConfig, device: &Device, seed: u64) -> Result<Self> {
        if config.dim == 0 {
            return invalid("dim", 0, "data need at least one dimension");
        }
        let e = config.embedding.dim();
        if e == 0 || config.hidden.contains(&0) {
            return invalid(
                "widths",
                format!("embedding {e}, hidden {:?}", config.hidden),
                "must be > 0",
            );
        }
        if device.is_cpu() {
            super::device::keep_freed_buffers();
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let embed = match config.embedding {
            TimeEmbedding::Mlp { dim } => Embedder::Mlp(Mlp::new(vb.pp("temb"), &[1, dim, dim])?),
            TimeEmbedding::GaussianFourier { dim, scale } => {
                positive("scale", scale)?;
                if dim % 2 == 1 {
                    return invalid(
                        "dim",
                        dim,
                        "Fourier features come in sin/cos pairs: must be even",
                    );
                }
                let b =
                    vb.get_with_hints((1, dim / 2), FOURIER_VAR, candle_nn::Init::Const(0.0))?;
                Embedder::Fixed(b)
            }
            TimeEmbedding::Sinusoidal { dim } => {
                if dim % 2 == 1 {
                    return invalid(
                        "dim",
                        dim,
                        "sinusoidal features come in sin/cos pairs: must be even",
                    );
                }
                let half = dim / 2;
                let w: Vec<f32> = (0..half)
                    .map(|k| {
                        (1000.0
                            / 10000f64.powf(k as f64 / half as f64)
                            / (2.0 * std::f64::consts::PI)) as f32
                    })
                    .collect();
                Embedder::Fixed(Tensor::from_vec(w, (1, half), device)?)
            }
        };
        let mut dims = vec![config.dim + e];
        dims.extend(&config.hidden);
        dims.push(config.dim);
        let net = Mlp::new(vb.pp("net"), &dims)?;
        let out = Self {
            config,
            varmap,
            device: device.clone(),
            embed,
            net,
        };
        out.initialise(seed)?;
        Ok(out)
    }

    /// Seeded initialisation, in name order so that it does not depend on hash order.
    fn initialise(&self, seed: u64) -> Result<()> {
        let mut rng = crate::rng::seeded(seed);
        let vars = self.varmap.data().lock().expect("var map lock");
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            let shape = var.shape().clone();
            let count = shape.elem_count();
            let values: Vec<f32> = if name == FOURIER_VAR {
                let scale = match self.config.embedding {
                    TimeEmbedding::GaussianFourier { scale, .. } => scale,
                    _ => 1.0,
                };
                (0..count)
                    .map(|_| {
                        (scale
                            * <StandardNormal as Distribution<f64>>::sample(
                                &StandardNormal,
                                &mut rng,
                            )) as f32
                    })
                    .collect()
            } else {
                let prefix = name.rsplit_once('.').map_or(name.as_str(), |p| p.0);
                let fan_in = vars
                    .get(&format!("{prefix}.weight"))
                    .map_or(1, |w| w.shape().dims()[1]);
                let bound = 1.0 / (fan_in as f64).sqrt();
                let u = Uniform::new_inclusive(-bound, bound).expect("bound > 0");
                (0..count).map(|_| u.sample(&mut rng) as f32).collect()
            };
            var.set(&Tensor::from_vec(values, shape, &self.device)?)?;
        }
        Ok(())
    }

    /// The architecture.
    pub fn config(&self) -> &ScoreNetConfig {
        &self.config
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// All parameters (and the fixed Fourier frequencies), by name.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The parameters an optimiser updates (everything but fixed Fourier frequencies).
    pub fn trainable_vars(&self) -> Vec<Var> {
        let vars = self.varmap.data().lock().expect("var map lock");
        let mut named: Vec<(&String, &Var)> = vars
            .iter()
            .filter(|(n, _)| n.as_str() != FOURIER_VAR)
            .collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.trainable_vars().iter().map(|v| v.elem_count()).sum()
    }

    /// The raw output for `x` (`n × d`) and times `t` (`n × 1`), as candle tensors.
    pub fn forward(&self, x: &Tensor, t: &Tensor) -> Result<Tensor> {
        let emb = match &self.embed {
            Embedder::Mlp(m) => m.forward(t)?,
            Embedder::Fixed(w) => {
                let arg = (t.broadcast_mul(w)? * (2.0 * std::f64::consts::PI))?;
                Tensor::cat(&[arg.sin()?, arg.cos()?], 1)?
            }
        };
        Ok(self.net.forward(&Tensor::cat(&[x, &emb], 1)?)?)
    }

    /// Checks that a batch has the network's dimension.
    pub(crate) fn check_input(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.config.dim {
            return Err(Error::Shape(format!(
                "the network takes d = {}, the batch has d = {} ({} rows)",
                self.config.dim,
                x.ncols(),
                x.nrows()
            )));
        }
        Ok(())
    }

    /// The raw output at one time `t` for a batch `x`, as `f64`.
    pub fn output(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.check_input(x)?;
        let xt = to_tensor(x, &self.device)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), &self.device)?;
        to_array(&self.forward(&xt, &tt)?)
    }
}

/// A trained network as the score of `sde`'s marginals: `s(x, t)` from the network's output
/// through its [`Parameterisation`] and `sde.marginal_mean_std(t)`.
pub struct LearnedScore<'a, S> {
    /// The network.
    pub net: &'a ScoreNet,
    /// The forward SDE it was trained for.
    pub sde: S,
}

impl<'a, S: ForwardSde> LearnedScore<'a, S> {
    /// The score of `net` under `sde`.
    pub fn new(net: &'a ScoreNet, sde: S) -> Self {
        Self { net, sde }
    }
}

impl<S: ForwardSde> Score for LearnedScore<'_, S> {
    fn score(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        let (alpha, sigma) = self.sde.marginal_mean_std(t)?;
        let o = self.net.output(x, t)?;
        Ok(self
            .net
            .config
            .parameterisation
            .to_score(&o, x, alpha, sigma))
    }
}
