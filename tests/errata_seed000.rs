//! Seed 000's errata (docs/ERRATA.md): each test pins the number its notebook's Erratum cell shows.

use diffusion_sde::prelude::*;
use diffusion_sde::smld::change_of_variables::{stein_residual, SinhGaussian};
use diffusion_sde::solvers::step_rule::{heun_euler, StepLog, StepRule};
use diffusion_sde::solvers::{dormand_prince, AdaptiveOptions};
use ndarray::Axis;

/// The test problem of the step-rule erratum: `x' = −x + sin(3t)`, `x(0) = 1`, on `[0, 10]`.
fn forced(rule: StepRule, tol: f64) -> StepLog {
    heun_euler(&|t, x| -x + (3.0 * t).sin(), 1.0, (0.0, 10.0), 0.01, tol, rule).unwrap()
}

/// Seed 000 §2.1.1 / §2.4.1: the exponent `1/p` makes the controller oscillate between accepted
/// steps far below `tol` and rejections; `1/(p+1)` lands near `0.9² tol` and rarely rejects.
#[test]
fn step_rule_exponent_one_over_p_oscillates_and_rejects() {
    let tol = 1e-5;
    let seed = forced(StepRule::AsWritten, tol);
    let right = forced(StepRule::Correct, tol);
    assert_eq!((StepRule::AsWritten.exponent(1), StepRule::Correct.exponent(1)), (1.0, 0.5));
    // Over-correction: roughly one rejection per accepted step with 1/p; almost none with 1/(p+1).
    assert!(
        seed.rejected * 3 > seed.steps.len(),
        "as written: {} rejected of {} accepted",
        seed.rejected,
        seed.steps.len()
    );
    assert!(right.rejected * 20 < right.steps.len(), "correct: {} rejected", right.rejected);
    // The correct rule's accepted errors sit near SAFETY² tol (err ∝ h²); the seed's spread far below.
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (m_right, m_seed) = (median(&right.error_ratios), median(&seed.error_ratios));
    assert!((0.6..1.0).contains(&m_right), "correct: median err/tol {m_right}");
    assert!(m_seed < 0.5, "as written: median err/tol {m_seed}");
    // Both reach the end with the same answer (global error ≲ 100 tol).
    assert!((seed.x_final - right.x_final).abs() < 1e-3, "{} vs {}", seed.x_final, right.x_final);
    // Bad input is an error naming the value.
    let e = heun_euler(&|_, x| x, 1.0, (0.0, 1.0), 0.1, -1.0, StepRule::Correct).unwrap_err().to_string();
    assert!(e.contains("tol"), "{e}");
}

/// Seed 000 §3.1.1: the seed's chain rule drops the Jacobian term `tanh x` of `x = asinh(y)`:
/// finite differences of `log p` match the full score to 1e-6 and miss the seed's by `tanh x`;
/// Stein's identity `E[x s(x)] = −1` holds for the full score within 5 standard errors only.
#[test]
fn chain_rule_as_written_misses_the_jacobian_term() {
    let law = SinhGaussian;
    let h = 1e-5;
    for x in [-1.5, -0.4, 0.3, 1.1, 2.0_f64] {
        let fd = (law.log_density(x + h) - law.log_density(x - h)) / (2.0 * h);
        assert!((fd - law.score(x)).abs() < 1e-6, "x = {x}: fd {fd} vs score {}", law.score(x));
        assert!(((fd - law.score_as_written(x)) - x.tanh()).abs() < 1e-6, "x = {x}");
    }
    let n = 40_000;
    let x = law.sample(n, 3);
    // Standard error of the mean of x s(x) + 1, estimated from the sample.
    let se = |s: &dyn Fn(f64) -> f64| {
        let v: Vec<f64> = x.iter().map(|&v| v * s(v)).collect();
        let m = v.iter().sum::<f64>() / n as f64;
        (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n as f64 / n as f64).sqrt()
    };
    let (r_right, r_seed) = (stein_residual(&x, |v| law.score(v)), stein_residual(&x, |v| law.score_as_written(v)));
    let (se_right, se_seed) = (se(&|v| law.score(v)), se(&|v| law.score_as_written(v)));
    assert!(r_right.abs() < 5.0 * se_right, "true score: residual {r_right} ± {se_right}");
    assert!(r_seed.abs() > 10.0 * se_seed, "seed's score: residual {r_seed} ± {se_seed}");
    // The seed's residual is the missing term's expectation, −E[x tanh x] (within the true score's noise).
    let x_tanh = x.iter().map(|v| v * v.tanh()).sum::<f64>() / n as f64;
    assert!((r_seed + x_tanh).abs() < 5.0 * se_right, "{r_seed} vs −{x_tanh}");
}

