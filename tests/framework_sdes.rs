//! Chapter 4, part 1: the forward-SDE family, seed 001's Table 1 and the lemma
//! "perturbation kernel ⇔ linear SDE", each closed form checked against simulation or an
//! independent integration.

use std::sync::Arc;

use diffusion_sde::framework::table1::{self, check_column, Table1Column};
use diffusion_sde::framework::{
    linear_sde_coefficients, AffineSde, ForwardSde, KernelSde, SubVpSde, VeSde, VpSde,
};
use diffusion_sde::prelude::*;

fn assert_all_ok(rows: &[table1::Table1Check], what: &str) {
    for r in rows {
        assert!(
            r.ok(),
            "{what}: {} at t = {}: table {} vs {} {} (tol {})",
            r.entry,
            r.t,
            r.table,
            r.source,
            r.measured,
            r.tolerance
        );
    }
}

/// Seed 001 §3.3, Table 1: every entry of both columns against the crate's VE and VP SDEs,
/// the kernels and priors by 20 000 Euler–Maruyama paths (tolerances in `check_column`).
#[test]
fn table1_every_entry_matches_the_crate_and_simulation() {
    let data = GaussianMixture::two_modes_1d();
    let ve = VeSde::new(0.01, 50.0).unwrap();
    let rows = check_column(
        &table1::ve_column(0.01, 50.0).unwrap(),
        &ve,
        &data,
        1.5,
        20_000,
        2000,
        1,
    )
    .unwrap();
    assert_eq!(rows.len(), 6 + 8 + 2);
    assert_all_ok(&rows, "VE");
    let vp = VpSde::default();
    let rows = check_column(
        &table1::vp_column(0.1, 20.0).unwrap(),
        &vp,
        &data,
        1.5,
        20_000,
        2000,
        2,
    )
    .unwrap();
    assert_all_ok(&rows, "VP");
    // The tolerances are meaningful: Euler–Maruyama's bias is a small part of them.
    for r in rows.iter().filter(|r| r.entry == "Var[x_t | x_0]") {
        assert!(r.tolerance < 0.1 * r.table, "{r:?}");
    }
}

/// The check can fail: seed 004's VE diffusion (no square root) against the table's VE column.
#[test]
fn table1_check_rejects_the_seed_004_ve_diffusion() {
    let col = table1::ve_column(0.01, 50.0).unwrap();
    let g = col.g.clone();
    let wrong = AffineSde::new(|_| 0.0, move |t| g(t).powi(2), 1.0).unwrap();
    let rows = check_column(
        &col,
        &wrong,
        &GaussianMixture::two_modes_1d(),
        1.5,
        4000,
        400,
        3,
    )
    .unwrap();
    assert!(rows.iter().any(|r| r.entry == "g(t)" && !r.ok()));
    assert!(rows.iter().any(|r| r.entry == "Var[x_t | x_0]" && !r.ok()));
}

/// Erratum (seed 004): with g = dσ²/dt the marginal variance is ∫(dσ²/dt)² dt, not σ²(t) − σ²(0).
#[test]
fn ve_erratum_without_the_square_root_the_variance_is_wrong() {
    let n = 20_000;
    let rows = table1::ve_erratum(0.01, 10.0, &[0.25, 0.5, 1.0], n, 2000, 4).unwrap();
    for r in &rows {
        // With the root, the variance ODE reproduces the kernel (RK4 + Hermite: ~1e-9).
        assert!(
            (r.with_sqrt - r.kernel_var).abs() < 1e-7 * r.kernel_var,
            "{r:?}"
        );
        // Without it, the ODE and the simulation agree with each other (5 SE + EM's
        // left-Riemann bias, ≈ ½ c Δt with c = 4 ln(σmax/σmin) ≈ 28: 0.7 %)…
        let tol = 5.0 * r.without_sqrt * (2.0 / n as f64).sqrt() + 0.01 * r.without_sqrt;
        assert!(
            (r.without_sqrt_simulated - r.without_sqrt).abs() < tol,
            "{r:?}"
        );
        // …and both are far from the kernel variance: ∫(dσ²/dt)² = (2 ln r)² ∫σ⁴ grows like
        // σ⁴, so it is 2 % of σ²(t) − σ²(0) at t = ¼, 69 % at ½ and 690× at 1 (σ_max = 10).
        let rel = (r.without_sqrt - r.kernel_var).abs() / r.kernel_var;
        assert!(rel > 0.25, "{r:?}");
    }
}

