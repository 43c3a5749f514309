//! Chapter 1's claims (notebooks/01_sde_basics.ipynb): Wiener paths, dx = A dW with its
//! closed-form law, score and reverse SDE (seed 000 §1.3), Ornstein–Uhlenbeck and geometric
//! Brownian motion against their closed forms, and clear errors for bad input.
//!
//! Tolerances: a sample mean of n draws has standard error √(v/n); a sample variance of n
//! Gaussian draws √(2/n)·v; a sample covariance entry √((Σ_ii Σ_jj + Σ_ij²)/n). Each check
//! allows 5 standard errors (a false alarm ≈ 6e-7 per check), plus any discretisation bias
//! derived in place.

use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::chains::loglog_slope;
use diffusion_sde::sde_basics::examples::{sample_covariance, CorrelatedBrownian, Gbm, Ou};
use diffusion_sde::sde_basics::quadrature::integrate_density_2d;
use diffusion_sde::sde_basics::wiener::WienerPath;
use diffusion_sde::sde_basics::Solution;

fn a_matrix() -> Array2<f64> {
    // Non-diagonal and non-symmetric: A Aᵀ = [[1.25, 0.7], [0.7, 0.73]], correlation 0.73.
    array![[1.0, 0.5], [0.3, 0.8]]
}

/// Asserts that the sample covariance of `x` (n draws of N(0, Σ)) matches `sigma` entrywise
/// within 5 standard errors, plus `bias · max|Σ|` for a known discretisation bias.
fn assert_covariance(x: &Array2<f64>, sigma: &Array2<f64>, bias: f64, what: &str) {
    let n = x.nrows() as f64;
    let s = sample_covariance(x.view()).unwrap();
    let scale = sigma.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    for i in 0..2 {
        for j in 0..2 {
            let se = ((sigma[[i, i]] * sigma[[j, j]] + sigma[[i, j]].powi(2)) / n).sqrt();
            let tol = 5.0 * se + bias * scale;
            assert!(
                (s[[i, j]] - sigma[[i, j]]).abs() < tol,
                "{what}: cov[{i},{j}] = {} vs {} (tol {tol})",
                s[[i, j]],
                sigma[[i, j]]
            );
        }
    }
}

/// Asserts that `x` has the law N(0, Σ) in the whitened statistic q = xᵀ Σ⁻¹ x: for d = 2 its
/// mean is 2 and its variance 4, so the sample mean of q has standard error 2/√n (5 of them,
/// plus `2 · bias` for a relative covariance bias). Pools all entries: sharper than entrywise checks.
fn assert_whitened(x: &Array2<f64>, sigma: &Array2<f64>, bias: f64, what: &str) {
    let det = sigma[[0, 0]] * sigma[[1, 1]] - sigma[[0, 1]] * sigma[[1, 0]];
    let prec = array![
        [sigma[[1, 1]], -sigma[[0, 1]]],
        [-sigma[[1, 0]], sigma[[0, 0]]]
    ] / det;
    let q = x
        .rows()
        .into_iter()
        .map(|r| r.dot(&prec.dot(&r)))
        .sum::<f64>()
        / x.nrows() as f64;
    let tol = 5.0 * 2.0 / (x.nrows() as f64).sqrt() + 2.0 * bias;
    assert!(
        (q - 2.0).abs() < tol,
        "{what}: mean of xᵀΣ⁻¹x = {q}, expected 2 ± {tol}"
    );
}

// ---------------------------------------------------------------- Wiener process (seed 001 §3.1.1)

#[test]
fn wiener_increments_have_mean_zero_and_variance_dt() {
    // A non-uniform grid, so that "variance = dt" is tested for many different dt.
    let times: Vec<f64> = (0..=20).map(|k| (k as f64 / 20.0).powi(2)).collect();
    let grid = TimeGrid::from_times(times).unwrap();
    let n = 20_000;
    let w = WienerPath::sample(&grid, n, 2, 3).unwrap();
    assert!(w.values().slice(s![0, .., ..]).iter().all(|&v| v == 0.0));
    for k in 0..grid.steps() {
        let dt = grid.step(k).1;
        let inc = w.increment(k, 0..n);
        let m = inc.mean().unwrap();
        let v = inc.var(0.0);
        let cnt = (2 * n) as f64;
        assert!(
            m.abs() < 5.0 * (dt / cnt).sqrt(),
            "step {k}: mean {m}, dt {dt}"
        );
        assert!(
            (v - dt).abs() < 5.0 * dt * (2.0 / cnt).sqrt(),
            "step {k}: var {v} vs dt {dt}"
        );
    }
    // Same seed, same path.
    let again = WienerPath::sample(&grid, n, 2, 3).unwrap();
    assert_eq!(w.values(), again.values());
}