/// Seed 000 §2.2.3, §3.5.1, §4.4.2, A.9: "the ODE lacks randomness / diversity". The PF-ODE has the
/// reverse SDE's marginals: from the same prior draws, its samples' per-coordinate spread equals the
/// SDE's and the data's (within 5 standard errors plus the 500-step Euler–Maruyama bias).
#[test]
fn pf_ode_samples_are_as_spread_as_the_sde_samples() {
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let score = MixtureMarginal::new(sde, data.clone());
    let n = 2000;
    let prior = sde.prior_sample(n, 2, &mut rng::seeded(21));
    let grid = TimeGrid::uniform(1.0, 1e-3, 500).unwrap();
    let rev = EulerMaruyama
        .solve(&ReverseSde::new(sde, score.clone()), prior.view(), &grid, Noise::Seed(22), Record::Final)
        .unwrap();
    let opts = AdaptiveOptions { rtol: 1e-6, atol: 1e-6, ..Default::default() };
    let pf = dormand_prince(&ProbabilityFlow::new(sde, score), prior.view(), 1.0, 1e-3, opts).unwrap();
    let truth = data.covariance().diag().mapv(f64::sqrt);
    for (name, x) in [("reverse SDE", rev.last()), ("PF-ODE", pf.last())] {
        let std = x.std_axis(Axis(0), 0.0);
        for j in 0..2 {
            // Standard error of a standard deviation ≈ σ/√(2n) (a mixture's is larger: allow 5×, + bias 0.03).
            let tol = 5.0 * truth[j] / (2.0 * n as f64).sqrt() + 0.03;
            assert!((std[j] - truth[j]).abs() < tol, "{name}: std[{j}] = {} vs data {}", std[j], truth[j]);
        }
    }
}

/// Seed 000 A.3: the seed's demo noises `x_0 ~ N(0, I)`, so every panel is `N(0, I)` whatever ᾱ:
/// the sample covariance of each is I within 5 standard errors (`√(2/n)` on the diagonal, `√(1/n)` off it),
/// while the same noise on the appendix data is far from I at `t = 0` and ≈ I at `t = 999`.
#[test]
fn a3_seed_demo_shows_the_prior_in_every_panel() {
    use diffusion_sde::appendix::DiscreteVp;
    let fp = DiscreteVp::seed();
    let n = 4000;
    let x0 = rng::normals(&mut rng::seeded(42), n, 2);
    let data = GaussianMixture::appendix_2d().sample(n, 41);
    let cov_gap = |x: &ndarray::Array2<f64>| {
        let c = x.t().dot(x) / n as f64 - {
            let m = x.mean_axis(Axis(0)).unwrap();
            let m2 = m.clone().insert_axis(Axis(1));
            m2.dot(&m.insert_axis(Axis(0)))
        };
        (c - ndarray::Array2::<f64>::eye(2)).iter().fold(0.0_f64, |a, v| a.max(v.abs()))
    };
    let tol = 5.0 * (2.0 / n as f64).sqrt();
    for i in [0usize, 100, 500, 999] {
        let (a, s) = fp.marginal_mean_std(i as f64 / 1000.0).unwrap();
        let z = rng::normals(&mut rng::seeded(43 + i as u64), n, 2);
        let seed_panel = &x0 * a + &z * s;
        assert!(cov_gap(&seed_panel) < tol, "seed's panel {i}: {}", cov_gap(&seed_panel));
        let data_panel = &data * a + &z * s;
        let mean = data_panel.mean_axis(Axis(0)).unwrap();
        let gap = cov_gap(&data_panel) + mean.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        match i {
            0 => assert!(gap > 10.0 * tol, "the data at t = 0 must differ from N(0, I): {gap}"),
            999 => assert!(gap < 2.0 * tol, "the data at t = 999 must be ≈ N(0, I): {gap}"),
            _ => {}
        }
    }
}

