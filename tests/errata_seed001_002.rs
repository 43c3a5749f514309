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

/// Seed 002 §5.1: the listing's up blocks are declared for `256 + 128`, `128 + 64`, `64 + in`
/// channels but its forward pass concatenates `256 + 256`, `128 + 128`, `64 + 64`; candle's
/// convolution refuses the first up block's input, and the plan declared as the forward pass
/// concatenates runs to an output of the input's shape.
#[test]
fn seed_unet_listing_skip_channels_do_not_add_up() {
    use diffusion_sde::candle_core::{Device, Tensor};
    use diffusion_sde::models::seed_unet::{channel_plan, SeedUNet, SkipPlan};

    let rows = channel_plan(SkipPlan::AsWritten, 1);
    let pairs: Vec<(usize, usize)> = rows.iter().map(|r| (r.1, r.2)).collect();
    assert_eq!(pairs, vec![(384, 512), (192, 256), (65, 128)]);
    assert!(channel_plan(SkipPlan::Corrected, 3).iter().all(|r| r.1 == r.2));

    let device = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (2, 1, 8, 8), &device).unwrap();
    let t = Tensor::new(&[[0.3f32], [0.7]], &device).unwrap();
    let err = SeedUNet::new(1, SkipPlan::AsWritten, &device).unwrap().forward(&x, &t).unwrap_err().to_string();
    assert!(err.contains("512") && err.contains("384"), "candle's message names both channel counts: {err}");
    let out = SeedUNet::new(1, SkipPlan::Corrected, &device).unwrap().forward(&x, &t).unwrap();
    assert_eq!(out.dims(), &[2, 1, 8, 8]);
    let bad = Tensor::zeros((2, 1, 6, 6), diffusion_sde::candle_core::DType::F32, &device).unwrap();
    assert!(SeedUNet::new(1, SkipPlan::Corrected, &device).unwrap().forward(&bad, &t).unwrap_err().to_string().contains("divisible by 8"));
}

/// Seed 001 §3.1.5: `dx = [f − ½(1+η²)g² s] dt + η g dW̄` has the forward marginals for every
/// η — the PF-ODE (0), the reverse SDE (1) and beyond — checked by the Kolmogorov–Smirnov
/// distance to the exact `p_t` at four times (99.9 % critical value `1.95/√n` plus 0.01 for
/// 1000 Euler steps); the same noise added to the PF-ODE's drift without the extra score term
/// misses them.
#[test]
fn eta_family_shares_the_forward_marginals() {
    use diffusion_sde::framework::reverse_family::ReverseFamily;
    let (data, vp, n) = (GaussianMixture::two_modes_1d(), VpSde::default(), 4000);
    let truth = MixtureMarginal::new(vp, data);
    let start = truth.at(1.0).unwrap().sample(n, 3);
    let grid = TimeGrid::uniform(1.0, 1e-3, 1000).unwrap();
    let worst = |sde: &dyn Sde| {
        let sol = EulerMaruyama.solve(sde, start.view(), &grid, Noise::Seed(4), Record::Every(250)).unwrap();
        assert_eq!(sol.times.len(), 5);
        sol.times[1..].iter().zip(&sol.states[1..]).map(|(&t, x)| truth.at(t).unwrap().ks_distance(x.view()).unwrap()).fold(0.0, f64::max)
    };
    let critical = 1.95 / (n as f64).sqrt() + 0.01;
    for eta in [0.0, 0.5, 1.0, 2.0] {
        let ks = worst(&ReverseFamily::new(vp, &truth, eta).unwrap());
        assert!(ks < critical, "η = {eta}: KS {ks} ≥ {critical}");
    }
    let uncompensated = ScoreFn(|x: ArrayView2<f64>, t: f64| Ok(truth.score(x, t)? / 5.0));
    let ks = worst(&ReverseFamily::new(vp, uncompensated, 2.0).unwrap());
    assert!(ks > 3.0 * critical, "noise without the extra score term: KS {ks}");
    assert!(ReverseFamily::new(vp, &truth, -1.0).unwrap_err().to_string().contains("eta"));
}

