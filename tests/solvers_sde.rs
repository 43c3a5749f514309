//! Chapter 2's SDE claims (notebooks/02_numerical_solvers.ipynb, seed 000 §2.1.2, §2.2.1),
//! checked path by path against exact solutions.
//!
//! Tolerances on fitted orders follow from the path count. Every step size runs on the same
//! 10 000 Brownian paths; the bootstrap over paths gives the Monte-Carlo standard error `se`
//! of each fitted order. A test asserts `|p̂ − p| ≤ 0.2` (the ±0.2 of the established SDE
//! libraries' order tests) *and* `se ≤ 0.05`, so the window is at least 4 standard errors:
//! a correct scheme fails by chance with probability < 1e-4, and a scheme half an order off
//! (Euler–Maruyama passed off as Milstein, say) cannot pass.

use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::wiener::WienerPath;
use diffusion_sde::solvers::convergence::{sde_ladder, Ladder, SdeLadder};
use diffusion_sde::solvers::linear_exact::{forward_exact, Gbm, OrnsteinUhlenbeck};
use diffusion_sde::solvers::sde::solve;
use diffusion_sde::solvers::{Milstein, MilsteinAsWritten, StochasticHeun};

const PATHS: usize = 10_000;
const FINE_STEPS: usize = 1024;
/// h = 2⁻⁴ … 2⁻¹⁰ on [0, 1]: the ladder of the convergence study the baselines were first measured with.
const FACTORS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

fn assert_order(l: &Ladder, expected: f64) {
    assert!(
        l.fit.stderr <= 0.05,
        "{}: bootstrap se {:.3} too large for a ±0.2 test",
        l.name,
        l.fit.stderr
    );
    assert!(
        (l.fit.order - expected).abs() <= 0.2,
        "{}: order {:.3} [{:.3}, {:.3}], expected {expected}; errors {:?}",
        l.name,
        l.fit.order,
        l.fit.low,
        l.fit.high,
        l.error
    );
}

/// GBM dX = μX dt + σX dW, X0 = 1, on [0, 1], paths on the finest grid, and the exact X(1).
fn gbm_setup(mu: f64, sigma: f64, seed: u64) -> (Gbm, Array2<f64>, WienerPath, Array2<f64>) {
    let gbm = Gbm::new(mu, sigma).unwrap();
    let grid = TimeGrid::uniform(0.0, 1.0, FINE_STEPS).unwrap();
    let fine = WienerPath::sample(&grid, PATHS, 1, seed).unwrap();
    let x0 = Array2::from_elem((PATHS, 1), 1.0);
    let exact = gbm.solution(x0.view(), &fine, FINE_STEPS).unwrap();
    (gbm, x0, fine, exact)
}

/// OU dX = −X dt + dW from X0 = 1 on [0, 1], with the exact X(1) drawn jointly with the paths.
fn ou_setup(seed: u64) -> (OrnsteinUhlenbeck, Array2<f64>, WienerPath, Array2<f64>) {
    let ou = OrnsteinUhlenbeck::new(1.0, 1.0).unwrap();
    let grid = TimeGrid::uniform(0.0, 1.0, FINE_STEPS).unwrap();
    let x0 = Array2::from_elem((PATHS, 1), 1.0);
    let (fine, exact) = ou.sample_exact(x0.view(), &grid, seed).unwrap();
    (ou, x0, fine, exact)
}

fn ladder(
    scheme: &(impl SdeScheme + ?Sized),
    sde: &dyn Sde,
    (x0, fine, exact): (&Array2<f64>, &WienerPath, &Array2<f64>),
) -> SdeLadder {
    sde_ladder(scheme, sde, x0.view(), fine, exact.view(), &FACTORS, 200, 9).unwrap()
}

