//! Seeded initialisation of a [`VarMap`] (candle's own initialisers draw from an unseeded
//! generator): every variable in name order, so the numbers depend on the seed alone.

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand_distr::{Distribution, Uniform};

use crate::rng::{self, Rng};
use crate::Result;

/// Sets every variable of `varmap` from `seed`, visiting names in sorted order. `special`
/// may give a variable's values (`name`, element count, the generator); otherwise it gets
/// PyTorch's default `U(±1/√fan_in)`, `fan_in` being the product of the trailing dimensions
/// of the weight it belongs to (`prefix.weight` for `prefix.bias`): `in` for a linear layer,
/// `in · k · k` for a convolution.
pub(crate) fn initialise(
    varmap: &VarMap,
    device: &Device,
    seed: u64,
    special: impl Fn(&str, usize, &mut Rng) -> Option<Vec<f32>>,
) -> Result<()> {
    let mut rng = rng::seeded(seed);
    let vars = varmap.data().lock().expect("var map lock");
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let var = &vars[name];
        let shape = var.shape().clone();
        let count = shape.elem_count();
        let values = match special(name, count, &mut rng) {
            Some(v) => v,
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
