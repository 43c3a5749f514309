//! Errata of seeds 001 and 002 (docs/ERRATA.md).

use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::chains::{DdpmChain, LinearChain, Update};
use diffusion_sde::sde_basics::notation::squared_beta_chain_variance;

/// Seed 001 §3.1.1: read with the per-step `β_i = β(t)Δt`, the first form `√(1−β_i²)x + β_i ε`
/// keeps the data's variance (the added `Σβ_i² ≈ Δt∫β²` vanishes like 1/N), while the DDPM chain
/// with the rate reaches the VP marginal `ᾱv₀ + 1 − ᾱ ≈ 1` at t = 1.
#[test]
fn squared_beta_chain_never_leaves_the_data() {
    let (vp, v0) = (VpSde::default(), 0.25);
    let (m, s) = vp.marginal_mean_std(1.0).unwrap();
    let vp_var = m * m * v0 + s * s;
    let mut previous = f64::INFINITY;
    for n in [100usize, 1000, 10_000] {
        let seed = squared_beta_chain_variance(&vp, v0, n).unwrap();
        let ddpm = DdpmChain::new(vp, n, Update::Discrete).unwrap().marginal_variance(v0).unwrap()[n];
        assert!((ddpm - vp_var).abs() < 0.01, "N = {n}: DDPM {ddpm} vs VP {vp_var}");
        // Σ β_i² (1 − v) ≤ Δt ∫ β² dt = Δt · 133.7 for β = 0.1 → 20.
        assert!(seed - v0 < 140.0 / n as f64 && seed > v0, "N = {n}: {seed}");
        assert!(seed - v0 < previous, "the added variance must shrink with N");
        previous = seed - v0;
    }
    assert!(squared_beta_chain_variance(&vp, -1.0, 10).unwrap_err().to_string().contains("v0"));
}
