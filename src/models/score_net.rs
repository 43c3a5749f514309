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
//! [`super::LearnedScore`] wraps a network and a forward SDE into a
//! [`crate::sde_basics::Score`], so every sampler of chapter 4 runs the network exactly as it
//! runs the closed-form score.
//!
//! With [`ScoreNetConfig::classes`] `= Some(k)` the network is class-conditional (seed 002 §6,
//! classifier-free guidance): a learned label embedding of `k + 1` rows — the last one the
//! null label `∅` — enters beside the time embedding, `net(x, t, y) = MLP([x, emb(t), emb(y)])`;
//! [`ScoreNet::forward`] then uses `∅`, so the unconditional score is the same call as for an
//! unconditional network. Labels follow [`super::DenoisingNet`]'s convention (`Some(y)` or
//! `None` for `∅`; index `classes` inside a label tensor), as in [`super::UNet`].
//!
//! The fixed embeddings are [`super::embeddings`]' modules, the one set the crate has.

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{Embedding, VarBuilder, VarMap};
use ndarray::{Array2, ArrayView2};

use std::sync::Mutex;

use super::backprop::{with_scratch_tape, Dense, DenseGrad, MlpTape, Weights};
use super::denoiser::{output_f32_by_candle, regression_loss_by_autograd};
use super::embeddings::{RandomFourierEmbedding, SinusoidalEmbedding};
use super::init::{initialise, Fill};
use super::kernels::fused;
use super::{to_array, to_tensor, weighted_mse, DenoisingNet, Gradients, Mlp};
use crate::error::{invalid, positive};
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
        let (a, b) = self.score_coefficients(alpha, sigma);
        if b == 0.0 {
            o * a
        } else {
            o * a + &x * b
        }
    }

    /// `(a, b)` with score `= a o + b x`: every parameterisation is affine in the output and
    /// the state — `ε`: `(−1/σ, 0)`; score: `(1, 0)`; `x_0`: `(α/σ², −1/σ²)`;
    /// `v`: `(−α/(σ(α²+σ²)), −1/(α²+σ²))`. So `∂s/∂x = a ∂o/∂x + b I`.
    pub fn score_coefficients(self, alpha: f64, sigma: f64) -> (f64, f64) {
        match self {
            Parameterisation::Epsilon => (-1.0 / sigma, 0.0),
            Parameterisation::Score => (1.0, 0.0),
            Parameterisation::X0 => (alpha / (sigma * sigma), -1.0 / (sigma * sigma)),
            Parameterisation::V => {
                let n = alpha * alpha + sigma * sigma;
                (-alpha / (sigma * n), -1.0 / n)
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
    /// `Some(k)`: conditional on a label `y ∈ {0, …, k−1}` or the null label `∅` (index `k`),
    /// through a learned embedding as wide as the time embedding; `None`: unconditional.
    pub classes: Option<usize>,
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
            classes: None,
        }
    }
}

enum Embedder {
    Mlp(Mlp),
    Fourier(RandomFourierEmbedding),
    Sinusoidal(SinusoidalEmbedding),
}

impl Module for Embedder {
    fn forward(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Embedder::Mlp(m) => m.forward(t),
            Embedder::Fourier(e) => e.forward(t),
            Embedder::Sinusoidal(e) => e.forward(t),
        }
    }
}

/// A time-conditioned MLP in candle; parameters in its own [`VarMap`] (see [`super::checkpoint`]).
pub struct ScoreNet {
    config: ScoreNetConfig,
    varmap: VarMap,
    device: Device,
    embed: Embedder,
    /// The label embedding of a class-conditional network (`classes + 1` rows, the last `∅`).
    labels: Option<Embedding>,
    net: Mlp,
    /// The buffers of the hand-written training step, reused from step to step.
    workspace: Mutex<Workspace>,
}

/// The tapes of the time MLP and the main MLP and the main MLP's input `[x, emb(t)]` with
/// its gradient.
#[derive(Default)]
struct Workspace {
    embed: MlpTape,
    net: MlpTape,
    input: Vec<f32>,
    d_input: Vec<f32>,
    d_emb: Vec<f32>,
}