/// Sub-VP (the third member): its closed-form kernel against the mean/variance ODEs of its own
/// (f, g), and against simulation through Table 1's checker with a sub-VP column.
#[test]
fn sub_vp_kernel_matches_ode_and_simulation() {
    let sde = SubVpSde::default();
    let vp = VpSde::default();
    let f = move |t: f64| -0.5 * vp.beta(t);
    let g = move |t: f64| (vp.beta(t) * -(-2.0 * vp.integrated_beta(t)).exp_m1()).sqrt();
    let ode = AffineSde::new(f, g, 1.0).unwrap();
    for k in 0..=20 {
        let t = k as f64 / 20.0;
        let (a, s) = sde.marginal_mean_std(t).unwrap();
        let (a2, s2) = ode.marginal_mean_std(t).unwrap();
        assert!(
            (a - a2).abs() < 1e-9 && (s - s2).abs() < 1e-9,
            "t = {t}: {a},{s} vs {a2},{s2}"
        );
        // sub-VP's variance never exceeds VP's.
        assert!(s * s <= vp.marginal_mean_std(t).unwrap().1.powi(2) + 1e-15);
    }
    let col = Table1Column {
        name: "sub-VP SDE",
        f: Arc::new(f),
        g: Arc::new(g),
        kernel: Arc::new(move |t| {
            let (a, s) = sde.marginal_mean_std(t).unwrap();
            (a, s * s)
        }),
        prior_var: 1.0,
    };
    let rows = check_column(
        &col,
        &sde,
        &GaussianMixture::two_modes_1d(),
        -1.0,
        20_000,
        2000,
        5,
    )
    .unwrap();
    assert_all_ok(&rows, "sub-VP");
}

/// The general affine SDE: marginals from the mean/variance ODEs match every closed form.
#[test]
fn affine_sde_reproduces_the_closed_form_kernels() {
    let vp = VpSde::default();
    let ve = VeSde::new(0.01, 50.0).unwrap();
    let vp_ode =
        AffineSde::new(move |t| -0.5 * vp.beta(t), move |t| vp.beta(t).sqrt(), 1.0).unwrap();
    let rate = (2.0 * (50.0_f64 / 0.01).ln()).sqrt();
    let ve_ode = AffineSde::new(|_| 0.0, move |t| ve.sigma(t).unwrap() * rate, 1.0).unwrap();
    // Seed 001 fig. 4: f = 0, g = √(2t) gives σ(t) = t.
    let edm = AffineSde::new(|_| 0.0, |t: f64| (2.0 * t).sqrt(), 5.0).unwrap();
    for k in 0..=40 {
        let t = k as f64 / 40.0;
        for (closed, ode) in [
            (
                vp.marginal_mean_std(t).unwrap(),
                vp_ode.marginal_mean_std(t).unwrap(),
            ),
            (
                ve.marginal_mean_std(t).unwrap(),
                ve_ode.marginal_mean_std(t).unwrap(),
            ),
            ((1.0, 5.0 * t), edm.marginal_mean_std(5.0 * t).unwrap()),
        ] {
            assert!(
                (closed.0 - ode.0).abs() < 1e-9 * closed.0,
                "t = {t}: {closed:?} vs {ode:?}"
            );
            assert!(
                (closed.1 - ode.1).abs() < 1e-7 * closed.1.max(1e-3),
                "t = {t}: {closed:?} vs {ode:?}"
            );
        }
    }
    assert!((edm.prior_std() - 5.0).abs() < 1e-9);
}

/// The lemma, kernel → SDE: VP's (α, σ) give back f = −½β, g = √β.
#[test]
fn lemma_kernel_to_sde_recovers_vp_coefficients() {
    let vp = VpSde::default();
    for k in 1..=10 {
        let t = k as f64 / 10.0;
        let b = vp.integrated_beta(t);
        let alpha = (-0.5 * b).exp();
        let alpha_dot = -0.5 * vp.beta(t) * alpha;
        let sigma = (1.0 - (-b).exp()).sqrt();
        let sigma_dot = 0.5 * vp.beta(t) * (-b).exp() / sigma;
        let (f, g) = linear_sde_coefficients(t, alpha, alpha_dot, sigma, sigma_dot).unwrap();
        assert!((f + 0.5 * vp.beta(t)).abs() < 1e-12, "t = {t}: f = {f}");
        assert!((g - vp.beta(t).sqrt()).abs() < 1e-10, "t = {t}: g = {g}");
    }
}