#[test]
fn quadratic_variation_tends_to_t() {
    // Σ (ΔW)² over K steps of [0, T] has mean T and standard deviation T √(2/K): the RMS error
    // over paths must follow T √(2/K), i.e. shrink with slope −½ in K.
    let t_end = 2.0;
    let paths = 400;
    let ks = [16, 64, 256, 1024, 4096];
    let mut rms = Vec::new();
    for (j, &k) in ks.iter().enumerate() {
        let grid = TimeGrid::uniform(0.0, t_end, k).unwrap();
        let w = WienerPath::sample(&grid, paths, 1, 100 + j as u64).unwrap();
        let qv = w.quadratic_variation();
        let r = (qv.mapv(|q| (q - t_end).powi(2)).mean().unwrap()).sqrt();
        let theory = t_end * (2.0 / k as f64).sqrt();
        // The RMS of 400 paths estimates the theory within ~√(… /400): allow ±25 %.
        assert!(
            (r / theory - 1.0).abs() < 0.25,
            "K = {k}: RMS {r} vs {theory}"
        );
        rms.push(r);
    }
    let ks_f: Vec<f64> = ks.iter().map(|&k| k as f64).collect();
    let slope = loglog_slope(&ks_f, &rms).unwrap();
    assert!((slope + 0.5).abs() < 0.1, "slope {slope}");
}

#[test]
fn refinement_preserves_the_coarse_path_and_has_the_wiener_law() {
    let coarse_grid = TimeGrid::uniform(0.0, 1.0, 10).unwrap();
    let fine_grid = TimeGrid::uniform(0.0, 1.0, 40).unwrap();
    let n = 20_000;
    let coarse = WienerPath::sample(&coarse_grid, n, 1, 9).unwrap();
    let fine = coarse.refine(&fine_grid, 10).unwrap();
    assert_eq!(fine.grid(), &fine_grid);
    for k in 0..=10 {
        assert_eq!(
            fine.values().slice(s![4 * k, .., ..]),
            coarse.values().slice(s![k, .., ..]),
            "coarse point {k} changed"
        );
    }
    // Fine increments: N(0, dt) and uncorrelated, also inside one coarse step (a wrong
    // bridge variance or mean shows up here).
    let dt = 0.025;
    let cnt = n as f64;
    let incs: Vec<Array1<f64>> = (0..40)
        .map(|k| fine.increment(k, 0..n).column(0).to_owned())
        .collect();
    for (k, inc) in incs.iter().enumerate() {
        let v = inc.mapv(|x| x * x).mean().unwrap();
        assert!(
            (v - dt).abs() < 5.0 * dt * (2.0 / cnt).sqrt(),
            "fine step {k}: E ΔW² = {v} vs {dt}"
        );
        assert!(inc.mean().unwrap().abs() < 5.0 * (dt / cnt).sqrt());
    }
    for k in 0..39 {
        let c = (&incs[k] * &incs[k + 1]).mean().unwrap();
        // E[ΔW_k ΔW_{k+1}] = 0; its estimate has standard error dt/√n.
        assert!(
            c.abs() < 5.0 * dt / cnt.sqrt(),
            "steps {k},{}: cov {c}",
            k + 1
        );
    }
    // Same seeds, same refinement; and a decreasing grid refines the same way.
    assert_eq!(
        coarse.refine(&fine_grid, 10).unwrap().values(),
        fine.values()
    );
    let back = WienerPath::sample(&TimeGrid::uniform(1.0, 0.0, 5).unwrap(), 3, 2, 1).unwrap();
    let back_fine = back
        .refine(&TimeGrid::uniform(1.0, 0.0, 15).unwrap(), 2)
        .unwrap();
    assert_eq!(
        back_fine.values().slice(s![15, .., ..]),
        back.values().slice(s![5, .., ..])
    );
}

