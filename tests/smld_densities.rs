//! Analytic densities and their scores (seed 000 §3.1.1): Gaussians with any covariance and
//! Gaussian mixtures in 1-D and 2-D, also pushed through the VE and VP SDEs to time t; the
//! score's stated properties; the VE SDE's closed-form marginals against simulation.

use diffusion_sde::framework::VeSde;
use diffusion_sde::prelude::*;

/// Central finite differences of `log p` against the analytic score, per row and component.
/// With h = 1e-5 the truncation error is ~h² |∂³ log p| and the rounding error ~1e-16 |log p|/h;
/// both are below 1e-6 relative to max(1, |s|) for these laws on these points.
fn assert_score_is_gradient(
    log_p: impl Fn(ArrayView2<f64>) -> Array1<f64>,
    score: &Array2<f64>,
    x: &Array2<f64>,
    what: &str,
) {
    let h = 1e-5;
    for j in 0..x.ncols() {
        let mut xp = x.clone();
        let mut xm = x.clone();
        xp.column_mut(j).mapv_inplace(|v| v + h);
        xm.column_mut(j).mapv_inplace(|v| v - h);
        let fd = (log_p(xp.view()) - log_p(xm.view())) / (2.0 * h);
        for i in 0..x.nrows() {
            let s = score[[i, j]];
            assert!(
                (fd[i] - s).abs() < 1e-6 * s.abs().max(1.0),
                "{what}: row {i}, component {j}: finite difference {} vs score {s}",
                fd[i]
            );
        }
    }
}

fn correlated_gaussian() -> GaussianMixture {
    GaussianMixture::gaussian(array![0.5, -1.0], array![[2.0, 0.9], [0.9, 0.7]]).unwrap()
}

fn skewed_mixture_2d() -> GaussianMixture {
    GaussianMixture::new(
        vec![0.2, 0.5, 0.3],
        array![[-2.0, 0.0], [1.5, 1.0], [0.0, -2.5]],
        vec![
            array![[0.3, 0.1], [0.1, 0.2]],
            array![[0.5, -0.3], [-0.3, 0.4]],
            Array2::eye(2) * 0.25,
        ],
    )
    .unwrap()
}

#[test]
fn scores_are_gradients_of_the_log_densities() {
    let laws = [
        ("Gaussian, full covariance", correlated_gaussian()),
        ("1-D mixture", GaussianMixture::two_modes_1d()),
        ("2-D mixture, anisotropic", skewed_mixture_2d()),
        ("appendix 2-D mixture", GaussianMixture::appendix_2d()),
    ];
    for (what, law) in &laws {
        // Points from the law and from a wider law, so tails are checked too.
        let mut x = law.sample(40, 1);
        x.append(Axis(0), (law.sample(20, 2) * 2.5).view()).unwrap();
        let s = law.score(x.view()).unwrap();
        assert_score_is_gradient(|y| law.log_density(y).unwrap(), &s, &x, what);
    }
}

#[test]
fn marginals_under_ve_and_vp_sdes_have_exact_scores() {
    let ve = VeSde::new(0.01, 10.0).unwrap();
    let vp = VpSde::default();
    for data in [GaussianMixture::two_modes_1d(), skewed_mixture_2d()] {
        let on_ve = MixtureMarginal::new(ve, data.clone());
        let on_vp = MixtureMarginal::new(vp, data.clone());
        for t in [0.0, 0.1, 0.5, 1.0] {
            for (what, law, p) in [
                ("VE", on_ve.at(t).unwrap(), &on_ve as &dyn Score),
                ("VP", on_vp.at(t).unwrap(), &on_vp as &dyn Score),
            ] {
                let x = law.sample(30, 3);
                let s = p.score(x.view(), t).unwrap();
                assert_score_is_gradient(
                    |y| law.log_density(y).unwrap(),
                    &s,
                    &x,
                    &format!("{what} marginal at t = {t}, d = {}", data.dim()),
                );
            }
        }
        // The VE marginal is the data convolved with N(0, σ(t)² − σ_min²): at t = 1 its
        // covariance is the data's plus (σ_max² − σ_min²) I.
        let c = on_ve.at(1.0).unwrap().covariance();
        let expected = data.covariance() + Array2::<f64>::eye(data.dim()) * (100.0 - 1e-4);
        assert!(
            (&c - &expected).iter().all(|v| v.abs() < 1e-9),
            "{c} vs {expected}"
        );
    }
}