/// Name of the fixed Fourier frequencies in the var map (saved, never trained).
const FOURIER_VAR: &str = "temb.fourier_b";
/// Name of the label embedding's table.
const LABEL_VAR: &str = "yemb.weight";

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
                Embedder::Fourier(RandomFourierEmbedding::from_frequencies(b))
            }
            // DDPM's embedding of the step index 1000 t.
            TimeEmbedding::Sinusoidal { dim } => {
                Embedder::Sinusoidal(SinusoidalEmbedding::new(dim, 10_000.0, 1000.0, device)?)
            }
        };
        let labels = match config.classes {
            Some(0) => return invalid("classes", 0, "a conditional network needs ≥ 1 class"),
            Some(k) => Some(candle_nn::embedding(k + 1, e, vb.pp("yemb"))?),
            None => None,
        };
        let mut dims = vec![config.dim + e + labels.as_ref().map_or(0, |_| e)];
        dims.extend(&config.hidden);
        dims.push(config.dim);
        let net = Mlp::new(vb.pp("net"), &dims)?;
        // Fourier frequencies N(0, scale²), label embeddings N(0, 1) (PyTorch's default).
        let scale = match config.embedding {
            TimeEmbedding::GaussianFourier { scale, .. } => scale,
            _ => 1.0,
        };
        initialise(&varmap, device, seed, |name| match name {
            FOURIER_VAR => Some(Fill::Normal(scale)),
            LABEL_VAR => Some(Fill::Normal(1.0)),
            _ => None,
        })?;
        Ok(Self {
            config,
            varmap,
            device: device.clone(),
            embed,
            labels,
            net,
            workspace: Mutex::default(),
        })
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

    /// The raw output for `x` (`n × d`) and times `t` (`n × 1`), as candle tensors; a
    /// class-conditional network is given the null label `∅` (its unconditional output).
    pub fn forward(&self, x: &Tensor, t: &Tensor) -> Result<Tensor> {
        self.forward_labelled(x, t, None)
    }

    fn forward_parts(&self, x: &Tensor, t: &Tensor, label: Option<Tensor>) -> Result<Tensor> {
        let emb = self.embed.forward(t)?;
        let input = match label {
            Some(y) => Tensor::cat(&[x, &emb, &y], 1)?,
            None => Tensor::cat(&[x, &emb], 1)?,
        };
        Ok(self.net.forward(&input)?)
    }

    /// The raw output at one time `t` for a batch `x`, as `f64` (`∅` for a class-conditional
    /// network; [`DenoisingNet::output_labelled`] for a label).
    pub fn output(&self, x: ArrayView2<f64>, t: f64) -> Result<Array2<f64>> {
        self.output_labelled(x, t, None)
    }
}

impl ScoreNet {
    /// The raw output `o(x, t)` and, for every probe batch `v` (`n × d`), the
    /// vector–Jacobian products `vᵢᵀ ∂o/∂x (xᵢ)`: one forward pass that keeps the graph,
    /// then one backward pass of `Σᵢ vᵢ · o(xᵢ)` per probe (candle has no double backward;
    /// a VJP needs none). The divergence of the PF-ODE velocity is built from these
    /// (seed 001 §3.2.2, [`crate::framework::likelihood`]).
    pub fn output_vjp(
        &self,
        x: ArrayView2<f64>,
        t: f64,
        probes: &[ArrayView2<f64>],
    ) -> Result<(Array2<f64>, Vec<Array2<f64>>)> {
        self.check_input(x)?;
        if let Some(v) = probes.iter().find(|v| v.dim() != x.dim()) {
            return Err(Error::Shape(format!(
                "a probe is {:?}, the batch is {:?}",
                v.dim(),
                x.dim()
            )));
        }
        let xv = Var::from_tensor(&to_tensor(x, &self.device)?)?;
        let tt = Tensor::full(t as f32, (x.nrows(), 1), &self.device)?;
        let o = self.forward(xv.as_tensor(), &tt)?;
        let products = probes
            .iter()
            .map(|v| {
                let grads = (&o * to_tensor(*v, &self.device)?)?.sum_all()?.backward()?;
                match grads.get(&xv) {
                    Some(g) => to_array(g),
                    // The output does not depend on x (impossible for this architecture).
                    None => Ok(Array2::zeros(x.dim())),
                }
            })
            .collect::<Result<_>>()?;
        Ok((to_array(&o)?, products))
    }
}