/// Seed 000 §4.3.2 and A.6, defect by defect, for data `N(0, 0.25)` with the exact score (1000 steps):
/// the exact variance recursion matches simulated particles within 5 standard errors; the correct
/// recipe returns the data's variance, each defect alone does not, and A.6 as written returns the prior.
#[test]
fn reverse_recipes_of_the_seed_miss_the_data_variance() {
    use diffusion_sde::framework::reverse_recipe::ReverseRecipe;
    let (sde, v0, steps, n) = (VpSde::default(), 0.25, 1000, 4000);
    let c = ReverseRecipe::CORRECT;
    let recipes = [
        ("correct", c),
        ("no −½βx", ReverseRecipe { x_drift: 0.0, ..c }),
        ("score ½", ReverseRecipe { score_coef: 0.5, ..c }),
        ("score −½", ReverseRecipe { score_coef: -0.5, ..c }),
        ("rate β_i", ReverseRecipe { rate_scale: 1e-3, ..c }),
        ("§4.3.2", ReverseRecipe::SEED_4_3_2),
        ("A.6", ReverseRecipe::seed_a6(steps)),
    ];
    for (k, (name, r)) in recipes.iter().enumerate() {
        let v = r.output_variance(&sde, v0, steps).unwrap();
        let x = r.simulate(&sde, v0, steps, n, 10 + k as u64).unwrap();
        let sim = x.var(0.0);
        let se = v * (2.0 / n as f64).sqrt();
        assert!((sim - v).abs() < 5.0 * se + 1e-12, "{name}: simulated {sim} vs recursion {v}");
        if *name == "correct" {
            assert!((v - v0).abs() < 0.01 * v0, "correct: {v}");
        } else {
            assert!((v - v0).abs() > 0.2 * v0, "{name} must miss the data variance: {v}");
        }
    }
    let a6 = ReverseRecipe::seed_a6(steps).output_variance(&sde, v0, steps).unwrap();
    assert!((a6 - 1.0).abs() < 0.05, "A.6 returns about the prior's variance: {a6}");
    assert!(ReverseRecipe::CORRECT.output_variance(&sde, -1.0, 10).unwrap_err().to_string().contains("v0"));
}

/// Seed 000 §4.4.1 "计算真实的分数函数": the explicit loss needs the true score; the denoising
/// loss does not, and differs from it by a constant. On the appendix mixture at t = 0.3, four
/// candidate scores have very different explicit losses but the same gap, within 5 standard
/// errors of the cross term `2⟨s − ∇log p_t, ε/σ + ∇log p_t⟩` (estimated on independent draws).
#[test]
fn denoising_and_explicit_score_losses_differ_by_a_constant() {
    use diffusion_sde::framework::score_targets::explicit_and_denoising;
    let (sde, data, t, n) = (VpSde::default(), GaussianMixture::appendix_2d(), 0.3, 20_000);
    let (alpha, sigma) = sde.marginal_mean_std(t).unwrap();
    let pt = data.perturbed(alpha, sigma).unwrap();
    let exact = |x: ndarray::ArrayView2<f64>| pt.score(x);
    type Candidate<'a> = Box<dyn Fn(ndarray::ArrayView2<f64>) -> diffusion_sde::Result<ndarray::Array2<f64>> + 'a>;
    let candidates: Vec<(&str, Candidate)> = vec![
        ("exact", Box::new(exact) as Candidate),
        ("half", Box::new(|x: ndarray::ArrayView2<f64>| Ok(pt.score(x)? * 0.5)) as Candidate),
        ("zero", Box::new(|x: ndarray::ArrayView2<f64>| Ok(ndarray::Array2::zeros(x.raw_dim()))) as Candidate),
        ("shifted", Box::new(|x: ndarray::ArrayView2<f64>| Ok(pt.score(x)? + 1.0)) as Candidate),
    ];
    let pairs: Vec<_> = candidates
        .iter()
        .map(|(_, c)| explicit_and_denoising(&sde, &data, t, c.as_ref(), n, 5).unwrap())
        .collect();
    // The exact score has zero explicit loss; the others do not.
    assert!(pairs[0].explicit < 1e-20, "{:?}", pairs[0]);
    for p in &pairs[1..] {
        assert!(p.explicit > 0.2, "{p:?}");
    }
    // Standard error of the gap difference for each candidate, on independent draws.
    let x0 = data.sample(n, 99);
    let eps = rng::normals(&mut rng::seeded(100), n, 2);
    let xt = &x0 * alpha + &eps * sigma;
    let truth = pt.score(xt.view()).unwrap();
    let resid = &eps / sigma + &truth;
    for ((name, c), p) in candidates.iter().zip(&pairs).skip(1) {
        let d = (c(xt.view()).unwrap() - &truth) * &resid * 2.0;
        let per: Vec<f64> = d.sum_axis(Axis(1)).to_vec();
        let m = per.iter().sum::<f64>() / n as f64;
        let se = (per.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n * n) as f64).sqrt();
        let diff = p.gap() - pairs[0].gap();
        assert!(diff.abs() < 5.0 * se, "{name}: gap {} vs exact {} (se {se})", p.gap(), pairs[0].gap());
        assert!(p.explicit > 50.0 * se, "{name}: the explicit losses must differ far beyond the noise");
    }
}