/// Seed 002 §1.2 (learning `Σ_θ`): the optimal reverse variance `σ*²_t = β̃_t + c_t² E Var(x_0|x_t)`
/// is `β_t` exactly for `N(0, 1)` data, `β̃_t` for (nearly) a point mass, strictly between the two
/// for the unit-variance mixture, and above `β_t` at large `t` for the variance-4 mixture.
#[test]
fn optimal_reverse_variance_lies_between_beta_tilde_and_beta() {
    use diffusion_sde::framework::reverse_variance::optimal_variances;
    use diffusion_sde::smld::DiscreteSchedule;
    let schedule = DiscreteSchedule::ddpm_linear(1e-4, 0.02, 1000).unwrap();
    let run = |data: &GaussianMixture, w: f64| optimal_variances(&schedule, data, w, 4001).unwrap();

    let gauss = GaussianMixture::gaussian(array![0.0], array![[1.0]]).unwrap();
    for v in run(&gauss, 10.0) {
        assert!((v.optimal - v.beta).abs() < 1e-6 * v.beta, "{v:?}");
    }
    let point = GaussianMixture::gaussian(array![0.5], array![[1e-8]]).unwrap();
    for v in run(&point, 10.0) {
        assert!((v.optimal - v.beta_tilde).abs() < 1e-3 * v.beta_tilde, "{v:?}");
    }
    let unit = GaussianMixture::isotropic(vec![0.4, 0.6], array![[-1.0], [1.0]], 0.04).unwrap();
    assert!((unit.covariance()[[0, 0]] - 1.0).abs() < 1e-12);
    let levels = run(&unit, 10.0);
    assert_eq!(levels.len(), 999);
    let share = |v: &diffusion_sde::framework::reverse_variance::LevelVariance| (v.optimal - v.beta_tilde) / (v.beta - v.beta_tilde);
    assert!(levels.iter().all(|v| share(v) > -1e-9 && share(v) < 1.0 + 1e-9));
    assert!(levels.iter().any(|v| share(v) > 0.2 && share(v) < 0.8), "strictly inside somewhere");
    let wide = run(&GaussianMixture::two_modes_1d(), 14.0);
    let top = wide.iter().map(share).fold(f64::MIN, f64::max);
    assert!(top > 2.0, "variance-4 data reach past β_t: σ*² − β̃ up to {top} × (β − β̃)");
    assert!(optimal_variances(&schedule, &GaussianMixture::appendix_2d(), 5.0, 101).is_err());
}

/// Seed 001's optional Bayes derivation of the reverse SDE: the exact one-step kernel
/// `p(x_{t−Δt} | x_t)` for the mixture has the Euler–Maruyama step's mean to `O(Δt²)` and its
/// variance `g²Δt` to a relative `O(Δt)` (fitted log–log slopes 2 and 1).
#[test]
fn bayes_kernel_tends_to_the_reverse_euler_step() {
    use diffusion_sde::framework::bayes_step::bayes_vs_euler;
    use diffusion_sde::sde_basics::chains::loglog_slope;
    let dts = [0.01, 0.005, 0.0025, 0.00125, 0.000625];
    for (y, t) in [(0.5, 0.3), (-1.5, 0.1), (0.0, 0.8)] {
        let steps = bayes_vs_euler(&VpSde::default(), &GaussianMixture::two_modes_1d(), y, t, &dts).unwrap();
        let mean_gap: Vec<f64> = steps.iter().map(|s| (s.bayes_mean - s.euler_mean).abs()).collect();
        let var_gap: Vec<f64> = steps.iter().map(|s| (s.bayes_var / s.euler_var - 1.0).abs()).collect();
        let (pm, pv) = (loglog_slope(&dts, &mean_gap).unwrap(), loglog_slope(&dts, &var_gap).unwrap());
        assert!((pm - 2.0).abs() < 0.2, "y = {y}, t = {t}: mean slope {pm} ({mean_gap:?})");
        assert!((pv - 1.0).abs() < 0.2, "y = {y}, t = {t}: variance slope {pv} ({var_gap:?})");
        assert!(var_gap[4] < 0.05 && mean_gap[4] < 1e-3, "{steps:?}");
    }
    assert!(bayes_vs_euler(&VpSde::default(), &GaussianMixture::two_modes_1d(), 0.0, 0.1, &[0.2]).unwrap_err().to_string().contains("dt"));
}

