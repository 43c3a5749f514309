//! Adam with decoupled weight decay (Kingma & Ba 2015; Loshchilov & Hutter 2019), the one
//! optimiser of the crate's training loop ([`crate::framework::dsm`]), computing what
//! candle-nn's `AdamW` computes, bit for bit, in one pass per variable.
//!
//! candle-nn's `AdamW` spends about twelve whole-tensor operations per variable and step, each
//! a fresh allocation (`m β₁`, `g (1 − β₁)`, their sum, `g²`, …), then copies the results
//! into the moment and weight variables. Here, on the CPU in `f32`, one loop per variable
//! reads the gradient and updates the moments and the weights in place (a candle
//! [`InplaceOp2`] on the weight's own storage). Every operation is the same `f32`
//! operation in the same order as candle's (scalars rounded to `f32` as candle's `affine`
//! rounds them, no fused multiply-add), so the two optimisers give identical weights — the
//! tests check it. On other devices and dtypes the step is candle's own.

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, InplaceOp2, Layout, Tensor, TensorId, Var};
use candle_nn::{Optimizer, ParamsAdamW};

/// One variable and its moments.
struct Slot {
    var: Var,
    moments: Moments,
}

enum Moments {
    /// Fused path: `f32` moments beside the CPU weights.
    Fused { m: Vec<f32>, v: Vec<f32> },
    /// candle's path (other devices and dtypes).
    Candle { m: Var, v: Var },
}

/// Adam with decoupled weight decay; a drop-in for candle-nn's `AdamW` (same
/// [`ParamsAdamW`], same [`Optimizer`] interface, same numbers).
pub struct Adam {
    slots: Vec<Slot>,
    params: ParamsAdamW,
    step_t: usize,
}

/// The step's scalars, rounded to `f32` where candle's `affine` rounds them.
#[derive(Clone, Copy)]
struct Coefficients {
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    scale_m: f32,
    scale_v: f32,
    decay: f32,
    eps: f32,
    lr: f32,
}

/// `m ← β₁ m + (1 − β₁) g`, `v ← β₂ v + (1 − β₂) g²`,
/// `θ ← θ (1 − lr λ) − lr m̂ / (√v̂ + ε)`, in candle's order of `f32` operations (`x · a + 0`
/// for every scalar product, as `affine` computes it).
struct FusedStep<'a> {
    m: RefCell<&'a mut [f32]>,
    v: RefCell<&'a mut [f32]>,
    k: Coefficients,
}

impl InplaceOp2 for FusedStep<'_> {
    fn name(&self) -> &'static str {
        "fused-adam"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let (CpuStorage::F32(theta), CpuStorage::F32(grad)) = (s1, s2) else {
            return Err(candle_core::Error::Msg("fused Adam: f32 only".into()));
        };
        let (Some((a1, b1)), Some((a2, b2))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            return Err(candle_core::Error::Msg(
                "fused Adam: non-contiguous input".into(),
            ));
        };
        let (theta, grad) = (&mut theta[a1..b1], &grad[a2..b2]);
        let (mut m, mut v) = (self.m.borrow_mut(), self.v.borrow_mut());
        let k = self.k;
        for (((w, &g), m), v) in theta
            .iter_mut()
            .zip(grad)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            let next_m = (*m * k.beta1 + 0.0) + (g * k.one_minus_beta1 + 0.0);
            let next_v = (*v * k.beta2 + 0.0) + ((g * g) * k.one_minus_beta2 + 0.0);
            let m_hat = next_m * k.scale_m + 0.0;
            let v_hat = next_v * k.scale_v + 0.0;
            let kept = *w * k.decay + 0.0;
            let adjusted = m_hat / (v_hat.sqrt() * 1.0 + k.eps);
            *w = kept - (adjusted * k.lr + 0.0);
            *m = next_m;
            *v = next_v;
        }
        Ok(())
    }
}

impl Optimizer for Adam {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> candle_core::Result<Self> {
        let slots = vars
            .into_iter()
            .filter(|var| var.dtype().is_float())
            .map(|var| {
                let moments = if var.device().is_cpu() && var.dtype() == DType::F32 {
                    let n = var.elem_count();
                    Moments::Fused {
                        m: vec![0.0; n],
                        v: vec![0.0; n],
                    }
                } else {
                    Moments::Candle {
                        m: Var::zeros(var.shape(), var.dtype(), var.device())?,
                        v: Var::zeros(var.shape(), var.dtype(), var.device())?,
                    }
                };
                Ok(Slot { var, moments })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            slots,
            params,
            step_t: 0,
        })
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr
    }

    fn step(&mut self, grads: &GradStore) -> candle_core::Result<()> {
        self.apply(|var| grads.get(var))
    }
}

/// Gradients given per parameter, as a network's own backward pass computes them
/// (`models::backprop`); candle's autograd gives a [`GradStore`] instead.
#[derive(Default)]
pub struct Gradients(Vec<(TensorId, Tensor)>);

impl Gradients {
    /// Records `grad` as the gradient of the parameter `param`.
    pub fn insert(&mut self, param: &Tensor, grad: Tensor) {
        self.0.push((param.id(), grad));
    }