/// Seed 000 §2.1.2: Euler–Maruyama has strong order ½ and weak order 1; Milstein strong
/// order 1 — on geometric Brownian motion μ = 2, σ = 1.
#[test]
fn euler_maruyama_and_milstein_orders_on_gbm() {
    let (gbm, x0, fine, exact) = gbm_setup(2.0, 1.0, 1);
    let em = ladder(&EulerMaruyama, &gbm, (&x0, &fine, &exact));
    assert_order(&em.strong, 0.5);
    assert_order(&em.weak, 1.0);
    let mil = ladder(&Milstein, &gbm, (&x0, &fine, &exact));
    assert_order(&mil.strong, 1.0);
    // The orders the schemes declare are the ones measured (multiplicative noise).
    assert_order(&em.strong, SdeScheme::<f64>::strong_order(&EulerMaruyama));
    assert_order(&em.weak, SdeScheme::<f64>::weak_order(&EulerMaruyama));
    assert_order(&mil.strong, Milstein.strong_order());
    // Milstein is more accurate path by path at every step size.
    for (m, e) in mil.strong.error.iter().zip(&em.strong.error) {
        assert!(m < e);
    }
}

/// The seed's stochastic Runge–Kutta (stochastic Heun) has strong order 1 on additive noise
/// (Ornstein–Uhlenbeck, exact solution drawn jointly with the paths). Euler–Maruyama is also
/// strong order 1 for additive noise, with a larger error constant.
#[test]
fn stochastic_heun_is_strong_order_one_on_additive_noise() {
    let (ou, x0, fine, exact) = ou_setup(3);
    let heun = ladder(&StochasticHeun, &ou, (&x0, &fine, &exact));
    assert_order(&heun.strong, 1.0);
    assert_order(&heun.strong, StochasticHeun.strong_order());
    let em = ladder(&EulerMaruyama, &ou, (&x0, &fine, &exact));
    assert_order(&em.strong, 1.0);
    for (h, e) in heun.strong.error.iter().zip(&em.strong.error) {
        assert!(h < e, "Heun {h} vs EM {e}");
    }
}

/// Erratum to seed 000 §2.1.2: the printed Milstein correction ½ G Gᵀ[(ΔW)² − h] is wrong.
/// For additive noise (OU) the right correction vanishes, but the printed one adds noise of
/// size O(h) per step: its strong order drops from 1 to ½ and at h = 2⁻¹⁰ its error is more
/// than 10× Milstein's. On GBM (μ = σ = ½) it also falls back to order ½.
#[test]
fn the_seeds_milstein_formula_loses_an_order() {
    let (ou, x0, fine, exact) = ou_setup(4);
    let right = ladder(&Milstein, &ou, (&x0, &fine, &exact));
    let seed = ladder(&MilsteinAsWritten, &ou, (&x0, &fine, &exact));
    assert_order(&right.strong, 1.0);
    assert_order(&seed.strong, 0.5);
    let last = FACTORS.len() - 1;
    assert!(seed.strong.error[last] > 10.0 * right.strong.error[last]);

    let (gbm, x0, fine, exact) = gbm_setup(0.5, 0.5, 5);
    let right = ladder(&Milstein, &gbm, (&x0, &fine, &exact));
    let seed = ladder(&MilsteinAsWritten, &gbm, (&x0, &fine, &exact));
    assert_order(&right.strong, 1.0);
    assert_order(&seed.strong, 0.5);
    assert_order(&seed.strong, MilsteinAsWritten.strong_order());
    assert!(seed.strong.error[last] > 5.0 * right.strong.error[last]);

    // On GBM μ = 2, σ = 1 its correction ½σ²x²((ΔW)² − h) grows quadratically in x: at
    // h = 1/32 some of the 10 000 paths overflow, where Milstein's stay finite.
    let (gbm, x0, fine, _) = gbm_setup(2.0, 1.0, 1);
    let coarse = fine.coarsen(32).unwrap();
    let run = |s: &dyn SdeScheme| {
        solve(
            s,
            &gbm,
            x0.view(),
            coarse.grid(),
            Noise::Path(&coarse),
            Record::Final,
        )
    };
    assert!(run(&Milstein).is_ok());
    let e = run(&MilsteinAsWritten).unwrap_err().to_string();
    assert!(e.contains("finite range"), "{e}");
}