impl ScoreNet {
    /// [`DenoisingNet::regression_loss`] with the gradient by hand ([`super::backprop`]) for an
    /// unconditional network on the CPU: the time MLP (when learned) and the main MLP forward
    /// on their tapes, the loss's gradient `∂o = 2 w (o − target) / n` in the order of
    /// operations candle's backward takes, the main MLP backward, and the columns of `∂input`
    /// that belong to `emb(t)` backward through the time MLP.
    fn regression_loss_by_hand(
        &self,
        x: &Tensor,
        t: &Tensor,
        target: &Tensor,
        w: &Tensor,
    ) -> Result<(Tensor, Gradients)> {
        let (n, d) = x.dims2()?;
        let e = self.config.embedding.dim();
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let ts = t.flatten_all()?.to_vec1::<f32>()?;
        let net_params = self.net.parameters();
        let emb_params = match &self.embed {
            Embedder::Mlp(m) => m.parameters(),
            _ => vec![],
        };
        let (net_weights, emb_weights) = (Weights::read(&net_params), Weights::read(&emb_params));
        let (net_layers, emb_layers) = (net_weights.layers()?, emb_weights.layers()?);
        let mut guard = self.workspace.lock().expect("workspace lock");
        let ws = &mut *guard;

        let fixed;
        let emb: &[f32] = match &self.embed {
            Embedder::Mlp(_) => ws.embed.forward(&ts, &emb_layers),
            fixed_features => {
                fixed = fixed_features.forward(t)?.flatten_all()?.to_vec1::<f32>()?;
                &fixed
            }
        };
        ws.input.resize(n * (d + e), 0.0);
        for ((row, x), emb) in ws
            .input
            .chunks_exact_mut(d + e)
            .zip(xs.chunks_exact(d))
            .zip(emb.chunks_exact(e))
        {
            row[..d].copy_from_slice(x);
            row[d..].copy_from_slice(emb);
        }
        let out = ws.net.forward(&ws.input, &net_layers);
        let loss = weighted_mse(&Tensor::from_slice(out, (n, d), &self.device)?, target, w)?;

        let inv_n = (1.0 / n as f64) as f32;
        let weights = w.flatten_all()?.to_vec1::<f32>()?;
        let targets = target.flatten_all()?.to_vec1::<f32>()?;
        let mut d_out = vec![0f32; n * d];
        for (i, g) in weights.iter().map(|&w| inv_n * w).enumerate() {
            for j in i * d..(i + 1) * d {
                d_out[j] = ((out[j] - targets[j]) * g) * 2.0 + 0.0;
            }
        }
        let learned_time = matches!(self.embed, Embedder::Mlp(_));
        ws.d_input.resize(n * (d + e), 0.0);
        let net_grads = ws.net.backward(
            &ws.input,
            &net_layers,
            &d_out,
            learned_time.then_some(&mut ws.d_input[..]),
        );
        let mut grads = Gradients::default();
        let mut record = |params: &[(&Tensor, &Tensor)], layer_grads: Vec<DenseGrad>| {
            for ((w, b), g) in params.iter().zip(layer_grads) {
                grads.insert(w, Tensor::from_vec(g.w, w.shape(), &self.device)?);
                grads.insert(b, Tensor::from_vec(g.b, b.shape(), &self.device)?);
            }
            Ok::<_, Error>(())
        };
        record(&net_params, net_grads)?;
        if learned_time {
            ws.d_emb.clear();
            ws.d_emb
                .extend(ws.d_input.chunks_exact(d + e).flat_map(|row| &row[d..]));
            let emb_grads = ws.embed.backward(&ts, &emb_layers, &ws.d_emb, None);
            record(&emb_params, emb_grads)?;
        }
        Ok((loss, grads))
    }

