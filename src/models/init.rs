//! Seeded initialisation of a [`VarMap`] (candle's own initialisers draw from an unseeded
//! generator): every variable in name order, so the numbers depend on the seed alone. The one
//! initialiser of every network of the crate ([`super::ScoreNet`], [`super::UNet`],
//! [`super::TimeClassifier`]).

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand_distr::{Distribution, StandardNormal, Uniform};

use crate::rng;
use crate::Result;

/// How a variable is filled when it is not a fan-in uniform one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fill {
    /// `N(0, scale²)` entries (label embeddings: PyTorch's `nn.Embedding` default with
    /// `scale = 1`; Gaussian Fourier frequencies).
    Normal(f64),
    /// Every entry this value (GroupNorm: scale 1, shift 0).
    Const(f32),
}

/// Sets every variable of `varmap` from `seed`, visiting names in sorted order. `rule(name)`
/// may give a variable's [`Fill`]; otherwise it gets PyTorch's default `U(±1/√fan_in)`,
/// `fan_in` being the product of the trailing dimensions of the weight it belongs to
/// (`prefix.weight` for `prefix.bias`): `in` for a linear layer, `in · k · k` for a
/// convolution.
pub(crate) fn initialise(
    varmap: &VarMap,
    device: &Device,
    seed: u64,
    rule: impl Fn(&str) -> Option<Fill>,
) -> Result<()> {
    let mut rng = rng::seeded(seed);
    let vars = varmap.data().lock().expect("var map lock");
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let var = &vars[name];
        let shape = var.shape().clone();
        let count = shape.elem_count();
        let values: Vec<f32> = match rule(name) {
            Some(Fill::Normal(scale)) => (0..count)
                .map(|_| {
                    (scale
                        * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng))
                        as f32
                })
                .collect(),
            Some(Fill::Const(v)) => vec![v; count],
            None => {
                let prefix = name.rsplit_once('.').map_or(name.as_str(), |p| p.0);
                let fan_in = vars
                    .get(&format!("{prefix}.weight"))
                    .map_or(1, |w| w.shape().dims()[1..].iter().product::<usize>());
                let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
                let u = Uniform::new_inclusive(-bound, bound).expect("bound > 0");
                (0..count).map(|_| u.sample(&mut rng) as f32).collect()
            }
        };
        var.set(&Tensor::from_vec(values, shape, device)?)?;
    }
    Ok(())
}
