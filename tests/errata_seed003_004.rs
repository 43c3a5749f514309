//! Errata of seeds 003 and 004 (docs/ERRATA.md).

use diffusion_sde::framework::reverse_recipe::ReverseRecipe;
use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::chains::{DdpmChain, LinearChain, NcsnChain, Update};
use diffusion_sde::sde_basics::VeSde;

/// Seed 003 §3: SMLD and DDPM are not "the same SDE": their chains' exact marginal variances follow
/// the VE and the VP SDE, `v₀ + σ(t)² − σ_min²` and `ᾱ v₀ + 1 − ᾱ` (to O(1/N)), more than 20 % apart.
#[test]
fn smld_and_ddpm_chains_have_different_limits() {
    let (vp, ve, v0, n) = (VpSde::default(), VeSde::new(0.01, 10.0).unwrap(), 0.5, 1000);
    let ddpm = DdpmChain::new(vp, n, Update::Discrete).unwrap().marginal_variance(v0).unwrap();
    let ncsn = NcsnChain::new(ve, n, Update::Discrete).unwrap().marginal_variance(v0).unwrap();
    for i in [250usize, 500, 1000] {
        let t = i as f64 / n as f64;
        let (m, s) = vp.marginal_mean_std(t).unwrap();
        let vp_var = m * m * v0 + s * s;
        let ve_var = v0 + ve.variance(t).unwrap();
        assert!((ddpm[i] - vp_var).abs() < 0.01, "DDPM at t = {t}: {} vs VP {vp_var}", ddpm[i]);
        assert!((ncsn[i] - ve_var).abs() < 1e-9 * ve_var, "NCSN at t = {t}: {} vs VE {ve_var}", ncsn[i]);
        assert!((ncsn[i] - ddpm[i]).abs() > 0.2 * ddpm[i], "t = {t}: the two limits must differ");
    }
}

/// Seed 004 §1 and §4: "removing the noise term" keeps the full score and shrinks the output
/// variance far below the data's; the §4 listing with `dt > 0` runs the flow the wrong way; the
/// PF-ODE (½ score, no noise) returns the data variance to Euler accuracy. The recursion is checked
/// against simulated particles (deterministic given `x_1`: within 5 standard errors of a variance).
#[test]
fn noise_removed_and_wrong_sign_flows_miss_the_data() {
    let (sde, v0, steps, n) = (VpSde::default(), 0.25, 1000, 4000);
    let pf = ReverseRecipe::PF_ODE.output_variance(&sde, v0, steps).unwrap();
    assert!((pf - v0).abs() < 0.01 * v0, "PF-ODE: {pf}");
    let removed = ReverseRecipe::NOISE_REMOVED.output_variance(&sde, v0, steps).unwrap();
    assert!(removed < 0.01 * v0, "noise removed, full score: {removed}");
    let wrong = ReverseRecipe::SEED_004_POSITIVE_DT.output_variance(&sde, v0, steps).unwrap();
    assert!(wrong > 10.0 * v0, "dt > 0: {wrong}");
    for (k, r) in [ReverseRecipe::PF_ODE, ReverseRecipe::NOISE_REMOVED, ReverseRecipe::SEED_004_POSITIVE_DT].iter().enumerate() {
        let v = r.output_variance(&sde, v0, steps).unwrap();
        let sim = r.simulate(&sde, v0, steps, n, 20 + k as u64).unwrap().var(0.0);
        assert!((sim - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(), "{r:?}: {sim} vs {v}");
    }
}
