//! Chapter 4c — the diffusion model among generative models (seed 000 §4.5–§4.7), measured
//! instead of asserted.
//!
//! Seed 000 §4.5 compares diffusion models with GANs, VAEs and normalising flows in three
//! tables of adjectives. Here each rival is a small candle model trained on the same 2-D data
//! as the diffusion model, and each row of the tables becomes a number:
//!
//! - [`gan`]: MLP generator and discriminator, the non-saturating loss (Goodfellow et al. 2014);
//! - [`vae`]: MLP encoder/decoder, Gaussian latent and decoder, the ELBO and its importance-weighted
//!   tightening (Kingma & Welling 2014; Burda et al. 2016);
//! - [`flow`]: RealNVP affine coupling layers with an exact log-likelihood (Dinh et al. 2017);
//! - [`compare`]: the datasets (the appendix mixture, a ring of unequal modes), the diffusion
//!   model of chapter 4 beside the rivals, and the measurements — sample quality against the
//!   noise floor, modes covered, log-likelihood, reconstruction, sampling and training cost;
//! - [`extensions`]: seed 000 §4.7 checked against exact answers — conditional sampling by the
//!   conditional score, imputation versus the conditional score for a coupled pair of
//!   "modalities", and energy guidance versus the exactly tilted mixture.
//!
//! The module sits above [`crate::framework`] and [`crate::models`] (it uses their training loop,
//! networks, samplers, likelihood and encoder) and below the notebooks and `plot::rivals`.
//! Every run is seeded; bad hyper-parameters are errors naming the value; GAN training that
//! produces a non-finite or exploding loss stops with an error naming the step.

pub mod compare;
pub mod extensions;
pub mod flow;
pub mod gan;
mod net;
pub mod vae;

use crate::error::{invalid, positive};
use crate::framework::dsm::{Batch, DsmConfig};
use crate::Result;

/// Settings of a rival's training run (the optimiser is the crate's one loop,
/// [`crate::framework::dsm`]'s AdamW).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Points per minibatch (at most the data size).
    pub batch: usize,
    /// Seed of noise and minibatch order.
    pub seed: u64,
    /// Print `step k/K loss …` every this many steps (`None`: silent).
    pub log_every: Option<usize>,
}

impl TrainConfig {
    /// `steps` steps of 256-point minibatches at `lr = 10⁻³`, silent.
    pub fn new(steps: usize, seed: u64) -> Self {
        Self {
            steps,
            lr: 1e-3,
            batch: 256,
            seed,
            log_every: None,
        }
    }

    /// The equivalent settings of the shared optimisation loop for `n` data points.
    pub(crate) fn optimiser(&self, n: usize) -> Result<DsmConfig> {
        positive("lr", self.lr)?;
        if self.batch == 0 {
            return invalid("batch", 0, "need at least one point per minibatch");
        }
        Ok(DsmConfig {
            lr: self.lr,
            batch: if self.batch >= n {
                Batch::Full
            } else {
                Batch::Mini(self.batch)
            },
            log_every: self.log_every,
            ..DsmConfig::new(self.steps, self.seed)
        })
    }
}