#[test]
fn refinement_rejects_grids_that_do_not_contain_the_coarse_times() {
    let coarse = WienerPath::sample(&TimeGrid::uniform(0.0, 1.0, 4).unwrap(), 2, 1, 0).unwrap();
    let e = coarse
        .refine(&TimeGrid::uniform(0.0, 1.0, 6).unwrap(), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fine") && e.contains("0.25"), "{e}");
    assert!(coarse
        .refine(&TimeGrid::uniform(0.0, 2.0, 8).unwrap(), 0)
        .is_err());
    assert!(coarse
        .refine(&TimeGrid::uniform(1.0, 0.0, 8).unwrap(), 0)
        .is_err());
}

// ------------------------------------------------------------------ dx = A dW (seed 000 §1.3)

#[test]
fn density_score_and_reverse_drift_are_the_closed_forms() {
    let bm = CorrelatedBrownian::new(a_matrix()).unwrap();
    let t = 0.7;
    let x = array![[0.3, -1.2], [2.0, 0.5], [0.0, 0.0]];
    let cov = bm.covariance(t).unwrap();
    let prec = {
        let det = cov[[0, 0]] * cov[[1, 1]] - cov[[0, 1]] * cov[[1, 0]];
        array![[cov[[1, 1]], -cov[[0, 1]]], [-cov[[1, 0]], cov[[0, 0]]]] / det
    };
    let lp = bm.log_density(x.view(), t).unwrap();
    let s = bm.score(x.view(), t).unwrap();
    for i in 0..3 {
        let xi = x.row(i);
        let q = xi.dot(&prec.dot(&xi));
        let det = cov[[0, 0]] * cov[[1, 1]] - cov[[0, 1]].powi(2);
        let expect = -0.5 * q - (2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln();
        assert!(
            (lp[i] - expect).abs() < 1e-12,
            "log p: {} vs {expect}",
            lp[i]
        );
        // Score = gradient of log p: central differences.
        for j in 0..2 {
            let h = 1e-5;
            let mut xp = x.clone();
            xp[[i, j]] += h;
            let mut xm = x.clone();
            xm[[i, j]] -= h;
            let fd = (bm.log_density(xp.view(), t).unwrap()[i]
                - bm.log_density(xm.view(), t).unwrap()[i])
                / (2.0 * h);
            assert!(
                (s[[i, j]] - fd).abs() < 1e-7,
                "score[{i},{j}] {} vs {fd}",
                s[[i, j]]
            );
        }
    }
    // Seed 000 §1.3.3: the reverse drift −A Aᵀ ∇log p_t = x / t, whatever A.
    let reverse = bm.reverse_sde().unwrap();
    let drift = reverse.drift(x.view(), t).unwrap();
    assert!((drift - &x / t).iter().all(|v| v.abs() < 1e-12));
    // Seed 003 §3: the PF-ODE drift is x / 2t, and the closed-form flow map solves it.
    let pf = ProbabilityFlow::new(bm.clone(), bm.clone());
    assert!((pf.rhs(x.view(), t).unwrap() - &x / (2.0 * t))
        .iter()
        .all(|v| v.abs() < 1e-12));
    let h = 1e-6;
    let x_t = bm.flow_map(x.view(), 1.0, t).unwrap();
    let deriv = (bm.flow_map(x.view(), 1.0, t + h).unwrap()
        - bm.flow_map(x.view(), 1.0, t - h).unwrap())
        / (2.0 * h);
    assert!((deriv - pf.rhs(x_t.view(), t).unwrap())
        .iter()
        .all(|v| v.abs() < 1e-6));
    // Ellipse points lie on xᵀ(AAᵀt)⁻¹x = k².
    let e = bm.covariance_ellipse(t, 2.0, 50).unwrap();
    for r in e.rows() {
        assert!((r.dot(&prec.dot(&r)) - 4.0).abs() < 1e-10);
    }
}

#[test]
fn density_integrates_to_one_and_the_seed_normalisation_does_not() {
    // Erratum, seed 000 §1.3.2: with √((2π)^d |AAᵀ| t) the integral is t^{(d−1)/2}.
    let bm = CorrelatedBrownian::new(a_matrix()).unwrap();
    for t in [0.25_f64, 1.0, 3.0] {
        // ±8 standard deviations of the widest direction (its variance ≤ trace(A Aᵀ) t).
        let half = 8.0 * (bm.aat().diag().sum() * t).sqrt();
        let right = integrate_density_2d(|x| bm.log_density(x, t), half, 300).unwrap();
        let seed = integrate_density_2d(|x| bm.log_density_seed_000(x, t), half, 300).unwrap();
        assert!((right - 1.0).abs() < 1e-9, "t = {t}: ∫p = {right}");
        assert!((seed - t.sqrt()).abs() < 1e-9, "t = {t}: ∫p_seed = {seed}");
    }
    // In d = 1 the seed's factor is right.
    let one = CorrelatedBrownian::new(array![[0.7]]).unwrap();
    let x = array![[0.4]];
    assert_eq!(
        one.log_density(x.view(), 2.5).unwrap(),
        one.log_density_seed_000(x.view(), 2.5).unwrap()
    );
}

#[test]
fn forward_particles_have_covariance_aat_t() {
    let bm = CorrelatedBrownian::new(a_matrix()).unwrap();
    let n = 4000;
    let grid = TimeGrid::uniform(0.0, 1.0, 100).unwrap();
    let x0 = Array2::zeros((n, 2));
    // Euler–Maruyama is exact in law for dx = A dW: no bias term.
    let sol = EulerMaruyama
        .solve(&bm, x0.view(), &grid, Noise::Seed(21), Record::Every(25))
        .unwrap();
    for (t, x) in sol.times.iter().zip(&sol.states).skip(1) {
        assert_covariance(
            x,
            &bm.covariance(*t).unwrap(),
            0.0,
            &format!("forward t = {t}"),
        );
        assert_whitened(
            x,
            &bm.covariance(*t).unwrap(),
            0.0,
            &format!("forward t = {t}"),
        );
    }
    // The exact sampler agrees too.
    let xs = bm.sample(n, 0.6, 4).unwrap();
    assert_covariance(&xs, &bm.covariance(0.6).unwrap(), 0.0, "exact sample");
}

#[test]
fn reverse_run_shrinks_the_covariance_along_aat_t() {
    let bm = CorrelatedBrownian::new(a_matrix()).unwrap();
    // n = 10 000 so that the whitened check resolves a 5 % error in the score (it moves the
    // variance at ε by ≈ 8 %; 5 standard errors of q are 5 %).
    let n = 10_000;
    let (t_end, eps, steps) = (1.0, 0.1, 1800);
    let x_t = bm.sample(n, t_end, 31).unwrap();
    let reverse = bm.reverse_sde().unwrap();
    let grid = TimeGrid::uniform(t_end, eps, steps).unwrap();
    let sol: Solution = EulerMaruyama
        .solve(
            &reverse,
            x_t.view(),
            &grid,
            Noise::Seed(32),
            Record::Every(360),
        )
        .unwrap();
    // Euler–Maruyama's relative covariance bias for the drift x/t is e(t) ≈ h/(2t) at time t
    // (from the recursion e' = (1 − h/t) e + h²/t², h = |Δt|): at most h/(2ε) = 0.25 % here; allow
    // twice that.
    let h = (t_end - eps) / steps as f64;
    let bias = h / eps;
    let mut last_det = f64::INFINITY;
    for (t, x) in sol.times.iter().zip(&sol.states) {
        let target = bm.covariance(*t).unwrap();
        assert_covariance(x, &target, bias, &format!("reverse t = {t}"));
        assert_whitened(x, &target, bias, &format!("reverse t = {t}"));
        let s = sample_covariance(x.view()).unwrap();
        let det = s[[0, 0]] * s[[1, 1]] - s[[0, 1]].powi(2);
        assert!(
            det < last_det,
            "the cloud must shrink as t decreases (t = {t})"
        );
        last_det = det;
    }
    assert!((sol.times.last().unwrap() - eps).abs() < 1e-12);
}

// --------------------------------------------------------------- Ornstein–Uhlenbeck and GBM

#[test]
fn ou_exact_transitions_and_euler_maruyama_match_the_closed_form() {
    let ou = Ou::new(1.5, 0.8, 0.6).unwrap();
    let n = 20_000;
    let (m0, v0) = (-1.0, 0.09_f64);
    let mut rng = rng::seeded(2);
    let start = rng::normals(&mut rng, n, 1) * v0.sqrt() + m0;
    // Exact transitions in 5 big steps of 0.4: no discretisation error at all.
    let mut x = start.clone();
    for k in 1..=5 {
        x = ou.sample_transition(x.view(), 0.4, &mut rng).unwrap();
        let (m, v) = ou.marginal(m0, v0, 0.4 * k as f64).unwrap();
        let (em, ev) = (x.mean().unwrap(), x.var(0.0));
        assert!(
            (em - m).abs() < 5.0 * (v / n as f64).sqrt(),
            "k {k}: mean {em} vs {m}"
        );
        assert!(
            (ev - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(),
            "k {k}: var {ev} vs {v}"
        );
    }
    // Close to stationary after t = 2 (e^{−2θt} ≈ 2.5e-3).
    let (ms, vs) = ou.stationary().unwrap();
    assert!((ou.marginal(m0, v0, 50.0).unwrap().1 - vs).abs() < 1e-12);
    assert_eq!(ou.marginal(m0, v0, 50.0).unwrap().0, ms);
    // Euler–Maruyama with dt = 0.002: its variance recursion has relative bias ≈ θ dt/2 = 0.15 %.
    let grid = TimeGrid::uniform(0.0, 2.0, 1000).unwrap();
    let em = EulerMaruyama
        .solve(&ou, start.view(), &grid, Noise::Seed(3), Record::Final)
        .unwrap();
    let (m, v) = ou.marginal(m0, v0, 2.0).unwrap();
    let x = em.last();
    assert!((x.mean().unwrap() - m).abs() < 5.0 * (v / n as f64).sqrt() + 0.002);
    assert!((x.var(0.0) - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt() + 0.003 * v);
}

#[test]
fn ou_marginal_mixture_moves_each_component() {
    let ou = Ou::new(2.0, 0.5, 1.0).unwrap();
    let p0 = GaussianMixture::two_modes_1d();
    let pt = ou.marginal_mixture(&p0, 0.3).unwrap();
    for k in 0..2 {
        let (m, v) = ou
            .marginal(p0.means()[[k, 0]], p0.covs()[k][[0, 0]], 0.3)
            .unwrap();
        assert!((pt.means()[[k, 0]] - m).abs() < 1e-14);
        assert!((pt.covs()[k][[0, 0]] - v).abs() < 1e-14);
    }
}

#[test]
fn gbm_exact_solution_has_the_log_normal_law() {
    let gbm = Gbm::new(0.4, 0.5).unwrap();
    let n = 20_000;
    let t = 1.0;
    let grid = TimeGrid::uniform(0.0, t, 200).unwrap();
    let w = WienerPath::sample(&grid, n, 1, 5).unwrap();
    let w_t = w.values().slice(s![200, .., ..]).to_owned();
    let x0 = Array2::from_elem((n, 1), 2.0);
    let x = gbm.exact_solution(x0.view(), t, w_t.view()).unwrap();
    // log x(t) ~ N(log x0 + (μ − σ²/2) t, σ² t).
    let lx = x.mapv(f64::ln);
    let (m, v) = (2.0_f64.ln() + (0.4 - 0.125) * t, 0.25 * t);
    assert!((lx.mean().unwrap() - m).abs() < 5.0 * (v / n as f64).sqrt());
    assert!((lx.var(0.0) - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt());
    let (mean, var) = gbm.moments(2.0, t).unwrap();
    assert!((x.mean().unwrap() - mean).abs() < 5.0 * (var / n as f64).sqrt());
    // Euler–Maruyama on the same path lands near the exact solution (strong error O(√dt)):
    // E|X_EM − X| ≤ C √dt with C ≈ σ x0 e^{μ}·… — here a loose 0.1.
    let em = EulerMaruyama
        .solve(&gbm, x0.view(), &grid, Noise::Path(&w), Record::Final)
        .unwrap();
    let strong = (em.last() - &x).mapv(f64::abs).mean().unwrap();
    assert!(strong < 0.1, "strong error {strong}");
    assert_eq!(
        gbm.diffusion_derivative(x0.view(), 0.0).unwrap().unwrap()[[3, 0]],
        0.5
    );
    assert!(!gbm.diffusion(x0.view(), 0.0).unwrap().is_additive());
}

// ------------------------------------------------------------------------------- bad input

#[test]
fn bad_input_is_a_clear_error() {
    let msg = |r: diffusion_sde::Result<_>| -> String {
        match r {
            Ok::<(), _>(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    };
    // Non-square and non-finite A.
    let e = CorrelatedBrownian::new(Array2::zeros((2, 3)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`A`") && e.contains("2×3"), "{e}");
    assert!(CorrelatedBrownian::new(array![[1.0, f64::NAN], [0.0, 1.0]]).is_err());
    // Singular A: simulation is fine, a density or score is an error.
    let singular = CorrelatedBrownian::new(array![[1.0, 2.0], [0.5, 1.0]]).unwrap();
    assert!(singular.sample(10, 1.0, 0).is_ok());
    let x = array![[0.1, 0.2]];
    let e = msg(singular.log_density(x.view(), 1.0).map(|_| ()));
    assert!(e.contains("A Aᵀ") && e.contains("positive definite"), "{e}");
    assert!(singular.score(x.view(), 1.0).is_err());
    assert!(singular.reverse_sde().is_err());
    // t ≤ 0: no density, singular score.
    let bm = CorrelatedBrownian::new(a_matrix()).unwrap();
    for t in [0.0, -1.0, f64::NAN] {
        let e = msg(bm.score(x.view(), t).map(|_| ()));
        assert!(e.contains("`t`"), "{e}");
        assert!(bm.log_density(x.view(), t).is_err());
    }
    assert!(bm.covariance(-0.1).is_err());
    assert!(bm.flow_map(x.view(), 0.0, 1.0).is_err());
    // Mismatched dimensions and non-finite states.
    let x3 = array![[0.1, 0.2, 0.3]];
    let e = msg(bm.score(x3.view(), 1.0).map(|_| ()));
    assert!(e.contains("3 columns"), "{e}");
    assert!(bm.drift(x3.view(), 1.0).is_err());
    assert!(bm.log_density(x3.view(), 1.0).is_err());
    assert!(bm.score(array![[f64::INFINITY, 0.0]].view(), 1.0).is_err());
    assert!(bm.covariance_ellipse(1.0, -1.0, 10).is_err());
    // OU and GBM parameters.
    let e = Ou::new(0.0, 0.0, 1.0).unwrap_err().to_string();
    assert!(e.contains("theta"), "{e}");
    assert!(Ou::new(1.0, f64::NAN, 1.0).is_err());
    let bad_ou = Ou {
        theta: 1.0,
        mu: 0.0,
        sigma: -1.0,
    };
    assert!(bad_ou.drift(x.view(), 0.0).is_err());
    assert!(Ou::new(1.0, 0.0, 1.0)
        .unwrap()
        .marginal(0.0, -1.0, 1.0)
        .is_err());
    let e = Gbm::new(0.1, f64::NAN).unwrap_err().to_string();
    assert!(e.contains("sigma"), "{e}");
    let gbm = Gbm::new(0.1, 0.2).unwrap();
    let e = msg(gbm.exact_solution(x.view(), 1.0, x3.view()).map(|_| ()));
    assert!(e.contains("shape"), "{e}");
    assert!(gbm.exact_solution(x.view(), -1.0, x.view()).is_err());
    // Wiener and quadrature.
    let grid = TimeGrid::uniform(0.0, 1.0, 3).unwrap();
    assert!(WienerPath::sample(&grid, 0, 1, 0).is_err());
    assert!(integrate_density_2d(|x| bm.log_density(x, 1.0), 0.0, 10).is_err());
    assert!(sample_covariance(array![[1.0, 2.0]].view()).is_err());
}
