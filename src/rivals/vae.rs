//! A small variational autoencoder (seed 000 §4.5.2): an MLP encoder
//! `q(z | x) = N(μ_φ(x), diag σ_φ²(x))`, a standard normal prior `p(z) = N(0, I)` and an MLP
//! decoder `p(x | z) = N(m_θ(z), diag v_θ(z))`, trained by maximising the ELBO
//!
//! ```text
//! log p(x) ≥ ELBO(x) = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z))
//! ```
//!
//! with one reparameterised draw `z = μ + σ ε` per point (Kingma & Welling 2014). The ELBO is a
//! **bound**: [`Vae::log_likelihood_bounds`] also returns the importance-weighted bound of
//! Burda et al. (2016), `log (1/K) Σ_k p(x, z_k)/q(z_k | x)`, which rises towards `log p(x)` as
//! `K` grows. Sampling is one decoder pass; the encoder gives the latent space and
//! reconstructions `m_θ(μ_φ(x))`.

use candle_core::{Device, Tensor};
use candle_nn::Module;
use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::net::{seeded_pair, SeededMlp};
use super::TrainConfig;
use crate::data::log_sum_exp;
use crate::error::invalid;
use crate::framework::dsm::{optimise, TrainLog};
use crate::models::{to_array, to_tensor};
use crate::rng;
use crate::{Error, Result};

/// Bound on the decoder's log-variances, `|log v| < LOG_VAR_BOUND` (`log v = b·tanh(raw/b)`):
/// keeps the Gaussian decoder from collapsing onto training points.
pub const LOG_VAR_BOUND: f64 = 6.0;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The architecture of a [`Vae`].
#[derive(Debug, Clone, PartialEq)]
pub struct VaeConfig {
    /// Data dimension `d`.
    pub dim: usize,
    /// Latent dimension `k`.
    pub latent: usize,
    /// Hidden widths of encoder and decoder.
    pub hidden: Vec<usize>,
}

impl VaeConfig {
    /// 2-D data, a 2-D latent, two hidden layers of 64.
    pub fn small_2d() -> Self {
        Self {
            dim: 2,
            latent: 2,
            hidden: vec![64, 64],
        }
    }
}

/// Encoder and decoder.
pub struct Vae {
    config: VaeConfig,
    device: Device,
    encoder: SeededMlp,
    decoder: SeededMlp,
}

/// Mean and log-variance halves of an `n × 2k` output.
fn halves(out: &Tensor, k: usize) -> candle_core::Result<(Tensor, Tensor)> {
    Ok((out.narrow(1, 0, k)?, out.narrow(1, k, k)?))
}

/// `log N(x; m, diag e^{lv})` per row.
fn gaussian_log_density(x: &Tensor, m: &Tensor, lv: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(1)? as f64;
    let quad = ((x - m)?.sqr()? * lv.neg()?.exp()?)?;
    ((quad + lv)?.sum(1)? * -0.5)? - 0.5 * d * LN_2PI
}

