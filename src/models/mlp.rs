//! A plain multilayer perceptron with SiLU activations, the building block of the score
//! networks of chapter 4 and the appendix (seed 000 A.4).

use candle_core::{Module, Tensor};
use candle_nn::{linear, Linear, VarBuilder};

use super::kernels::{affine, silu};
use crate::error::invalid;
use crate::Result;

/// `Linear → SiLU → … → Linear` through the given layer widths.
///
/// The affine maps and the SiLU are [`super::kernels`]' fused CPU kernels (candle's own ops on
/// other devices); the parameters are candle-nn `Linear`s (`layerK.weight`, `layerK.bias`).
#[derive(Debug, Clone)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// An MLP with widths `dims = [input, hidden…, output]`, parameters under `vb`.
    pub fn new(vb: VarBuilder, dims: &[usize]) -> Result<Self> {
        if dims.len() < 2 || dims.contains(&0) {
            return invalid("dims", format!("{dims:?}"), "need ≥ 2 widths, all > 0");
        }
        let layers = dims
            .windows(2)
            .enumerate()
            .map(|(i, w)| linear(w[0], w[1], vb.pp(format!("layer{i}"))))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self { layers })
    }

    /// Every layer's `(W, b)`, input layer first.
    pub(super) fn parameters(&self) -> Vec<(&Tensor, &Tensor)> {
        self.layers
            .iter()
            .map(|l| {
                (
                    l.weight(),
                    l.bias().expect("every layer of an Mlp has a bias"),
                )
            })
            .collect()
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (last, hidden) = self.layers.split_last().expect("at least one layer");
        let mut h = x.clone();
        for layer in hidden {
            h = silu(&layer_forward(layer, &h)?)?;
        }
        layer_forward(last, &h)
    }
}

/// `h Wᵀ + b`, what `Linear::forward` computes, as one fused kernel.
fn layer_forward(layer: &Linear, h: &Tensor) -> candle_core::Result<Tensor> {
    match layer.bias() {
        Some(b) if h.rank() == 2 => affine(h, layer.weight(), b),
        _ => layer.forward(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn forward_pass_has_the_right_shape_and_rejects_bad_widths() {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let mlp = Mlp::new(vb.clone(), &[3, 16, 16, 2]).unwrap();
        let x = Tensor::ones((5, 3), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(mlp.forward(&x).unwrap().dims(), &[5, 2]);
        assert!(Mlp::new(vb, &[3]).is_err());
    }
}