/// Seed 000 §3.3.3: interpolating the per-step variances `β_i` gives `Δt · β(t)`: over the ladder
/// it adds `Δt` times the variance the VE SDE adds; interpolating `β_i/Δt` gives `σ(t_N)² − σ(t_1)²`
/// up to the trapezoid rule's error on the exponential `g²` (`κΔt/2` relative, κ = 2 ln 1000 ≈ 13.8).
#[test]
fn interpolating_per_step_variances_is_delta_t_too_small() {
    use diffusion_sde::smld::interpolation::interpolated_integral;
    use diffusion_sde::smld::SmldChain;
    let ve = diffusion_sde::sde_basics::VeSde::new(0.01, 10.0).unwrap();
    for n in [100usize, 1000] {
        let chain = SmldChain::new(ve, n).unwrap();
        let times = chain.times();
        let truth = ve.variance(times[n]).unwrap() - ve.variance(times[1]).unwrap();
        let rate = interpolated_integral(&chain, true).unwrap();
        let seed = interpolated_integral(&chain, false).unwrap();
        let kappa = 2.0 * 1000.0_f64.ln();
        assert!((rate / truth - 1.0).abs() < kappa / n as f64, "N = {n}: {rate} vs {truth}");
        assert!((seed * n as f64 / rate - 1.0).abs() < 1e-12, "N = {n}: seed {seed}, rate {rate}");
    }
}

/// Seed 000 §2.5.1 recommends symplectic methods (保持哈密顿结构) for the PF-ODE. The PF-ODE is a
/// first-order ODE with no Hamiltonian structure, and its flow does not preserve volume: by the
/// continuity equation `log |det ∂x_ε/∂x_1| = log p_1(x_1) − log p_ε(x_ε)`, which on the appendix
/// mixture is clearly negative (the flow contracts the prior onto the modes), and varies from path
/// to path (no constant Jacobian either).
#[test]
fn pf_ode_flow_does_not_preserve_volume() {
    let sde = VpSde::default();
    let marginal = MixtureMarginal::new(sde, GaussianMixture::appendix_2d());
    let n = 500;
    let x1 = rng::normals(&mut rng::seeded(7), n, 2);
    let opts = AdaptiveOptions { rtol: 1e-7, atol: 1e-7, ..Default::default() };
    let pf = dormand_prince(&ProbabilityFlow::new(sde, marginal.clone()), x1.view(), 1.0, 1e-3, opts).unwrap();
    let log_det = marginal.at(1.0).unwrap().log_density(x1.view()).unwrap()
        - marginal.at(1e-3).unwrap().log_density(pf.last().view()).unwrap();
    let mean = log_det.mean().unwrap();
    let se = log_det.std(1.0) / (n as f64).sqrt();
    assert!(mean < -0.5 && mean.abs() > 10.0 * se, "mean log-volume change {mean} ± {se}");
    assert!(log_det.std(1.0) > 0.1, "the Jacobian varies along paths: sd {}", log_det.std(1.0));
    // Cross-check one path's Jacobian by finite differences of the flow map (central, h = 1e-4).
    let h = 1e-4;
    let point = x1.row(0).to_owned();
    let mut jac = [[0.0; 2]; 2];
    for j in 0..2 {
        let mut plus = point.clone().insert_axis(Axis(0));
        let mut minus = plus.clone();
        plus[[0, j]] += h;
        minus[[0, j]] -= h;
        let fp = dormand_prince(&ProbabilityFlow::new(sde, marginal.clone()), plus.view(), 1.0, 1e-3, opts).unwrap();
        let fm = dormand_prince(&ProbabilityFlow::new(sde, marginal.clone()), minus.view(), 1.0, 1e-3, opts).unwrap();
        for i in 0..2 {
            jac[i][j] = (fp.last()[[0, i]] - fm.last()[[0, i]]) / (2.0 * h);
        }
    }
    let fd = (jac[0][0] * jac[1][1] - jac[0][1] * jac[1][0]).abs().ln();
    assert!((fd - log_det[0]).abs() < 1e-3, "finite-difference log det {fd} vs densities {}", log_det[0]);
}

