//! A small GAN (seed 000 §4.5.1): an MLP generator `G: z ↦ x` from a Gaussian latent and an
//! MLP discriminator `D: x ↦ logit`, trained alternately with the non-saturating loss of
//! Goodfellow et al. (2014):
//!
//! ```text
//! L_D = E_x softplus(−D(x)) + E_z softplus(D(G(z)))      (−log σ(D(x)) − log(1 − σ(D(G(z)))))
//! L_G = E_z softplus(−D(G(z)))                           (−log σ(D(G(z))), not log(1 − σ(·)))
//! ```
//!
//! One discriminator step, then one generator step, per optimiser step of the crate's training
//! loop. Sampling is one generator pass. There is no density and no encoder: the GAN gives
//! neither a likelihood nor a reconstruction (the rows of §4.5's tables it leaves empty).

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Module, Optimizer, ParamsAdamW};
use ndarray::{Array2, ArrayView2, Axis};

use super::net::{normal_tensor, seeded_pair, softplus, SeededMlp};
use super::TrainConfig;
use crate::framework::dsm::{optimise, TrainLog};
use crate::models::{to_array, to_tensor};
use crate::rng;
use crate::{Error, Result};

/// A loss above this is a diverged run (a balanced discriminator gives `L_D ≈ 2 log 2`).
pub const DIVERGED_LOSS: f64 = 1e4;

/// The architecture of a [`Gan`].
#[derive(Debug, Clone, PartialEq)]
pub struct GanConfig {
    /// Data dimension `d`.
    pub dim: usize,
    /// Latent dimension.
    pub latent: usize,
    /// Hidden widths of both networks.
    pub hidden: Vec<usize>,
}

impl GanConfig {
    /// 2-D data, a 2-D latent, two hidden layers of 64.
    pub fn small_2d() -> Self {
        Self {
            dim: 2,
            latent: 2,
            hidden: vec![64, 64],
        }
    }
}

/// Generator and discriminator.
pub struct Gan {
    config: GanConfig,
    device: Device,
    generator: SeededMlp,
    discriminator: SeededMlp,
}

/// What [`train_gan`] returns: the generator's losses (in the log) and the discriminator's.
#[derive(Debug, Clone, PartialEq)]
pub struct GanLog {
    /// The generator's loss at every step, and the wall-clock time.
    pub generator: TrainLog,
    /// The discriminator's loss at every step.
    pub discriminator: Vec<f64>,
}

impl Gan {
    /// A GAN with `config` on `device`, generator from `seed`, discriminator from `seed + 1`.
    pub fn new(config: GanConfig, device: &Device, seed: u64) -> Result<Self> {
        let (generator, discriminator) = seeded_pair(
            (config.dim, config.latent),
            &config.hidden,
            (config.latent, config.dim),
            (config.dim, 1),
            device,
            seed,
        )?;
        Ok(Self {
            config,
            device: device.clone(),
            generator,
            discriminator,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &GanConfig {
        &self.config
    }

    /// Trainable scalars of generator and discriminator.
    pub fn num_parameters(&self) -> usize {
        self.generator.num_parameters() + self.discriminator.num_parameters()
    }

    /// `G(z)` for latents `z` (`n × latent`).
    pub fn generate(&self, z: ArrayView2<f64>) -> Result<Array2<f64>> {
        if z.ncols() != self.config.latent {
            return Err(Error::Shape(format!(
                "latents of dimension {}, the generator takes {}",
                z.ncols(),
                self.config.latent
            )));
        }
        to_array(&self.generator.mlp.forward(&to_tensor(z, &self.device)?)?)
    }

    /// `n` samples `G(z)`, `z ~ N(0, I)` from `seed`: one network evaluation per sample.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Array2<f64>> {
        let z = rng::normals(&mut rng::seeded(seed), n, self.config.latent);
        self.generate(z.view())
    }

    /// The discriminator's probability `σ(D(x))` that `x` is data.
    pub fn discriminate(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        let logit = self.discriminator.mlp.forward(&to_tensor(x, &self.device)?)?;
        to_array(&candle_nn::ops::sigmoid(&logit)?)
    }
}

/// Trains `gan` on `data` (`n × d`): per step, one AdamW step of the discriminator on a
/// minibatch and as many generated points, then one of the generator on fresh latents
/// (both optimisers `lr = config.lr`, `β₁ = 0.5` for the discriminator as usual for GANs).
///
/// Errors on bad settings or data of the wrong dimension; stops with an error naming the step
/// when either loss is non-finite or above [`DIVERGED_LOSS`].
pub fn train_gan(gan: &Gan, data: ArrayView2<f64>, config: &TrainConfig) -> Result<GanLog> {
    if data.ncols() != gan.config.dim {
        return Err(Error::Shape(format!(
            "data of dimension {}, the GAN makes {}",
            data.ncols(),
            gan.config.dim
        )));
    }
    crate::error::all_finite("the training data", data.iter())?;
    let settings = config.optimiser(data.nrows())?;
    let mut d_opt = AdamW::new(
        gan.discriminator.vars(),
        ParamsAdamW {
            lr: config.lr,
            beta1: 0.5,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    let device = &gan.device;
    let (g, d) = (&gan.generator.mlp, &gan.discriminator.mlp);
    let mut d_losses = Vec::with_capacity(config.steps);
    let mut step = 0;
    let generator = optimise(
        gan.generator.vars(),
        data.nrows(),
        &settings,
        "GAN generator",
        &mut |_, _| {},
        &mut |rows, rng| {
            step += 1;
            let m = rows.len();
            let real = to_tensor(data.select(Axis(0), rows).view(), device)?;
            let z = normal_tensor(rng, m, gan.config.latent, device)?;
            let fake = g.forward(&z)?.detach();
            let d_loss = (softplus(&d.forward(&real)?.neg()?)?.mean_all()?
                + softplus(&d.forward(&fake)?)?.mean_all()?)?;
            let value = check("discriminator", &d_loss, step, config)?;
            d_opt.backward_step(&d_loss)?;
            d_losses.push(value);
            let z = normal_tensor(rng, m, gan.config.latent, device)?;
            let g_loss = softplus(&d.forward(&g.forward(&z)?)?.neg()?)?.mean_all()?;
            check("generator", &g_loss, step, config)?;
            Ok(g_loss.into())
        },
    )?;
    Ok(GanLog {
        generator,
        discriminator: d_losses,
    })
}

/// The loss as a number, or the error that stops training at `step`.
fn check(which: &str, loss: &Tensor, step: usize, config: &TrainConfig) -> Result<f64> {
    let value = f64::from(loss.to_scalar::<f32>()?);
    if !value.is_finite() || value > DIVERGED_LOSS {
        return Err(Error::Numerical(format!(
            "GAN training diverged at step {step} of {}: the {which} loss is {value} (try a smaller lr = {})",
            config.steps, config.lr
        )));
    }
    Ok(value)
}