/// The lemma both ways on the flow-matching kernel α = 1 − t, σ = t: kernel → (f, g) in closed
/// form, (f, g) → kernel through the mean/variance ODEs, and the SDE's simulated kernel.
#[test]
fn lemma_round_trip_on_the_flow_matching_kernel() {
    let t_max = 0.9;
    let k = KernelSde::new(|t| 1.0 - t, |_| -1.0, |t| t, |_| 1.0, t_max).unwrap();
    for i in 0..=9 {
        let t = 0.1 * i as f64;
        let (f, g) = k.coefficients(t).unwrap();
        assert!((f + 1.0 / (1.0 - t)).abs() < 1e-12, "t = {t}");
        assert!((g * g - 2.0 * t / (1.0 - t)).abs() < 1e-12, "t = {t}");
    }
    let k2 = k.clone();
    let k3 = k.clone();
    let back = AffineSde::new(
        move |t| k2.coefficients(t).map_or(f64::NAN, |c| c.0),
        move |t| k3.coefficients(t).map_or(f64::NAN, |c| c.1),
        t_max,
    )
    .unwrap();
    for i in 0..=18 {
        let t = 0.05 * i as f64;
        let (a, s) = back.marginal_mean_std(t).unwrap();
        assert!(
            (a - (1.0 - t)).abs() < 1e-8 && (s - t).abs() < 1e-8,
            "t = {t}: ({a}, {s})"
        );
    }
    let col = Table1Column {
        name: "flow matching",
        f: Arc::new(|t| -1.0 / (1.0 - t)),
        g: Arc::new(|t| (2.0 * t / (1.0 - t)).sqrt()),
        kernel: Arc::new(|t| (1.0 - t, t * t)),
        prior_var: t_max * t_max,
    };
    let rows = check_column(
        &col,
        &k,
        &GaussianMixture::two_modes_1d(),
        2.0,
        20_000,
        2000,
        6,
    )
    .unwrap();
    assert_all_ok(&rows, "flow-matching kernel");
}

#[test]
fn reverse_sde_and_probability_flow_come_from_the_forward_sde() {
    let sde = SubVpSde::default();
    let s = ScoreFn(|x: ArrayView2<f64>, _t: f64| Ok(&x * -2.0));
    let x = array![[0.3, -1.0]];
    let t = 0.4;
    let g = match sde.diffusion(x.view(), t).unwrap() {
        Diffusion::Scalar(g) => g,
        _ => unreachable!(),
    };
    let f = sde.drift(x.view(), t).unwrap();
    let pf = sde.probability_flow(&s).rhs(x.view(), t).unwrap();
    let rev = sde.reverse_sde(&s).drift(x.view(), t).unwrap();
    let sx = &x * -2.0;
    assert!((pf - (&f - &(&sx * (0.5 * g * g))))
        .iter()
        .all(|v| v.abs() < 1e-14));
    assert!((rev - (&f - &(&sx * (g * g))))
        .iter()
        .all(|v| v.abs() < 1e-14));
}

#[test]
fn bad_input_names_the_value() {
    let x = array![[0.0]];
    for sde in [
        Box::new(VeSde::new(0.01, 50.0).unwrap()) as Box<dyn ForwardSde>,
        Box::new(SubVpSde::default()),
        Box::new(AffineSde::new(|_| 0.0, |_| 1.0, 1.0).unwrap()),
    ] {
        let e = sde.drift(x.view(), 1.5).unwrap_err().to_string();
        assert!(e.contains("1.5"), "{e}");
        let e = sde.marginal_mean_std(-0.1).unwrap_err().to_string();
        assert!(e.contains("-0.1"), "{e}");
    }
    let e = VeSde::new(10.0, 1.0).unwrap_err().to_string();
    assert!(e.contains("sigma_max") && e.contains('1'), "{e}");
    assert!(VeSde::new(-1.0, 1.0).is_err());
    assert!(SubVpSde::new(0.0, 1.0).is_err());
    let e = AffineSde::new(|t| 1.0 / (t - 0.5), |_| 1.0, 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("t = 0.5"), "{e}");
    assert!(AffineSde::new(|_| 0.0, |_| 1.0, 0.0).is_err());
    // A kernel whose noise shrinks faster than any SDE allows.
    let e = KernelSde::new(|_| 1.0, |_| 0.0, |t| 1.0 - t, |_| -1.0, 0.5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("g²") && e.contains("t = 0"), "{e}");
    let e = linear_sde_coefficients(0.3, 0.0, 1.0, 1.0, 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("alpha") && e.contains("t = 0.3"), "{e}");
}
