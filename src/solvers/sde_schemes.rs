//! More SDE schemes for the one loop [`super::sde::solve`] (seed 000 §2.1.2): Milstein, the
//! seed's Milstein formula as printed (kept for the erratum), and the seed's stochastic
//! Runge–Kutta scheme (stochastic Heun). Each implements [`SdeScheme::step`] only.

use ndarray::{Array2, ArrayView2};

use super::sde::SdeScheme;
use crate::error::Error;
use crate::sde_basics::{Diffusion, Sde};
use crate::Result;

/// Milstein's scheme for diagonal noise (Kloeden & Platen, eq. 10.3.3), component by component:
///
/// `x_j ← x_j + f_j h + g_j ΔW_j + ½ g_j ∂g_j/∂x_j ((ΔW_j)² − h)`.
///
/// Strong order 1 (Euler–Maruyama: ½), weak order 1. The correction needs the derivative of
/// the diffusion ([`Sde::diffusion_derivative`]); for additive noise (`G` independent of `x`)
/// it vanishes and the scheme is Euler–Maruyama. See [`MilsteinAsWritten`] for the seed's
/// (incorrect) version.
#[derive(Debug, Clone, Copy, Default)]
pub struct Milstein;

impl SdeScheme for Milstein {
    fn name(&self) -> &'static str {
        "Milstein"
    }

    fn strong_order(&self) -> f64 {
        1.0
    }

    fn weak_order(&self) -> f64 {
        1.0
    }

    fn step(
        &self,
        sde: &dyn Sde,
        x: ArrayView2<f64>,
        t: f64,
        dt: f64,
        dw: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        let g = sde.diffusion(x, t)?;
        let mut next = sde.drift(x, t)? * dt;
        next += &g.apply(dw)?;
        if let Diffusion::Diagonal(g) = &g {
            let dg = sde
                .diffusion_derivative(x, t)?
                .ok_or_else(|| Error::InvalidArgument {
                    name: "sde",
                    value: "diagonal noise without diffusion_derivative".into(),
                    reason: "Milstein's correction ½ g ∂g/∂x ((ΔW)² − h) needs ∂g_j/∂x_j".into(),
                })?;
            if dg.dim() != g.dim() {
                return Err(Error::Shape(format!(
                    "diffusion_derivative has shape {:?}, the diffusion {:?}",
                    dg.dim(),
                    g.dim()
                )));
            }
            let h = dt.abs();
            ndarray::Zip::from(&mut next)
                .and(g)
                .and(&dg)
                .and(dw)
                .for_each(|n, &g, &dg, &dw| *n += 0.5 * g * dg * (dw * dw - h));
        }
        next += &x;
        Ok(next)
    }
}

/// **The seed's Milstein formula as printed** (seed 000 §2.1.2):
/// `x ← x + f h + G ΔW + ½ G Gᵀ [(ΔW)² − h]` (`(ΔW)²` component-wise).
///
/// Wrong: the correction must be `½ g ∂g/∂x ((ΔW)² − h)` ([`Milstein`]). This one adds noise
/// of size `O(h)` per step even for additive noise, where the true correction vanishes, and
/// has the wrong units (`G²` instead of `G ∂G/∂x`) for multiplicative noise; its strong order
/// falls back to ½. Kept only so the notebook's erratum can run it.
#[derive(Debug, Clone, Copy, Default)]
pub struct MilsteinAsWritten;

impl SdeScheme for MilsteinAsWritten {
    fn name(&self) -> &'static str {
        "Milstein as written in the seed"
    }

    /// The seed claims Milstein's order 1; its correction `½ G Gᵀ((ΔW)² − h)` is of size `O(h)`
    /// per step where it should be `½ g ∂g/∂x ((ΔW)² − h)`, and the strong order drops to ½.
    fn strong_order(&self) -> f64 {
        0.5
    }

    fn weak_order(&self) -> f64 {
        1.0
    }

    fn step(
        &self,
        sde: &dyn Sde,
        x: ArrayView2<f64>,
        t: f64,
        dt: f64,
        dw: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        let g = sde.diffusion(x, t)?;
        let h = dt.abs();
        let mut next = sde.drift(x, t)? * dt;
        next += &g.apply(dw)?;
        next += &(g.apply_ggt(dw.mapv(|w| w * w - h).view())? * 0.5);
        next += &x;
        Ok(next)
    }
}

/// The seed's stochastic Runge–Kutta scheme (seed 000 §2.1.2), i.e. stochastic Heun:
///
/// `K₁ = f(x, t) h + G(t) ΔW`, `K₂ = f(x + K₁, t + h) h + G(t + h) ΔW`, `x ← x + ½ (K₁ + K₂)`.
///
/// For additive noise it has strong order 1, with the drift integrated to second order (its
/// error constant is smaller than Euler–Maruyama's). For state-dependent noise this scheme
/// converges to the *Stratonovich* solution, not the Itô one the crate's SDEs mean, so it
/// refuses [`Diffusion::Diagonal`] noise with an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct StochasticHeun;

impl SdeScheme for StochasticHeun {
    fn name(&self) -> &'static str {
        "stochastic Heun"
    }

    /// For additive noise, the only noise it accepts (with state-dependent noise it converges
    /// to the Stratonovich solution instead).
    fn strong_order(&self) -> f64 {
        1.0
    }

    fn weak_order(&self) -> f64 {
        1.0
    }

    fn evals_per_step(&self) -> usize {
        2
    }

    fn step(
        &self,
        sde: &dyn Sde,
        x: ArrayView2<f64>,
        t: f64,
        dt: f64,
        dw: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        let g0 = sde.diffusion(x, t)?;
        if !g0.is_additive() {
            return Err(Error::InvalidArgument {
                name: "sde",
                value: "state-dependent (Diagonal) noise".into(),
                reason: "stochastic Heun converges to the Stratonovich solution for \
                         state-dependent noise; use Milstein or Euler–Maruyama for Itô SDEs"
                    .into(),
            });
        }
        let mut k1 = sde.drift(x, t)? * dt;
        k1 += &g0.apply(dw)?;
        let predictor = &x + &k1;
        let mut k2 = sde.drift(predictor.view(), t + dt)? * dt;
        k2 += &sde.diffusion(predictor.view(), t + dt)?.apply(dw)?;
        Ok(&x + &((k1 + k2) * 0.5))
    }
}
