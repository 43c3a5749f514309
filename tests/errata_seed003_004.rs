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

/// Seed 004 §6 "分数匹配目标 ↔ Girsanov定理": Girsanov bounds the **SDE** model's KL by the
/// `g²`-weighted score-matching loss plus the prior's KL. On the 1-D mixture: tight when `s_θ` is
/// the score of its own marginals (wrong mode weights); a valid bound for `s_θ = s + 0.2 sin(ωx)`,
/// whose SDE KL shrinks as `ω` grows while the PF-ODE model's KL grows far past the bound; with
/// the exact score the ODE carries the prior's KL unchanged (KL is invariant under the flow map).
#[test]
fn girsanov_bounds_the_sde_kl_not_the_ode_kl() {
    use diffusion_sde::framework::girsanov::{girsanov_check_1d, PerturbedScore};
    use diffusion_sde::sde_basics::fokker_planck::FokkerPlanck1d;

    let (data, vp) = (GaussianMixture::two_modes_1d(), VpSde::default());
    let truth = MixtureMarginal::new(vp, data.clone());
    let grid = FokkerPlanck1d::new(-6.0, 6.0, 1200).unwrap();
    let check = |model: &dyn diffusion_sde::sde_basics::ScoreJacobian| girsanov_check_1d(&vp, &data, model, &grid, 1e-3, 1000).unwrap();

    let exact = check(&truth);
    assert_eq!(exact.score_term, 0.0);
    assert!(exact.kl_sde <= exact.bound() && exact.prior_kl > 1e-6, "{exact:?}");
    assert!((exact.kl_ode - exact.prior_kl).abs() < 1e-3 * exact.prior_kl, "{exact:?}");

    // The score of 0.5 N(−2, 0.16) + 0.5 N(2, 0.16)'s marginals: KL(p_0‖q_0) ≈ 0.4 ln 0.8 + 0.6 ln 1.2 = 0.0201.
    let wrong = MixtureMarginal::new(vp, GaussianMixture::isotropic(vec![0.5, 0.5], array![[-2.0], [2.0]], 0.16).unwrap());
    let tight = check(&wrong);
    assert!((tight.bound() - 0.0201).abs() < 5e-4, "{tight:?}");
    assert!((tight.kl_sde - tight.bound()).abs() < 1e-3 * tight.bound(), "{tight:?}");
    assert!((tight.kl_ode - tight.kl_sde).abs() < 1e-3 * tight.bound(), "{tight:?}");

    let mut last: Option<diffusion_sde::framework::girsanov::GirsanovCheck> = None;
    for omega in [1.0, 4.0, 16.0] {
        let c = check(&PerturbedScore { base: truth.clone(), amplitude: 0.2, frequency: omega });
        // E sin²(ωx) ≈ ½ whatever ω (≈ 0.48 at ω = 1): the bound ≈ ½ · 0.04 · ½ ∫β ≈ 0.1.
        assert!(c.bound() > 0.09 && c.bound() < 0.11, "ω = {omega}: {c:?}");
        assert!(c.kl_sde < c.bound(), "ω = {omega}: {c:?}");
        assert!(c.kl_ode > 4.0 * c.bound(), "ω = {omega}: {c:?}");
        if let Some(prev) = last {
            assert!(c.kl_sde < prev.kl_sde / 4.0 && c.kl_ode > 2.0 * prev.kl_ode, "ω = {omega}: {c:?} after {prev:?}");
        }
        last = Some(c);
    }
    // The grid's own error: half the cells and half the steps change the ω = 16 figures by < 5 %.
    let coarse = girsanov_check_1d(&vp, &data, &PerturbedScore { base: truth.clone(), amplitude: 0.2, frequency: 16.0 },
        &FokkerPlanck1d::new(-6.0, 6.0, 600).unwrap(), 1e-3, 500).unwrap();
    let fine = last.unwrap();
    for (a, b) in [(coarse.kl_sde, fine.kl_sde), (coarse.kl_ode, fine.kl_ode), (coarse.score_term, fine.score_term)] {
        assert!((a - b).abs() < 0.05 * b, "coarse {coarse:?} vs fine {fine:?}");
    }
    let flat = GaussianMixture::appendix_2d();
    assert!(girsanov_check_1d(&vp, &flat, &truth, &grid, 1e-3, 10).unwrap_err().to_string().contains("data"));
    assert!(girsanov_check_1d(&vp, &data, &truth, &grid, 0.0, 10).unwrap_err().to_string().contains("t_eps"));
}