/// Seed 000 §2.2.1: Euler–Maruyama on the VP SDE has a step-size bias that exact simulation
/// does not. From x0 = 2 to t = 1, EM's variance recursion v ← (1 − βh/2)² v + βh overshoots
/// σ(1)² ≈ 1 at 10 steps (by more than 0.3) and is within 3 % at 1000 steps; the exact
/// transition is right at any step count (within 5 standard errors, √(2/n) relative).
#[test]
fn vp_euler_maruyama_variance_bias_versus_exact_simulation() {
    let sde = VpSde::default();
    let n = 20_000;
    let x0 = Array2::from_elem((n, 1), 2.0);
    let (_, s) = sde.marginal_mean_std(1.0).unwrap();
    let var_em = |steps| {
        let grid = TimeGrid::uniform(0.0, 1.0, steps).unwrap();
        EulerMaruyama
            .solve(&sde, x0.view(), &grid, Noise::Seed(3), Record::Final)
            .unwrap()
            .last()
            .var(0.0)
    };
    let se = s * s * (2.0 / n as f64).sqrt();
    assert!(var_em(10) - s * s > 0.3, "EM 10 steps: {}", var_em(10));
    assert!((var_em(1000) - s * s).abs() < 0.03 + 5.0 * se);
    let grid = TimeGrid::uniform(0.0, 1.0, 10).unwrap();
    let exact = forward_exact(&sde, x0.view(), &grid, 3, Record::Final).unwrap();
    assert!((exact.last().var(0.0) - s * s).abs() < 5.0 * se);
}

/// Seed 000 §2.2.2–§2.2.3: the same solvers sample the appendix mixture from N(0, I) with its
/// exact score — the reverse SDE with Euler–Maruyama (500 steps) and the PF-ODE with adaptive
/// Dormand–Prince — and reproduce its mean and standard deviation. Tolerance: 5 standard
/// errors of each sample moment (sd/√n and sd/√(2n)) plus 0.02 for the discretisation bias.
#[test]
fn reverse_sde_and_pf_ode_sample_the_mixture() {
    use diffusion_sde::solvers::{dormand_prince, AdaptiveOptions};
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let score = MixtureMarginal::new(sde, data.clone());
    let n = 4000;
    let prior = sde.prior_sample(n, 2, &mut diffusion_sde::rng::seeded(21));
    let grid = TimeGrid::uniform(1.0, 1e-3, 500).unwrap();
    let rev = EulerMaruyama
        .solve(
            &ReverseSde::new(sde, score.clone()),
            prior.view(),
            &grid,
            Noise::Seed(22),
            Record::Final,
        )
        .unwrap();
    let pf = dormand_prince(
        &ProbabilityFlow::new(sde, score),
        prior.view(),
        1.0,
        1e-3,
        AdaptiveOptions {
            rtol: 1e-6,
            atol: 1e-6,
            ..Default::default()
        },
    )
    .unwrap();
    let (mean, cov) = (data.mean(), data.covariance());
    for (name, x) in [("reverse SDE", rev.last()), ("PF-ODE", pf.last())] {
        let m = x.mean_axis(ndarray::Axis(0)).unwrap();
        let sd = x.std_axis(ndarray::Axis(0), 0.0);
        for j in 0..2 {
            let true_sd = cov[[j, j]].sqrt();
            let tol_m = 5.0 * true_sd / (n as f64).sqrt() + 0.02;
            let tol_s = 5.0 * true_sd / (2.0 * n as f64).sqrt() + 0.02;
            assert!(
                (m[j] - mean[j]).abs() < tol_m,
                "{name} mean[{j}] {} vs {}",
                m[j],
                mean[j]
            );
            assert!(
                (sd[j] - true_sd).abs() < tol_s,
                "{name} sd[{j}] {} vs {true_sd}",
                sd[j]
            );
        }
    }
}

/// For additive noise Milstein's correction vanishes: it *is* Euler–Maruyama, number for number.
#[test]
fn milstein_equals_euler_maruyama_for_additive_noise() {
    let (ou, x0, fine, _) = ou_setup(6);
    let coarse = fine.coarsen(16).unwrap();
    let run = |s: &dyn SdeScheme| {
        solve(
            s,
            &ou,
            x0.view(),
            coarse.grid(),
            Noise::Path(&coarse),
            Record::Final,
        )
        .unwrap()
        .last()
        .clone()
    };
    assert_eq!(run(&Milstein), run(&EulerMaruyama));
}

