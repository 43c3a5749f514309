//! Seed 001 §3.1.1's DDPM step, written three ways — an erratum.
//!
//! The seed first writes `x_i = √(1 − β_i²) x_{i−1} + β_i ε_i` (β_i a standard deviation), two lines
//! later `x_{t+Δt} = √(1 − β_t) x_t + √β_t ε ≈ x_t − ½β_t x_t Δt + √(β_t Δt) ε` — `β_t` a per-step
//! *variance* on the left and a *rate* on the right. With the rate `β(t)` the step is
//! `√(1 − β(t)Δt) x + √(β(t)Δt) ε`; read with the per-step `β_i = β(t)Δt`, the first form adds
//! `β_i² = O(Δt²)` of variance per step, which vanishes as `Δt → 0`: that chain never leaves the data.

use crate::error::{invalid, positive, Result};
use crate::sde_basics::VpSde;

/// Exact variance at `t = 1` of the chain `x ← √(1 − b_i²) x + b_i ε` (the seed's first form) with
/// `b_i = β(t_i) Δt`, `N = steps`, from data of variance `v0`.
pub fn squared_beta_chain_variance(sde: &VpSde, v0: f64, steps: usize) -> Result<f64> {
    positive("v0", v0)?;
    if steps == 0 {
        return invalid("steps", steps, "must be at least 1");
    }
    let dt = 1.0 / steps as f64;
    Ok((1..=steps).fold(v0, |v, i| {
        let b = sde.beta(i as f64 * dt) * dt;
        (1.0 - b * b) * v + b * b
    }))
}