    /// [`DenoisingNet::output_f32`] by hand for an unconditional network on the CPU: every row
    /// shares the time `t`, so `emb(t)` is computed once and folded into the first layer,
    /// `W [x; emb] + b = W_x x + (W_e emb + b)`, and the main MLP runs on `d` inputs instead of
    /// `d + e` (the appendix network: 27 % fewer multiplies), on this thread's scratch tape.
    /// The same function as the candle forward pass, rounded differently.
    fn output_f32_by_hand(&self, x: ArrayView2<f32>, t: f64) -> Result<Array2<f32>> {
        let (n, d) = x.dim();
        let tt = Tensor::full(t as f32, (1, 1), &self.device)?;
        let emb: Vec<f32> = self.embed.forward(&tt)?.flatten_all()?.to_vec1()?;
        let params = self.net.parameters();
        let weights = Weights::read(&params);
        let mut layers = weights.layers()?;
        let (k, m) = layers[0].widths();
        let (mut w_x, mut bias) = (Vec::with_capacity(m * d), Vec::with_capacity(m));
        for (row, &b) in layers[0].w.chunks_exact(k).zip(layers[0].b) {
            w_x.extend_from_slice(&row[..d]);
            bias.push(b + row[d..].iter().zip(&emb).map(|(w, e)| w * e).sum::<f32>());
        }
        layers[0] = Dense { w: &w_x, b: &bias };
        let xs = x.as_standard_layout();
        let xs = xs.as_slice().expect("standard layout");
        let out = with_scratch_tape(|tape| tape.forward(xs, &layers).to_vec());
        Array2::from_shape_vec((n, d), out).map_err(|e| Error::Shape(e.to_string()))
    }
}

impl DenoisingNet for ScoreNet {
    /// By hand on the CPU for an unconditional network (`ScoreNet::output_f32_by_hand`),
    /// through the candle forward pass otherwise.
    fn output_f32(&self, x: ArrayView2<f32>, t: f64) -> Result<Array2<f32>> {
        if self.labels.is_none() && self.device.is_cpu() {
            self.output_f32_by_hand(x, t)
        } else {
            output_f32_by_candle(self, x, t)
        }
    }

    /// By hand on the CPU in `f32` for an unconditional network (the gradient candle's autograd
    /// gives, bit for bit, in a fraction of the time: `examples/appendix_bench.rs`), by
    /// candle's autograd otherwise.
    fn regression_loss(
        &self,
        x: &Tensor,
        t: &Tensor,
        labels: Option<&Tensor>,
        target: &Tensor,
        w: &Tensor,
    ) -> Result<(Tensor, Gradients)> {
        if labels.is_none() && self.labels.is_none() && fused(x) {
            self.regression_loss_by_hand(x, t, target, w)
        } else {
            regression_loss_by_autograd(self, x, t, labels, target, w)
        }
    }

    fn dim(&self) -> usize {
        self.config.dim
    }

    fn classes(&self) -> Option<usize> {
        self.config.classes
    }

    fn parameterisation(&self) -> Parameterisation {
        self.config.parameterisation
    }

    fn device(&self) -> &Device {
        &self.device
    }

    fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    fn trainable_vars(&self) -> Vec<Var> {
        ScoreNet::trainable_vars(self)
    }

    /// `MLP([x, emb(t)])`, or `MLP([x, emb(t), emb(y)])` with `∅` for `None` when
    /// class-conditional.
    fn forward_labelled(&self, x: &Tensor, t: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        match (&self.labels, labels) {
            (Some(table), Some(y)) => self.forward_parts(x, t, Some(table.forward(y)?)),
            (Some(table), None) => {
                let null = Tensor::full(self.label_index(None)?, x.dim(0)?, &self.device)?;
                self.forward_parts(x, t, Some(table.forward(&null)?))
            }
            (None, None) => self.forward_parts(x, t, None),
            (None, Some(_)) => invalid(
                "classes",
                "None",
                "labels need a class-conditional network (ScoreNetConfig::classes = Some(k))",
            ),
        }
    }
}