/// Seed 002 §2.3: the PF-ODE written with the kernel's `σ_t²` in place of `g(t)²`, without the
/// drift (`dx = −½σ_t² s dt`) or with it (`u_t` read as `f`), run backwards from `p_T` with the
/// exact score: without `f` it shrinks the prior into one bump (variance below 1, the data's 4),
/// with `f` it blows up; the PF-ODE on the same grid reaches the data (KS < 0.03).
#[test]
fn seed_002_pf_ode_with_sigma_squared_misses_the_data() {
    use diffusion_sde::framework::flow_matching::Pf002AsWritten;
    use diffusion_sde::solvers::{solve_ode, Heun};
    let (data, vp) = (GaussianMixture::two_modes_1d(), VpSde::default());
    let truth = MixtureMarginal::new(vp, data.clone());
    let start = truth.at(1.0).unwrap().sample(4000, 8);
    let grid = TimeGrid::uniform(1.0, 1e-3, 500).unwrap();
    let run = |system: &dyn OdeSystem| solve_ode(&Heun, system, start.view(), &grid, Record::Final).unwrap().last().clone();
    let pf = run(&ProbabilityFlow::new(vp, &truth));
    assert!(data.ks_distance(pf.view()).unwrap() < 0.03);
    let without = run(&Pf002AsWritten { sde: &vp, score: &truth, with_drift: false });
    assert!(without.var(0.0) < 1.0 && data.ks_distance(without.view()).unwrap() > 0.3, "var {}", without.var(0.0));
    let with = run(&Pf002AsWritten { sde: &vp, score: &truth, with_drift: true });
    assert!(with.var(0.0) > 100.0, "var {}", with.var(0.0));
}

/// Seed 001 §3.1.3: frozen at one time, the reverse SDE is Langevin dynamics for `p_t²`, not
/// `p_t` (`dx = s du + dW_u`, half Langevin's `√2` noise). From draws of `p_t`, `t = 0.3`, run
/// for `u = 20`: the frozen reverse SDE settles on `p_t²` and leaves `p_t`; Langevin with `√2`
/// stays on `p_t` (KS: 99.9 % critical value `1.95/√n` plus 0.01 for the Euler steps).
#[test]
fn frozen_reverse_sde_is_langevin_for_p_squared() {
    use diffusion_sde::framework::reverse_family::{squared_1d, FrozenReverse};
    use diffusion_sde::smld::LangevinSde;
    let (vp, n, t) = (VpSde::default(), 10_000, 0.3);
    let truth = MixtureMarginal::new(vp, GaussianMixture::two_modes_1d());
    let p_t = truth.at(t).unwrap();
    let p2 = squared_1d(&p_t).unwrap();
    let start = p_t.sample(n, 12);
    let grid = TimeGrid::uniform(0.0, 20.0, 4000).unwrap();
    let run = |sde: &dyn Sde| EulerMaruyama.solve(sde, start.view(), &grid, Noise::Seed(13), Record::Final).unwrap().last().clone();
    let critical = 1.95 / (n as f64).sqrt() + 0.01;
    let frozen = run(&FrozenReverse { score: &truth, level: t });
    let (to_p2, to_p) = (p2.ks_distance(frozen.view()).unwrap(), p_t.ks_distance(frozen.view()).unwrap());
    assert!(to_p2 < critical && to_p > 2.0 * critical, "frozen reverse SDE: KS to p² {to_p2}, to p {to_p}");
    let langevin = run(&LangevinSde { score: &truth, level: t });
    let ks = p_t.ks_distance(langevin.view()).unwrap();
    assert!(ks < critical, "Langevin: KS to p {ks}");
    // p² of one Gaussian N(m, V) is N(m, V/2).
    let one = squared_1d(&GaussianMixture::gaussian(array![1.0], array![[0.5]]).unwrap()).unwrap();
    assert!((one.covariance()[[0, 0]] - 0.25).abs() < 1e-12 && (one.mean()[0] - 1.0).abs() < 1e-12);
}