    /// The gradient of `param`, if recorded.
    pub fn get(&self, param: &Tensor) -> Option<&Tensor> {
        self.0
            .iter()
            .find(|(id, _)| *id == param.id())
            .map(|(_, g)| g)
    }
}

impl Adam {
    /// One step with the gradients of a network's own backward pass (the same step as
    /// [`Optimizer::step`] with candle's).
    pub fn step_with(&mut self, grads: &Gradients) -> candle_core::Result<()> {
        self.apply(|var| grads.get(var))
    }

    /// One step, each variable moved by `grad(var)` (left alone where it has none).
    fn apply<'g>(
        &mut self,
        grad: impl Fn(&Tensor) -> Option<&'g Tensor>,
    ) -> candle_core::Result<()> {
        self.step_t += 1;
        let p = &self.params;
        let (lr, beta1, beta2) = (p.lr, p.beta1, p.beta2);
        let lr_lambda = lr * p.weight_decay;
        let scale_m = 1f64 / (1f64 - beta1.powi(self.step_t as i32));
        let scale_v = 1f64 / (1f64 - beta2.powi(self.step_t as i32));
        let k = Coefficients {
            beta1: beta1 as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            scale_m: scale_m as f32,
            scale_v: scale_v as f32,
            decay: (1f64 - lr_lambda) as f32,
            eps: p.eps as f32,
            lr: lr as f32,
        };
        for slot in &mut self.slots {
            let Some(g) = grad(slot.var.as_tensor()) else {
                continue;
            };
            match &mut slot.moments {
                Moments::Fused { m, v } => {
                    let g = g.contiguous()?;
                    let op = FusedStep {
                        m: RefCell::new(m),
                        v: RefCell::new(v),
                        k,
                    };
                    slot.var.inplace_op2(&g, &op)?;
                }
                Moments::Candle { m, v } => {
                    candle_step(&slot.var, m, v, g, &self.params, scale_m, scale_v)?
                }
            }
        }
        Ok(())
    }
}

/// candle-nn's `AdamW` step for one variable.
fn candle_step(
    theta: &Var,
    m: &Var,
    v: &Var,
    g: &Tensor,
    p: &ParamsAdamW,
    scale_m: f64,
    scale_v: f64,
) -> candle_core::Result<()> {
    let next_m = ((m.as_tensor() * p.beta1)? + (g * (1.0 - p.beta1))?)?;
    let next_v = ((v.as_tensor() * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
    let m_hat = (&next_m * scale_m)?;
    let v_hat = (&next_v * scale_v)?;
    let next_theta = (theta.as_tensor() * (1f64 - p.lr * p.weight_decay))?;
    let adjusted = (m_hat / (v_hat.sqrt()? + p.eps)?)?;
    let next_theta = (next_theta - (adjusted * p.lr)?)?;
    m.set(&next_m)?;
    v.set(&next_v)?;
    theta.set(&next_theta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::AdamW;

    fn vars(seed: u64) -> Vec<Var> {
        let mut r = crate::rng::seeded(seed);
        [(37usize, 5usize), (1, 64), (128, 66)]
            .iter()
            .map(|&(a, b)| {
                let x = crate::rng::normals(&mut r, a, b);
                Var::from_tensor(&crate::models::to_tensor(x.view(), &Device::Cpu).unwrap())
                    .unwrap()
            })
            .collect()
    }

    /// A loss with gradients of every sign and size: `Σ sin(3 w) w² + w`.
    fn loss(vars: &[Var]) -> Tensor {
        let mut total = Tensor::zeros((), DType::F32, &Device::Cpu).unwrap();
        for v in vars {
            let w = v.as_tensor();
            let term = (((w * 3.0).unwrap().sin().unwrap() * w.sqr().unwrap()).unwrap() + w)
                .unwrap()
                .sum_all()
                .unwrap();
            total = (total + term).unwrap();
        }
        total
    }

    fn values(vars: &[Var]) -> Vec<Vec<f32>> {
        vars.iter()
            .map(|v| v.as_tensor().flatten_all().unwrap().to_vec1().unwrap())
            .collect()
    }

    /// Fused and candle's AdamW give the same weights, bit for bit, over 30 steps, with and
    /// without weight decay, through a learning-rate change.
    #[test]
    fn fused_adam_is_candles_adamw_bit_for_bit() {
        for weight_decay in [0.0, 0.01] {
            let params = ParamsAdamW {
                lr: 3e-2,
                weight_decay,
                ..ParamsAdamW::default()
            };
            let (a, b) = (vars(1), vars(1));
            let mut fused = Adam::new(a.clone(), params.clone()).unwrap();
            let mut reference = AdamW::new(b.clone(), params).unwrap();
            for step in 0..30 {
                if step == 10 {
                    fused.set_learning_rate(7e-3);
                    reference.set_learning_rate(7e-3);
                }
                fused.backward_step(&loss(&a)).unwrap();
                reference.backward_step(&loss(&b)).unwrap();
                assert_eq!(values(&a), values(&b), "step {step}, decay {weight_decay}");
            }
            assert_ne!(values(&a), values(&vars(1)), "the weights moved");
        }
    }
}
