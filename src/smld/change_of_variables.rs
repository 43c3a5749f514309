//! Seed 000 §3.1.1's "mathematical properties" of the score, with their errata.
//!
//! - *"尺度不变性：对概率密度的单调变换保持不变"* (the score is invariant under monotone transforms
//!   of the density): only multiplication by a constant leaves it unchanged; `∇ log p² = 2 ∇ log p`.
//! - *Chain rule* `∇ₓ log p(f(x)) = ∇f(x) · ∇_f log p(f(x))` is the chain rule of the function
//!   `log p ∘ f`, but it is **not** the score of `x` when `y = f(x) ~ p`: the density of `x` is
//!   `p(f(x)) |det ∇f(x)|`, and its score has the extra Jacobian term `∇ₓ log |det ∇f(x)|`
//!   (zero only for affine `f`).
//!
//! [`SinhGaussian`] is a one-line example: `y ~ N(0, 1)` and `y = sinh(x)`, so `x = asinh(y)`.

use ndarray::Array1;

use crate::rng;

/// The law of `x = asinh(y)`, `y ~ N(0, 1)`: density `φ(sinh x) cosh x`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SinhGaussian;

impl SinhGaussian {
    /// `log p(x) = log φ(sinh x) + log cosh x`.
    pub fn log_density(&self, x: f64) -> f64 {
        let y = x.sinh();
        -0.5 * y * y - 0.5 * (2.0 * std::f64::consts::PI).ln() + x.cosh().ln()
    }

    /// The score `−sinh x cosh x + tanh x` (chain rule plus the Jacobian term `tanh x`).
    pub fn score(&self, x: f64) -> f64 {
        self.score_as_written(x) + x.tanh()
    }

    /// Seed 000 §3.1.1's chain rule: `f'(x) · s_y(f(x)) = −cosh x · sinh x`, the Jacobian term missing.
    pub fn score_as_written(&self, x: f64) -> f64 {
        -x.sinh() * x.cosh()
    }

    /// `n` draws `asinh(y)`, `y ~ N(0, 1)`, from `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Array1<f64> {
        rng::normals(&mut rng::seeded(seed), n, 1).column(0).mapv(f64::asinh)
    }
}

/// Stein's identity `E[x s(x)] = −1` for a score `s` of the law of `x` (integration by parts):
/// the sample mean of `x s(x) + 1`, which is ≈ 0 only for the true score.
pub fn stein_residual(x: &Array1<f64>, score: impl Fn(f64) -> f64) -> f64 {
    x.iter().map(|&v| v * score(v) + 1.0).sum::<f64>() / x.len() as f64
}