/// Seed 000 §2.4.3 (condition control, normalisation): for Gaussian data `N(0, v)` the VP
/// PF-ODE is linear, `x' = ½β(t)(1/s_t² − 1)x` with `s_t² = α²v + σ²`; at `v = 1` (data on the
/// prior's scale) the right side vanishes and Euler is exact with any number of steps, and
/// over the decades away from 1 on either side Euler's error grows — first order in the step
/// (slope fitted between 100 and 1000 steps). (Close to `v = 1` the error changes sign, so it
/// is small there but not monotone: the points are the notebook's.)
#[test]
fn pf_ode_euler_error_grows_as_the_data_leave_the_priors_scale() {
    use diffusion_sde::framework::samplers::{PfMethod, PfOde, Sampler, DEFAULT_EPS};
    use diffusion_sde::framework::GaussianExample;
    let vp = VpSde::default();
    let x_t = array![[1.0]];
    let error = |v: f64, steps: usize| -> f64 {
        let g = GaussianExample::new(vp, 0.0, v.sqrt()).unwrap();
        let euler = PfOde::new(PfMethod::Euler, steps).sample(&vp, &g, x_t.view(), 0, Record::Final).unwrap();
        let exact = g.flow_map(x_t.view(), vp.t_max(), DEFAULT_EPS).unwrap();
        euler.last()[[0, 0]] / exact[[0, 0]] - 1.0
    };
    for steps in [10, 100, 1000] {
        assert!(error(1.0, steps).abs() < 1e-12, "v = 1, {steps} steps: {}", error(1.0, steps));
        // Away from v = 1 on each side the error grows monotonically.
        for side in [[1.0, 0.1, 1e-2, 1e-4], [1.0, 3.0, 10.0, 100.0]] {
            let errs: Vec<f64> = side.iter().map(|&v| error(v, steps).abs()).collect();
            assert!(errs.windows(2).all(|w| w[1] > w[0]), "{steps} steps, v = {side:?}: {errs:?}");
        }
    }
    for v in [1e-2, 0.1, 10.0, 100.0] {
        let slope = (error(v, 100).abs() / error(v, 1000).abs()).log10();
        assert!((slope - 1.0).abs() < 0.1, "v = {v}: fitted order {slope}");
    }
    // At 10 steps data of variance 100 come out 27 % too narrow, of variance 10⁻⁴ 200 % too wide.
    assert!(error(100.0, 10).abs() > 0.2 && error(1e-4, 10).abs() > 1.0);
}

/// Seed 000 §2.5.2's hybrid, "SDE early, ODE late", against the reverse order at 20 NFE with a
/// learned score (notebook 04, *The hybrid's order*: the appendix network after 200 steps, as
/// the reduced notebook trains it): the reverse SDE beats the PF-ODE by correcting the score's
/// error, and a hybrid keeps that gain exactly when its stochastic stage spans the middle
/// times — SDE down to t = 0.3 (the seed's order) or from t = 0.7 (the reverse order) match the
/// pure SDE, SDE only above 0.9 or only below 0.1 stay near the ODE.
#[test]
fn hybrid_gains_when_its_sde_stage_spans_the_middle_times_in_either_order() {
    use diffusion_sde::framework::dsm::{train_dsm, DsmConfig};
    use diffusion_sde::framework::samplers::hybrid_switch_sweep;
    use diffusion_sde::models::{self, LearnedScore, ScoreNet, ScoreNetConfig};
    let (vp, data) = (VpSde::default(), GaussianMixture::appendix_2d());
    let net = ScoreNet::new(ScoreNetConfig::appendix(), &models::device("cpu").unwrap(), 0).unwrap();
    train_dsm(&net, &vp, data.sample(1000, 0).view(), &DsmConfig::new(200, 1)).unwrap();
    let ((sde, ode), rows) =
        hybrid_switch_sweep(&vp, &LearnedScore::new(&net, vp), data.sample(1000, 22).view(), 20, &[0.1, 0.3, 0.7, 0.9], 61).unwrap();
    let (sde, ode) = (sde.energy, ode.energy);
    let at = |t: f64| rows.iter().find(|r| r.t_switch == t).unwrap();
    let table = format!("SDE {sde:.4}, ODE {ode:.4}, rows {rows:?}");
    assert!(ode > 1.4 * sde, "{table}");
    assert!(at(0.3).sde_first.energy < 1.2 * sde && at(0.7).ode_first.energy < 1.2 * sde, "{table}");
    assert!(at(0.9).sde_first.energy > 1.4 * at(0.3).sde_first.energy, "{table}");
    assert!(at(0.1).ode_first.energy > 1.4 * at(0.7).ode_first.energy, "{table}");
    assert!(hybrid_switch_sweep(&vp, &LearnedScore::new(&net, vp), data.sample(10, 0).view(), 20, &[1.0], 0)
        .unwrap_err().to_string().contains("t_switch"));
}