/// One set of paths on several grids: coarse increments are sums of fine ones, and the
/// factor-1 coarsening is the fine path itself.
#[test]
fn coarsened_paths_sum_the_fine_increments() {
    let grid = TimeGrid::uniform(0.0, 2.0, 12).unwrap();
    let fine = WienerPath::sample(&grid, 5, 2, 8).unwrap();
    let coarse = fine.coarsen(4).unwrap();
    assert_eq!(coarse.grid().steps(), 3);
    assert_eq!(coarse.grid().times()[1], grid.times()[4]);
    for k in 0..3 {
        let mut sum = Array2::<f64>::zeros((5, 2));
        for j in 0..4 {
            sum += &fine.increment(4 * k + j, 0..5);
        }
        let dw = coarse.increment(k, 0..5);
        assert!((&dw - &sum).iter().all(|v| v.abs() < 1e-12));
    }
    assert_eq!(fine.coarsen(1).unwrap().values(), fine.values());
    assert!(fine.coarsen(5).unwrap_err().to_string().contains("factor"));
    assert!(fine.coarsen(0).is_err());
    let rebuilt = WienerPath::from_increments(
        &grid,
        ndarray::Array3::from_shape_fn((12, 5, 2), |(k, i, j)| {
            fine.values()[[k + 1, i, j]] - fine.values()[[k, i, j]]
        }),
    )
    .unwrap();
    assert!((rebuilt.values() - fine.values())
        .iter()
        .all(|v| v.abs() < 1e-12));
    assert!(WienerPath::from_increments(&grid, ndarray::Array3::zeros((11, 5, 2))).is_err());
}

/// Seed 000 §2.2.1: exact simulation has no step-size error. One exact step of the VP SDE
/// reproduces the kernel N(α x0, σ² I); the OU sampler's X(1) has the OU law; GBM's exact
/// solution has mean X0 e^{μT}. Tolerances: 5 standard errors of the sample mean/variance
/// (Var(s²) = 2σ⁴/n for Gaussian samples; for the lognormal, Var(X) = e^{2μ}(e^{σ²} − 1)).
#[test]
fn exact_linear_solutions_have_their_laws() {
    let n = PATHS as f64;
    let sde = VpSde::default();
    let x0 = Array2::from_elem((PATHS, 1), 2.0);
    let grid = TimeGrid::uniform(0.0, 0.3, 1).unwrap();
    let x = forward_exact(&sde, x0.view(), &grid, 1, Record::Final).unwrap();
    let (a, s) = sde.marginal_mean_std(0.3).unwrap();
    let (m, v) = (x.last().mean().unwrap(), x.last().var(0.0));
    assert!(
        (m - 2.0 * a).abs() < 5.0 * s / n.sqrt(),
        "{m} vs {}",
        2.0 * a
    );
    assert!(
        (v - s * s).abs() < 5.0 * s * s * (2.0 / n).sqrt(),
        "{v} vs {}",
        s * s
    );
    // Many exact steps give the same law as one.
    let many = forward_exact(
        &sde,
        x0.view(),
        &TimeGrid::uniform(0.0, 0.3, 50).unwrap(),
        2,
        Record::Every(10),
    )
    .unwrap();
    assert_eq!(many.states.len(), 6);
    let (m, v) = (many.last().mean().unwrap(), many.last().var(0.0));
    assert!((m - 2.0 * a).abs() < 5.0 * s / n.sqrt());
    assert!((v - s * s).abs() < 5.0 * s * s * (2.0 / n).sqrt());

    let (_, _, _, x1) = ou_setup(7);
    let (mean, var) = ((-1.0f64).exp(), (1.0 - (-2.0f64).exp()) / 2.0);
    let (m, v) = (x1.mean().unwrap(), x1.var(0.0));
    assert!(
        (m - mean).abs() < 5.0 * (var / n).sqrt(),
        "OU mean {m} vs {mean}"
    );
    assert!(
        (v - var).abs() < 5.0 * var * (2.0 / n).sqrt(),
        "OU var {v} vs {var}"
    );

    let (gbm, x0, fine, exact) = gbm_setup(0.5, 0.5, 8);
    assert_eq!(gbm.solution(x0.view(), &fine, 0).unwrap(), x0);
    let sd = (1.0f64.exp() * (0.25f64.exp() - 1.0)).sqrt();
    let m = exact.mean().unwrap();
    assert!(
        (m - gbm.moments(1.0, 1.0).unwrap().0).abs() < 5.0 * sd / n.sqrt(),
        "GBM mean {m}"
    );
}