/// Seed 000 §3.1.1, property 2: `∇ log(p₁ p₂) = ∇ log p₁ + ∇ log p₂`. The product of two
/// Gaussian densities is, normalised, the Gaussian with precision `P₁ + P₂` and mean
/// `(P₁ + P₂)⁻¹ (P₁ μ₁ + P₂ μ₂)`; its score must be the sum of the two scores.
#[test]
fn the_score_of_a_product_is_the_sum_of_the_scores() {
    let p1 = correlated_gaussian();
    let p2 =
        GaussianMixture::gaussian(array![-1.0, 2.0], array![[0.5, -0.2], [-0.2, 1.5]]).unwrap();
    let prec = |g: &GaussianMixture| {
        diffusion_sde::linalg::inverse(
            diffusion_sde::linalg::cholesky("cov", g.covs()[0].view())
                .unwrap()
                .view(),
        )
    };
    let (q1, q2) = (prec(&p1), prec(&p2));
    let q = &q1 + &q2;
    let cov = diffusion_sde::linalg::inverse(
        diffusion_sde::linalg::cholesky("precision", q.view())
            .unwrap()
            .view(),
    );
    let mean = cov.dot(&(q1.dot(&p1.means().row(0)) + q2.dot(&p2.means().row(0))));
    let product = GaussianMixture::gaussian(mean, cov).unwrap();
    let x = product.sample(50, 4);
    let sum = p1.score(x.view()).unwrap() + p2.score(x.view()).unwrap();
    let direct = product.score(x.view()).unwrap();
    let err = (&sum - &direct).iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-9, "max |s₁ + s₂ − s_product| = {err}");
}

/// Seed 000 §3.1.1, properties 1 and 3 made precise: the score ignores the normalising constant
/// (`∇ log(c p) = ∇ log p`, which is why unnormalised models suffice; it is *not* invariant under
/// monotone transforms of `p`, e.g. `∇ log p² = 2 ∇ log p`), and under `x = a y` the density
/// `p_x(x) = p_y(x/a)/|a|^d` has score `(1/a) s_y(x/a)` (chain rule).
#[test]
fn the_score_ignores_normalisation_and_follows_the_chain_rule() {
    let law = skewed_mixture_2d();
    let x = law.sample(40, 5);
    let s = law.score(x.view()).unwrap();
    // log(c p) = log p + log c: finite differences of the shifted log-density give the same score.
    assert_score_is_gradient(|y| law.log_density(y).unwrap() + 7.3, &s, &x, "log(c p)");
    // p² is not a constant multiple: its log-gradient doubles.
    assert_score_is_gradient(
        |y| law.log_density(y).unwrap() * 2.0,
        &(&s * 2.0),
        &x,
        "log p²",
    );
    // Chain rule: the law of a·y (perturbed with α = a, σ = 0).
    let a = -1.7;
    let scaled = law.perturbed(a, 0.0).unwrap();
    let y = &x / a;
    let via_chain_rule = law.score(y.view()).unwrap() / a;
    let direct = scaled.score(x.view()).unwrap();
    let err = (&via_chain_rule - &direct)
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-10, "chain rule: {err}");
}

