//! Seed 000 §4.4.1 trains on `‖s_θ − ∇ log p_t‖²` and says "目标计算：计算真实的分数函数"
//! (compute the true score as the target). For data one only has samples of, `∇ log p_t` is
//! unknown; what is trained is denoising score matching, `‖s_θ(x_t) + ε/σ_t‖²` with
//! `x_t = α_t x₀ + σ_t ε`, whose target is known. The two losses differ by a constant that does not
//! depend on `s_θ` — `E‖ε/σ‖² − E‖∇ log p_t‖²` — so they have the same minimiser (Vincent 2011).
//! On a Gaussian mixture both can be computed, and [`explicit_and_denoising`] evaluates them on the
//! same draws for any candidate score.

use ndarray::{Array2, ArrayView2, Axis};

use crate::data::GaussianMixture;
use crate::error::{positive, Result};
use crate::rng;
use crate::sde_basics::ForwardSde;

/// The explicit (true-score) and denoising losses of one candidate score at one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossPair {
    /// `mean ‖s(x_t) − ∇ log p_t(x_t)‖²` — needs the true score.
    pub explicit: f64,
    /// `mean ‖s(x_t) + ε/σ_t‖²` — needs only the data and the noise.
    pub denoising: f64,
}

impl LossPair {
    /// `denoising − explicit`: the same for every candidate, up to Monte Carlo error.
    pub fn gap(&self) -> f64 {
        self.denoising - self.explicit
    }
}

fn mean_sq(a: &Array2<f64>) -> f64 {
    a.mapv(|v| v * v).sum_axis(Axis(1)).mean().unwrap_or(f64::NAN)
}

/// Both losses of `candidate` at time `t` of `sde` on `n` draws `x_t = α x₀ + σ ε` (`x₀` from
/// `data`, seeded by `seed`); the true score is the mixture's exact perturbed score.
pub fn explicit_and_denoising(
    sde: &dyn ForwardSde,
    data: &GaussianMixture,
    t: f64,
    candidate: &dyn Fn(ArrayView2<f64>) -> Result<Array2<f64>>,
    n: usize,
    seed: u64,
) -> Result<LossPair> {
    positive("n", n as f64)?;
    let (alpha, sigma) = sde.marginal_mean_std(t)?;
    positive("σ_t", sigma)?;
    let x0 = data.sample(n, seed);
    let eps = rng::normals(&mut rng::seeded(seed.wrapping_add(1)), n, x0.ncols());
    let xt = &x0 * alpha + &eps * sigma;
    let s = candidate(xt.view())?;
    let truth = data.perturbed(alpha, sigma)?.score(xt.view())?;
    Ok(LossPair { explicit: mean_sq(&(&s - &truth)), denoising: mean_sq(&(&s + &(&eps / sigma))) })
}
