//! The quickstart's claims (notebooks/00_quickstart.ipynb), checked by simulation.

use diffusion_sde::prelude::*;
use diffusion_sde::solvers::driver::CHUNK_ROWS;

/// Mean and variance of a 1-D sample.
fn moments(x: &Array2<f64>) -> (f64, f64) {
    (x.mean().unwrap(), x.var(0.0))
}

/// The Kolmogorov–Smirnov distance between a 1-D sample and a 1-D mixture.
fn ks_distance(x: &Array2<f64>, law: &GaussianMixture) -> f64 {
    let mut v: Vec<f64> = x.iter().copied().collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &xi)| {
            let f = law.cdf_1d(xi).unwrap();
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

/// Seed 000 §2.2.1 / seed 001 §3.3: Euler–Maruyama paths of the VP SDE from mixture data have,
/// at each t, the mean and variance of the closed-form marginal Σ w_k N(α μ_k, α² s_k² + σ²).
#[test]
fn vp_sde_particles_match_the_closed_form_marginal() {
    let sde = VpSde::default();
    let data = GaussianMixture::two_modes_1d();
    let n = 20_000;
    let x0 = data.sample(n, 11);
    let grid = TimeGrid::uniform(0.0, 1.0, 1000).unwrap();
    let sol = EulerMaruyama
        .solve(&sde, x0.view(), &grid, Noise::Seed(12), Record::Every(100))
        .unwrap();
    let marginal = MixtureMarginal::new(sde, data);
    for (t, x) in sol.times.iter().zip(&sol.states).skip(1) {
        let p_t = marginal.at(*t).unwrap();
        let (m, v) = (p_t.mean()[0], p_t.covariance()[[0, 0]]);
        let (em, ev) = moments(x);
        // Standard errors of the sample mean and variance (kurtosis ≤ 3 for these mixtures:
        // Var(s²) ≤ 2 v² / n), 5 of each, plus Euler–Maruyama's weak bias on the variance,
        // about dt/8 ∫β² ≈ 2 % here (allow 3 %).
        let tol_m = 5.0 * (v / n as f64).sqrt();
        let tol_v = 5.0 * v * (2.0 / n as f64).sqrt() + 0.03 * v;
        assert!(
            (em - m).abs() < tol_m,
            "t = {t}: mean {em} vs {m} (tol {tol_m})"
        );
        assert!(
            (ev - v).abs() < tol_v,
            "t = {t}: var {ev} vs {v} (tol {tol_v})"
        );
        // The whole law: KS distance below its 0.1 % critical value 1.95/√n plus 0.01 for the bias.
        let ks = ks_distance(x, &p_t);
        assert!(
            ks < 1.95 / (n as f64).sqrt() + 0.01,
            "t = {t}: KS distance {ks}"
        );
    }
}

/// The reverse SDE with the exact mixture score turns N(0, 1) back into the data (seed 000 §1.2).
#[test]
fn reverse_sde_with_the_exact_score_recovers_the_data() {
    let sde = VpSde::default();
    let data = GaussianMixture::two_modes_1d();
    let n = 20_000;
    let prior = sde.prior_sample(n, 1, &mut rng::seeded(5));
    let reverse = ReverseSde::new(sde, MixtureMarginal::new(sde, data.clone()));
    let grid = TimeGrid::uniform(1.0, 1e-3, 1000).unwrap();
    let x = EulerMaruyama
        .solve(&reverse, prior.view(), &grid, Noise::Seed(6), Record::Final)
        .unwrap();
    let (em, ev) = moments(x.last());
    let (m, v) = (data.mean()[0], data.covariance()[[0, 0]]);
    assert!(
        (em - m).abs() < 5.0 * (v / n as f64).sqrt() + 0.02,
        "mean {em} vs {m}"
    );
    assert!((ev - v).abs() < 0.05 * v, "var {ev} vs {v}");
    // The mode weights: fraction of particles right of 0 is 0.6 ± 5 binomial standard errors.
    let right = x.last().iter().filter(|&&v| v > 0.0).count() as f64 / n as f64;
    assert!(
        (right - 0.6).abs() < 5.0 * (0.24 / n as f64).sqrt() + 0.01,
        "right-mode weight {right}"
    );
}

#[test]
fn same_seed_same_numbers_whatever_the_thread_count() {
    let sde = VpSde::default();
    let x0 = GaussianMixture::two_modes_1d().sample(3 * CHUNK_ROWS + 17, 1);
    let grid = TimeGrid::uniform(0.0, 1.0, 50).unwrap();
    let run = |threads: usize, seed: u64| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                EulerMaruyama
                    .solve(&sde, x0.view(), &grid, Noise::Seed(seed), Record::Final)
                    .unwrap()
                    .last()
                    .clone()
            })
    };
    let a = run(1, 9);
    assert_eq!(a, run(2, 9));
    assert_ne!(a, run(2, 10));
}

#[test]
fn a_given_wiener_path_drives_the_solve() {
    // dx = 2 dW: Euler–Maruyama is exact, x(t) = x0 + 2 W(t).
    struct Scaled;
    impl Sde for Scaled {
        fn drift(&self, x: ArrayView2<f64>, _t: f64) -> Result<Array2<f64>> {
            Ok(Array2::zeros(x.dim()))
        }
        fn diffusion(&self, _x: ArrayView2<f64>, _t: f64) -> Result<Diffusion> {
            Ok(Diffusion::Scalar(2.0))
        }
    }
    let grid = TimeGrid::uniform(0.0, 1.0, 64).unwrap();
    let path = diffusion_sde::sde_basics::wiener::WienerPath::sample(&grid, 5, 2, 3).unwrap();
    let x0 = Array2::<f64>::ones((5, 2));
    let sol = EulerMaruyama
        .solve(&Scaled, x0.view(), &grid, Noise::Path(&path), Record::Final)
        .unwrap();
    let expected = &x0 + &(path.values().slice(s![64, .., ..]).to_owned() * 2.0);
    assert!((sol.last() - &expected).iter().all(|v| v.abs() < 1e-12));
    // A path on another grid is refused.
    let other = TimeGrid::uniform(0.0, 1.0, 32).unwrap();
    assert!(EulerMaruyama
        .solve(
            &Scaled,
            x0.view(),
            &other,
            Noise::Path(&path),
            Record::Final
        )
        .is_err());
}

#[test]
fn bad_input_is_a_clear_error() {
    let e = VpSde::new(-0.1, 20.0).unwrap_err().to_string();
    assert!(e.contains("beta_min") && e.contains("-0.1"), "{e}");
    assert!(VpSde::new(5.0, 1.0).is_err());
    let sde = VpSde::default();
    let x = array![[0.0]];
    let e = sde.drift(x.view(), 1.5).unwrap_err().to_string();
    assert!(e.contains("1.5"), "{e}");
    let nan = array![[f64::NAN]];
    let grid = TimeGrid::uniform(0.0, 1.0, 10).unwrap();
    assert!(EulerMaruyama
        .solve(&sde, nan.view(), &grid, Noise::Seed(0), Record::Final)
        .is_err());
    // An unstable solve stops with the step named instead of returning NaNs.
    let blow_up = ScoreFn(|x: ArrayView2<f64>, _t: f64| Ok(&x * 1e200));
    let reverse = ReverseSde::new(sde, blow_up);
    let grid = TimeGrid::uniform(1.0, 1e-3, 10).unwrap();
    let e = EulerMaruyama
        .solve(
            &reverse,
            array![[1.0]].view(),
            &grid,
            Noise::Seed(0),
            Record::Final,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("step"), "{e}");
}
