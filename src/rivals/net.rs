//! The networks of the rivals: seeded SiLU MLPs ([`crate::models::Mlp`]) in their own
//! [`VarMap`]s, and the few tensor helpers their losses share.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use crate::error::invalid;
use crate::models::init::initialise;
use crate::models::Mlp;
use crate::rng;
use crate::Result;

/// An MLP `dims[0] → … → dims[last]` with its parameters, initialised from `seed` by the
/// crate's one initialiser ([`initialise`]: PyTorch's default `U(±1/√fan_in)` for weights and
/// biases, variables in name order), so the numbers depend on the seed alone.
pub(crate) struct SeededMlp {
    pub mlp: Mlp,
    pub varmap: VarMap,
}

impl SeededMlp {
    pub fn new(dims: &[usize], device: &Device, seed: u64) -> Result<Self> {
        if device.is_cpu() {
            crate::models::keep_freed_buffers();
        }
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let mlp = Mlp::new(vb, dims)?;
        initialise(&varmap, device, seed, |_| None)?;
        Ok(Self { mlp, varmap })
    }

    /// The parameters in name order.
    pub fn vars(&self) -> Vec<Var> {
        let vars = self.varmap.data().lock().expect("var map lock");
        let mut named: Vec<(&String, &Var)> = vars.iter().collect();
        named.sort_by(|a, b| a.0.cmp(b.0));
        named.into_iter().map(|(_, v)| v.clone()).collect()
    }

    pub fn num_parameters(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }
}

/// The two networks of a latent-variable model (the GAN's generator and discriminator, the
/// VAE's encoder and decoder): `first = (input, output)` from `seed`, `second` from `seed + 1`,
/// both with the `hidden` widths, after checking that the data and latent dimensions are > 0.
pub(crate) fn seeded_pair(
    (dim, latent): (usize, usize),
    hidden: &[usize],
    first: (usize, usize),
    second: (usize, usize),
    device: &Device,
    seed: u64,
) -> Result<(SeededMlp, SeededMlp)> {
    if dim == 0 || latent == 0 {
        return invalid("dim / latent", format!("{dim} / {latent}"), "must be > 0");
    }
    let a = SeededMlp::new(&widths(first.0, hidden, first.1)?, device, seed)?;
    let b = SeededMlp::new(&widths(second.0, hidden, second.1)?, device, seed.wrapping_add(1))?;
    Ok((a, b))
}

/// `[input, hidden…, output]`, checking that every hidden width is positive.
pub(crate) fn widths(input: usize, hidden: &[usize], output: usize) -> Result<Vec<usize>> {
    if hidden.is_empty() || hidden.contains(&0) {
        return invalid(
            "hidden",
            format!("{hidden:?}"),
            "need at least one hidden layer, every width > 0",
        );
    }
    let mut dims = vec![input];
    dims.extend(hidden);
    dims.push(output);
    Ok(dims)
}

/// `softplus(x) = log(1 + eˣ)`, computed as `max(x, 0) + log(1 + e^{−|x|})` (no overflow).
pub(crate) fn softplus(x: &Tensor) -> candle_core::Result<Tensor> {
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// `n` rows of `N(0, I_d)` from `rng`, as an `f32` tensor.
pub(crate) fn normal_tensor(
    rng: &mut rng::Rng,
    n: usize,
    d: usize,
    device: &Device,
) -> Result<Tensor> {
    crate::models::to_tensor(rng::normals(rng, n, d).view(), device)
}