/// Seed 001 Table 1 (VE): Euler–Maruyama paths of `dx = g dW` from the data have variance
/// `Var(x_0) + Σ_k g(t_k)² Δt` exactly (the noise is additive and independent of x), and that
/// left Riemann sum underestimates `σ(t)² − σ_min²` by at most the factor `κΔt/2`, `κ = 2 ln(σ_max/σ_min)`.
#[test]
fn ve_sde_particles_match_the_closed_form_variance() {
    let ve = VeSde::new(0.01, 10.0).unwrap();
    let data = GaussianMixture::two_modes_1d();
    let n = 20_000;
    let steps = 500;
    let grid = TimeGrid::uniform(0.0, 1.0, steps).unwrap();
    let sol = EulerMaruyama
        .solve(
            &ve,
            data.sample(n, 6).view(),
            &grid,
            Noise::Seed(7),
            Record::Every(100),
        )
        .unwrap();
    let kappa = 2.0 * (ve.sigma_max / ve.sigma_min).ln();
    let dt = 1.0 / steps as f64;
    for (t, x) in sol.times.iter().zip(&sol.states).skip(1) {
        let k_end = (t / dt).round() as usize;
        let riemann: f64 = (0..k_end)
            .map(|k| ve.g(k as f64 * dt).unwrap().powi(2) * dt)
            .sum();
        let v = data.covariance()[[0, 0]] + riemann;
        let var = x.var(0.0);
        // Kurtosis of these laws ≤ 3: Var(s²) ≤ 2v²/n; 5 standard errors.
        assert!(
            (var - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(),
            "t = {t}: sample variance {var} vs {v}"
        );
        let exact = ve.variance(*t).unwrap();
        assert!(
            riemann < exact && exact - riemann < 0.5 * kappa * dt * exact,
            "t = {t}: Riemann sum {riemann} vs σ² − σ_min² = {exact}"
        );
        assert!((x.mean().unwrap() - data.mean()[0]).abs() < 5.0 * (v / n as f64).sqrt());
    }
}

#[test]
fn bad_inputs_are_errors_naming_the_value() {
    for (smin, smax, named) in [
        (1.0, 0.5, "sigma_min"),
        (2.0, 2.0, "sigma_min"),
        (-0.01, 1.0, "-0.01"),
        (0.01, 0.0, "sigma_max"),
    ] {
        let e = VeSde::new(smin, smax).unwrap_err().to_string();
        assert!(e.contains(named), "σ = ({smin}, {smax}): {e}");
    }
    let e = GaussianMixture::isotropic(vec![0.7, 0.2], array![[0.0], [1.0]], 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sum to 1") && e.contains("0.7"), "{e}");
    let e = GaussianMixture::isotropic(vec![1.2, -0.2], array![[0.0], [1.0]], 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("-0.2"), "{e}");
    let e = GaussianMixture::two_modes_1d()
        .ks_distance(array![[0.0, 1.0]].view())
        .unwrap_err()
        .to_string();
    assert!(e.contains("n × 1"), "{e}");
    assert!(VeSde::default().g(-0.5).is_err());
}

/// The grid behind the quiver plots holds the law's density and score at its points
/// (`density[j][i] = p(xs[i], ys[j])`, one score per arrow tail).
#[test]
fn field_grid_holds_density_and_score_at_its_points() {
    use diffusion_sde::smld::FieldGrid;
    let law = skewed_mixture_2d();
    let f = FieldGrid::of(&law, -3.0, 2.0, 11, 4).unwrap();
    for (j, i) in [(0, 0), (3, 7), (10, 2)] {
        let p = law.log_density(array![[f.xs[i], f.ys[j]]].view()).unwrap()[0].exp();
        assert!((f.density[j][i] - p).abs() < 1e-14, "({i}, {j})");
    }
    assert_eq!(f.points.nrows(), 16);
    assert_eq!(f.scores, law.score(f.points.view()).unwrap());
    assert_eq!(f.points.row(1).to_vec(), vec![-3.0 + 5.0 / 3.0, -3.0]);
    assert!(FieldGrid::of(&GaussianMixture::two_modes_1d(), -1.0, 1.0, 5, 5).is_err());
    assert!(FieldGrid::of(&law, 1.0, -1.0, 5, 5)
        .unwrap_err()
        .to_string()
        .contains("hi"));
}