/// Seed 002 §4.3: flow matching and ε-prediction are equivalent "up to a constant" — no: the
/// velocity error is `c(t)²` times the ε error (`flow_matching_loss_is_a_weighted_eps_loss`),
/// and the weight `c(t)²` changes by a factor 9 over `t ∈ [0.05, 0.95]` on the VP SDE and by
/// 360 on the linear path (`1/(1 − t)²`): a weighting, not an offset.
#[test]
fn flow_matching_and_eps_losses_differ_by_a_weight_not_a_constant() {
    use diffusion_sde::framework::flow_matching::{Kernel, LinearPath};
    for (sde, ratio) in [(Box::new(VpSde::default()) as Box<dyn ForwardSde>, 8.0), (Box::new(LinearPath), 300.0)] {
        let weights: Vec<f64> = [0.05, 0.25, 0.5, 0.75, 0.95].iter().map(|&t| Kernel::of(sde.as_ref(), t).unwrap().eps_to_velocity().powi(2)).collect();
        let (lo, hi) = weights.iter().fold((f64::MAX, 0.0_f64), |(a, b), &w| (a.min(w), b.max(w)));
        assert!(hi > ratio * lo, "c² from {lo} to {hi}");
    }
}

/// Seed 001's optional section, the link to variational models: one reverse step's KL is
/// `½ (SNR(s) − SNR(t)) ‖x₀ − x̂₀‖²` exactly, and the continuous loss's weight in score space,
/// `−SNR'(t) σ⁴/α²` from the kernel alone, is the SDE's `g(t)²` for VP, VE and sub-VP (to the
/// central difference's `O(h²)`).
#[test]
fn variational_loss_is_the_g2_weighted_score_loss() {
    use diffusion_sde::framework::{variational_score_weight, variational_step_kl, SubVpSde, VeSde};
    let sdes: Vec<(&str, Box<dyn ForwardSde>)> =
        vec![("VP", Box::new(VpSde::default())), ("VE", Box::new(VeSde::new(0.01, 50.0).unwrap())), ("sub-VP", Box::new(SubVpSde::default()))];
    for (name, sde) in &sdes {
        for t in [0.1, 0.5, 0.9] {
            let (kl, snr_form) = variational_step_kl(sde.as_ref(), t - 0.05, t, 2.5).unwrap();
            assert!((kl - snr_form).abs() < 1e-9 * kl, "{name} t = {t}: {kl} vs {snr_form}");
            let g = match sde.diffusion(array![[0.0]].view(), t).unwrap() {
                Diffusion::Scalar(g) => g,
                other => panic!("{other:?}"),
            };
            let w = variational_score_weight(sde.as_ref(), t, 1e-5).unwrap();
            assert!((w - g * g).abs() < 1e-6 * g * g, "{name} t = {t}: weight {w} vs g² {}", g * g);
        }
    }
    assert!(variational_step_kl(sdes[0].1.as_ref(), 0.5, 0.4, 1.0).is_err());
}

/// Seed 002 §4.2's weightings are written for the ε-loss; in score space `λ = λ_ε σ²`: uniform
/// → `σ²` (`Weighting::SigmaSquared`), SNR → `α²` (`Weighting::Snr`). Under the SNR weighting
/// too the true score minimises the denoising loss: a shifted and a shrunk score lose (on
/// `[0.05, 1]`, where `SNR ≤ 33` keeps the Monte-Carlo loss's noise below the gaps).
#[test]
fn snr_weighting_keeps_the_true_score_as_minimiser() {
    use diffusion_sde::framework::dsm::{dsm_loss, Weighting};
    let (sde, data) = (VpSde::default(), GaussianMixture::appendix_2d());
    let truth = MixtureMarginal::new(sde, data.clone());
    let x = data.sample(1000, 1);
    let best = dsm_loss(&truth, &sde, x.view(), Weighting::Snr, 0.05, 5, 7).unwrap();
    let shifted = ScoreFn(|x: ArrayView2<f64>, t: f64| Ok(truth.score(x, t)? + 0.1));
    let shrunk = ScoreFn(|x: ArrayView2<f64>, t: f64| Ok(truth.score(x, t)? * 0.9));
    for other in [&shifted as &dyn Score, &shrunk] {
        let l = dsm_loss(other, &sde, x.view(), Weighting::Snr, 0.05, 5, 7).unwrap();
        assert!(l > best, "{l} ≤ {best}");
    }
    let (a, _) = sde.marginal_mean_std(0.4).unwrap();
    assert!((Weighting::Snr.lambda(&sde, 0.4).unwrap() - a * a).abs() < 1e-12);
}