impl Vae {
    /// A VAE with `config` on `device`, encoder from `seed`, decoder from `seed + 1`.
    pub fn new(config: VaeConfig, device: &Device, seed: u64) -> Result<Self> {
        let (encoder, decoder) = seeded_pair(
            (config.dim, config.latent),
            &config.hidden,
            (config.dim, 2 * config.latent),
            (config.latent, 2 * config.dim),
            device,
            seed,
        )?;
        Ok(Self {
            config,
            device: device.clone(),
            encoder,
            decoder,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &VaeConfig {
        &self.config
    }

    /// Trainable scalars of encoder and decoder.
    pub fn num_parameters(&self) -> usize {
        self.encoder.num_parameters() + self.decoder.num_parameters()
    }

    fn check_dim(&self, x: ArrayView2<f64>, d: usize, what: &str) -> Result<()> {
        if x.ncols() != d {
            return Err(Error::Shape(format!(
                "{what} of dimension {}, the VAE's is {d}",
                x.ncols()
            )));
        }
        Ok(())
    }

    /// `(μ_φ(x), log σ_φ²(x))`.
    fn encode_t(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        halves(&self.encoder.mlp.forward(x)?, self.config.latent)
    }

    /// `(m_θ(z), log v_θ(z))`, the log-variance bounded by [`LOG_VAR_BOUND`].
    fn decode_t(&self, z: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (m, raw) = halves(&self.decoder.mlp.forward(z)?, self.config.dim)?;
        let b = LOG_VAR_BOUND;
        Ok((m, ((raw / b)?.tanh()? * b)?))
    }

    /// The encoder's means `μ_φ(x)`: the latent code of each point.
    pub fn encode(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.check_dim(x, self.config.dim, "points")?;
        to_array(&self.encode_t(&to_tensor(x, &self.device)?)?.0)
    }

    /// The decoder's means `m_θ(z)`.
    pub fn decode(&self, z: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.check_dim(z, self.config.latent, "latents")?;
        to_array(&self.decode_t(&to_tensor(z, &self.device)?)?.0)
    }

    /// `m_θ(μ_φ(x))`: what the autoencoder makes of `x`.
    pub fn reconstruct(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.decode(self.encode(x)?.view())
    }

    /// `n` samples `x ~ p(x | z)`, `z ~ N(0, I)`, from `seed`: one decoder pass per sample.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Array2<f64>> {
        let mut rng = rng::seeded(seed);
        let z = rng::normals(&mut rng, n, self.config.latent);
        let (m, lv) = self.decode_t(&to_tensor(z.view(), &self.device)?)?;
        let (m, lv) = (to_array(&m)?, to_array(&lv)?);
        let e = rng::normals(&mut rng, n, self.config.dim);
        Ok(m + &(lv.mapv(|v| (0.5 * v).exp()) * e))
    }

    /// The negative ELBO of every row of `x` with the reparameterised draws `eps` (`n × k`).
    fn neg_elbo(&self, x: &Tensor, eps: &Tensor) -> candle_core::Result<Tensor> {
        let (mu, lv) = self.encode_t(x)?;
        let z = (&mu + (&lv * 0.5)?.exp()? * eps)?;
        let (m, dlv) = self.decode_t(&z)?;
        let rec = gaussian_log_density(x, &m, &dlv)?;
        let kl = ((mu.sqr()? + lv.exp()? - &lv)? - 1.0)?.sum(1)? * 0.5;
        kl - rec
    }

    /// `(ELBO, IWAE_K)` of every row of `x`, in nats, from `k` importance samples per point
    /// drawn from `seed` (the ELBO averages the same `k` draws). Both are lower bounds on
    /// `log p(x)`; `IWAE_K ≥ ELBO` on average, tightening as `k` grows.
    pub fn log_likelihood_bounds(
        &self,
        x: ArrayView2<f64>,
        k: usize,
        seed: u64,
    ) -> Result<(Array1<f64>, Array1<f64>)> {
        self.check_dim(x, self.config.dim, "points")?;
        if k == 0 {
            return invalid("k", 0, "need at least one importance sample");
        }
        let n = x.nrows();
        let kz = self.config.latent;
        let xt = to_tensor(x, &self.device)?;
        let (mu, lv) = self.encode_t(&xt)?;
        let (mu, lv) = (to_array(&mu)?, to_array(&lv)?);
        let mut rng = rng::seeded(seed);
        // log w_j = log p(x | z_j) + log p(z_j) − log q(z_j | x), one column per draw.
        let mut log_w = Array2::<f64>::zeros((n, k));
        for j in 0..k {
            let e = rng::normals(&mut rng, n, kz);
            let z = &mu + &(lv.mapv(|v| (0.5 * v).exp()) * &e);
            let (m, dlv) = self.decode_t(&to_tensor(z.view(), &self.device)?)?;
            let rec = to_array(&gaussian_log_density(&xt, &m, &dlv)?.unsqueeze(1)?)?;
            for i in 0..n {
                let mut prior = -0.5 * kz as f64 * LN_2PI;
                let mut post = -0.5 * kz as f64 * LN_2PI;
                for c in 0..kz {
                    prior -= 0.5 * z[[i, c]] * z[[i, c]];
                    post -= 0.5 * (e[[i, c]] * e[[i, c]] + lv[[i, c]]);
                }
                log_w[[i, j]] = rec[[i, 0]] + prior - post;
            }
        }
        let elbo = log_w.mean_axis(Axis(1)).expect("k > 0");
        let iwae = log_w
            .rows()
            .into_iter()
            .map(|r| log_sum_exp(r.iter().copied()) - (k as f64).ln())
            .collect();
        Ok((elbo, iwae))
    }
}

/// Trains `vae` on `data` by maximising the ELBO (loss: mean negative ELBO per point) with one
/// reparameterised draw per point and step. Errors on bad settings, data of the wrong
/// dimension, and a non-finite loss (naming the step).
pub fn train_vae(vae: &Vae, data: ArrayView2<f64>, config: &TrainConfig) -> Result<TrainLog> {
    vae.check_dim(data, vae.config.dim, "data")?;
    crate::error::all_finite("the training data", data.iter())?;
    let settings = config.optimiser(data.nrows())?;
    let mut vars = vae.encoder.vars();
    vars.extend(vae.decoder.vars());
    optimise(
        vars,
        data.nrows(),
        &settings,
        "VAE (negative ELBO)",
        &mut |_, _| {},
        &mut |rows, rng| {
            let x = to_tensor(data.select(Axis(0), rows).view(), &vae.device)?;
            let eps = super::net::normal_tensor(rng, rows.len(), vae.config.latent, &vae.device)?;
            Ok(vae.neg_elbo(&x, &eps)?.mean_all()?.into())
        },
    )
}