/// Seed 000 §2.4.2: the loop keeps only what is asked for.
#[test]
fn solves_keep_only_the_recorded_states() {
    let (gbm, x0, fine, _) = gbm_setup(0.5, 0.5, 10);
    let coarse = fine.coarsen(64).unwrap();
    let sol = solve(
        &Milstein,
        &gbm,
        x0.view(),
        coarse.grid(),
        Noise::Path(&coarse),
        Record::Final,
    )
    .unwrap();
    assert_eq!(sol.states.len(), 1);
    assert_eq!(sol.times, vec![1.0]);
    let sol = StochasticHeun
        .solve(
            &OrnsteinUhlenbeck::new(1.0, 0.5).unwrap(),
            x0.view(),
            coarse.grid(),
            Noise::Seed(1),
            Record::Every(4),
        )
        .unwrap();
    assert_eq!(sol.states.len(), 5);
    assert_eq!(sol.nfe, 2 * 16);
}

/// Diagonal-noise SDE without the derivative Milstein needs.
struct NoDerivative;

impl Sde for NoDerivative {
    fn drift(&self, x: ArrayView2<f64>, _t: f64) -> diffusion_sde::Result<Array2<f64>> {
        Ok(x.to_owned())
    }
    fn diffusion(&self, x: ArrayView2<f64>, _t: f64) -> diffusion_sde::Result<Diffusion> {
        Ok(Diffusion::Diagonal(x.to_owned()))
    }
}

/// Bad input: clear errors naming what is wrong.
#[test]
fn bad_input_is_an_error() {
    let grid = TimeGrid::uniform(0.0, 1.0, 8).unwrap();
    let x0 = Array2::from_elem((4, 1), 1.0);
    let e = Milstein
        .solve(
            &NoDerivative,
            x0.view(),
            &grid,
            Noise::Seed(0),
            Record::Final,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("diffusion_derivative"), "{e}");
    let e = StochasticHeun
        .solve(
            &Gbm::new(1.0, 1.0).unwrap(),
            x0.view(),
            &grid,
            Noise::Seed(0),
            Record::Final,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("Stratonovich"), "{e}");
    assert!(Gbm::new(f64::NAN, 1.0)
        .unwrap_err()
        .to_string()
        .contains("mu"));
    assert!(Gbm::new(1.0, 0.0)
        .unwrap_err()
        .to_string()
        .contains("sigma"));
    assert!(OrnsteinUhlenbeck::new(-1.0, 1.0)
        .unwrap_err()
        .to_string()
        .contains("theta"));

    let (gbm, x0, fine, exact) = gbm_setup(0.5, 0.5, 11);
    let bad = |f: &[usize], b: usize| {
        sde_ladder(
            &EulerMaruyama,
            &gbm,
            x0.view(),
            &fine,
            exact.view(),
            f,
            b,
            0,
        )
    };
    assert!(bad(&[4, 2], 5)
        .unwrap_err()
        .to_string()
        .contains("bootstrap"));
    assert!(bad(&[4], 100).is_err());
    assert!(bad(&[3, 1], 100)
        .unwrap_err()
        .to_string()
        .contains("factor"));
    let back = TimeGrid::uniform(1.0, 0.0, 4).unwrap();
    assert!(forward_exact(&VpSde::default(), x0.view(), &back, 0, Record::Final).is_err());
}