/// Seed 002 §4.2's "cosine" weighting (`Weighting::Cosine`, no formula in the seed; read as
/// Kingma & Gao 2023): its `ε`-space weight `λ/σ²` is `|dℓ/dt| · sech(ℓ/2)`, `ℓ` the log-SNR,
/// differentiated numerically here on VE, VP and sub-VP; on the cosine schedule itself
/// (`s → 0`) it is the uniform `ε` weight, `λ = 2πσ²`.
#[test]
fn cosine_weighting_is_sech_of_half_the_log_snr() {
    use diffusion_sde::framework::dsm::Weighting;
    use diffusion_sde::framework::{ScheduledVpSde, SubVpSde, VeSde};
    use diffusion_sde::smld::schedules::CosineSchedule;
    let log_snr = |sde: &dyn ForwardSde, t: f64| {
        let (a, s) = sde.marginal_mean_std(t).unwrap();
        (a * a / (s * s)).ln()
    };
    let sdes: [(&str, Box<dyn ForwardSde>); 3] =
        [("VE", Box::new(VeSde::default())), ("VP", Box::new(VpSde::default())), ("sub-VP", Box::new(SubVpSde::default()))];
    for (name, sde) in &sdes {
        for t in [0.01, 0.1, 0.3, 0.6, 0.9] {
            let h = 1e-6;
            let slope = (log_snr(sde.as_ref(), t + h) - log_snr(sde.as_ref(), t - h)) / (2.0 * h);
            let ell = log_snr(sde.as_ref(), t);
            let sigma2 = sde.marginal_mean_std(t).unwrap().1.powi(2);
            let want = sigma2 * slope.abs() / (0.5 * ell).cosh();
            let got = Weighting::Cosine.lambda(sde.as_ref(), t).unwrap();
            assert!((got - want).abs() < 1e-6 * want, "{name}, t = {t}: {got} vs {want}");
        }
    }
    let cosine = ScheduledVpSde::new(CosineSchedule::new(1e-12).unwrap(), 0.99).unwrap();
    for t in [0.01, 0.2, 0.5, 0.8, 0.98] {
        let ratio = Weighting::Cosine.lambda(&cosine, t).unwrap() / Weighting::SigmaSquared.lambda(&cosine, t).unwrap();
        assert!((ratio - 2.0 * std::f64::consts::PI).abs() < 1e-6, "t = {t}: λ_cos/σ² = {ratio}");
    }
}

/// The cosine weighting keeps the true score as the minimiser of the DSM loss (as every
/// positive `λ` does), on the appendix mixture.
#[test]
fn cosine_weighting_keeps_the_true_score_as_minimiser() {
    use diffusion_sde::framework::dsm::{dsm_loss, Weighting};
    let (sde, data) = (VpSde::default(), GaussianMixture::appendix_2d());
    let truth = MixtureMarginal::new(sde, data.clone());
    let x = data.sample(1000, 1);
    let best = dsm_loss(&truth, &sde, x.view(), Weighting::Cosine, 0.05, 5, 7).unwrap();
    let shrunk = ScoreFn(|x: ArrayView2<f64>, t: f64| Ok(truth.score(x, t)? * 0.9));
    let l = dsm_loss(&shrunk, &sde, x.view(), Weighting::Cosine, 0.05, 5, 7).unwrap();
    assert!(l > best, "{l} ≤ {best}");
}
