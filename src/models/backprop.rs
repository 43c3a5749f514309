//! The SiLU MLP's backward pass written out by hand, for training on the CPU in `f32`
//! (issue 21; the network of seed 000 A.4).
//!
//! Through candle's autograd a training step of the appendix network spends as much time
//! around its matrix products as in them: every node's gradient is a fresh tensor added onto
//! a zero-filled accumulator, and the graph of small tensors is walked and sorted each step.
//! Here one [`MlpTape`] keeps the forward pass's activations in buffers reused from step to
//! step, and the backward pass is the chain rule layer by layer, top to bottom:
//!
//! ```text
//! ∂z_L = ∂o                       (the output layer has no activation)
//! ∂W_l = ∂z_lᵀ h_{l−1},  ∂b_l = Σ_rows ∂z_l,  ∂h_{l−1} = ∂z_l W_l
//! ∂z_{l−1} = ∂h_{l−1} ⊙ silu′(z_{l−1})
//! ```
//!
//! Each product is the `gemm` call candle's CPU multiply makes for the same product, and
//! SiLU, its derivative and the bias sums are [`super::kernels`]' loops — the ones the fused
//! ops run under autograd — so the gradients are candle's, bit for bit (the tests check it).

use std::cell::RefCell;
use std::sync::RwLockReadGuard;

use candle_core::{Layout, Storage, Tensor};

use super::kernels::{
    affine_into, column_sums, matmul, parallelism, silu_grad_into, silu_into, slice,
};

/// One layer's parameters as row-major slices: `W` (`m × k`) and `b` (`m`).
#[derive(Clone, Copy)]
pub(super) struct Dense<'a> {
    pub w: &'a [f32],
    pub b: &'a [f32],
}

impl Dense<'_> {
    /// `(k, m)`: input and output widths.
    pub fn widths(&self) -> (usize, usize) {
        (self.w.len() / self.b.len(), self.b.len())
    }
}

/// The gradient of one layer's parameters: `∂W` (`m × k`) and `∂b` (`m`).
pub(super) struct DenseGrad {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// The activations of one forward pass of `Linear → SiLU → … → Linear` over `n` rows, kept
/// for the backward pass; the buffers are reused from pass to pass (growing when a batch
/// does).
#[derive(Default)]
pub(super) struct MlpTape {
    n: usize,
    /// `z[l]`: layer `l`'s affine output, `n × m_l` (the last one is the network's output).
    z: Vec<Vec<f32>>,
    /// `h[l] = silu(z[l])` for the hidden layers.
    h: Vec<Vec<f32>>,
    /// `∂z` of the layer being differentiated and `∂h` of the one below it.
    dz: Vec<f32>,
    dh: Vec<f32>,
}

impl MlpTape {
    /// The forward pass for `input` (`n × k_0`); returns the output (`n × m_L`).
    pub fn forward(&mut self, input: &[f32], layers: &[Dense]) -> &[f32] {
        let (k0, _) = layers[0].widths();
        let n = input.len() / k0;
        self.n = n;
        self.z.resize_with(layers.len(), Vec::new);
        self.h.resize_with(layers.len() - 1, Vec::new);
        for (l, layer) in layers.iter().enumerate() {
            self.z[l].resize(n * layer.b.len(), 0.0);
            if l + 1 < layers.len() {
                self.h[l].resize(n * layer.b.len(), 0.0);
            }
        }
        for (l, layer) in layers.iter().enumerate() {
            let x = if l == 0 { input } else { &self.h[l - 1] };
            affine_into(x, layer.w, layer.b, &mut self.z[l]);
            if l + 1 < layers.len() {
                silu_into(&self.z[l], &mut self.h[l]);
            }
        }
        self.output()
    }

    /// The last forward pass's output.
    pub fn output(&self) -> &[f32] {
        self.z.last().expect("a forward pass ran")
    }

