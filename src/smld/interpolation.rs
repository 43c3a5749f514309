//! Seed 000 §3.3.3, "线性插值": `β(t) = β_i + (t − t_i)(β_{i+1} − β_i)/Δt` — an erratum.
//!
//! The seed defines the rate `β(t) = lim β_i/Δt` two lines earlier, then interpolates the per-step
//! variances `β_i = σ_i² − σ_{i−1}²` themselves, which are `O(Δt)`: the interpolant is `Δt · β(t)`,
//! and the variance it adds over the ladder, `∫ β`, is `Δt` times too small. Interpolating
//! `β_i/Δt` gives the VE rate `g(t)² = dσ²/dt`, whose integral is `σ(t_N)² − σ(t_1)²`.

use crate::error::Result;
use crate::smld::SmldChain;

/// `∫_{t_1}^{t_N}` of the piecewise-linear interpolant through `(t_i, β_i)` (`as_rate = false`, the
/// seed's formula) or through `(t_i, β_i/Δt)` (`as_rate = true`), by the trapezoid rule (exact for it).
pub fn interpolated_integral(chain: &SmldChain, as_rate: bool) -> Result<f64> {
    let betas = chain.betas()?;
    let all = chain.times();
    let times = &all[1..];
    let dt = times[1] - times[0];
    let scale = if as_rate { 1.0 / dt } else { 1.0 };
    Ok(betas.windows(2).zip(times.windows(2)).map(|(b, t)| 0.5 * (b[0] + b[1]) * scale * (t[1] - t[0])).sum())
}