    /// The backward pass of the last [`forward`](Self::forward) (same `input` and `layers`)
    /// from `d_out = ∂loss/∂output`: returns every layer's parameter gradient, and writes
    /// `∂loss/∂input` into `d_input` when given.
    pub fn backward(
        &mut self,
        input: &[f32],
        layers: &[Dense],
        d_out: &[f32],
        d_input: Option<&mut [f32]>,
    ) -> Vec<DenseGrad> {
        let n = self.n;
        let mut grads: Vec<DenseGrad> = Vec::with_capacity(layers.len());
        self.dz.clear();
        self.dz.extend_from_slice(d_out);
        let mut d_input = d_input;
        for (l, layer) in layers.iter().enumerate().rev() {
            let (k, m) = layer.widths();
            let x = if l == 0 { input } else { &self.h[l - 1] };
            let mut g = DenseGrad {
                w: vec![0.0; m * k],
                b: vec![0.0; m],
            };
            // ∂W = ∂zᵀ x: candle's `dy.t().matmul(x)`, ∂zᵀ read through strides.
            // SAFETY: ∂z is n×m, x n×k, ∂W m×k, all row-major.
            unsafe {
                matmul(
                    (m, k, n),
                    &mut g.w,
                    false,
                    (&self.dz, 1, m),
                    (x, k, 1),
                    parallelism(),
                )
            };
            column_sums(&self.dz, &mut g.b);
            grads.push(g);
            let below = if l > 0 {
                self.dh.resize(n * k, 0.0);
                Some(&mut self.dh[..])
            } else {
                d_input.take()
            };
            if let Some(dx) = below {
                // ∂x = ∂z W: candle's `dy.matmul(w)`.
                // SAFETY: ∂z is n×m, W m×k, ∂x n×k, all row-major.
                unsafe {
                    matmul(
                        (n, k, m),
                        dx,
                        false,
                        (&self.dz, m, 1),
                        (layer.w, k, 1),
                        parallelism(),
                    )
                };
            }
            if l > 0 {
                self.dz.resize(n * k, 0.0);
                silu_grad_into(&self.z[l - 1], &self.dh, &mut self.dz);
            }
        }
        grads.reverse();
        grads
    }
}

thread_local! {
    static SCRATCH: RefCell<MlpTape> = RefCell::default();
}

/// Runs `f` with this thread's scratch tape, for forward passes that keep nothing (sampling:
/// each thread of the SDE loop its own buffers, reused from step to step).
pub(super) fn with_scratch_tape<R>(f: impl FnOnce(&mut MlpTape) -> R) -> R {
    SCRATCH.with(|tape| f(&mut tape.borrow_mut()))
}

/// The parameters `(W, b)` of an MLP's layers, their CPU storage read-locked while a step
/// uses them as slices.
pub(super) struct Weights<'t>(Vec<[(RwLockReadGuard<'t, Storage>, &'t Layout); 2]>);

impl<'t> Weights<'t> {
    /// Locks every layer's `(W, b)` for reading.
    pub fn read(params: &[(&'t Tensor, &'t Tensor)]) -> Self {
        Self(
            params
                .iter()
                .map(|(w, b)| [w.storage_and_layout(), b.storage_and_layout()])
                .collect(),
        )
    }

    /// The layers as slices; errors unless every tensor is a contiguous CPU `f32` one.
    pub fn layers(&self) -> candle_core::Result<Vec<Dense<'_>>> {
        self.0
            .iter()
            .map(|[w, b]| {
                Ok(Dense {
                    w: cpu_data(w)?,
                    b: cpu_data(b)?,
                })
            })
            .collect()
    }
}

fn cpu_data<'a>(
    (storage, layout): &'a (RwLockReadGuard<'_, Storage>, &Layout),
) -> candle_core::Result<&'a [f32]> {
    match &**storage {
        Storage::Cpu(s) => slice(s, layout),
        _ => Err(candle_core::Error::Msg(
            "the hand-written backward pass runs on the CPU only".into(),
        )),
    }
}
