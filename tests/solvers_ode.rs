//! Chapter 2's ODE claims (notebooks/02_numerical_solvers.ipynb, seed 000 §2.1.1, §2.3,
//! §2.4.1, §2.5.1), checked against exact solutions.
//!
//! ODE ladders are deterministic: the tolerance on a fitted order covers only the
//! pre-asymptotic curvature of the ladder, so it is tight (±0.1 on the order).

use std::sync::atomic::{AtomicUsize, Ordering};

use diffusion_sde::prelude::*;
use diffusion_sde::solvers::convergence::{
    fit_order, max_error, ode_ladder, propagation_bound, steps_for_accuracy,
};
use diffusion_sde::solvers::problems::{ForcedLinear, ProtheroRobinson};
use diffusion_sde::solvers::stability::amplification;
use diffusion_sde::solvers::symplectic::HamiltonianFlow;
use diffusion_sde::solvers::{
    dormand_prince, solve_ode, AdaptiveOptions, BackwardEuler, DormandPrince, Euler,
    HarmonicOscillator, Heun, OdeStepper, Rk4, StormerVerlet,
};

/// Counts right-hand-side calls, to check the solvers' NFE bookkeeping.
struct Counted<S> {
    inner: S,
    calls: AtomicUsize,
}

impl<S: OdeSystem> OdeSystem for Counted<S> {
    fn rhs(&self, x: ArrayView2<f64>, t: f64) -> diffusion_sde::Result<Array2<f64>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.rhs(x, t)
    }
}

fn x0() -> Array2<f64> {
    array![[1.0], [-0.5], [2.0]]
}

fn assert_order(name: &str, fit: f64, expected: f64, tol: f64) {
    assert!(
        (fit - expected).abs() <= tol,
        "{name}: fitted order {fit:.3}, expected {expected} ± {tol}"
    );
}

/// Seed 000 §2.1.1: Euler has global order 1, RK4 order 4; Heun 2, backward Euler 1, and the
/// Dormand–Prince tableau at fixed steps 5 — on the bench's `x′ = −x + sin t`, T = 1.
#[test]
fn fixed_step_orders_on_a_smooth_ode() {
    let ode = ForcedLinear::new(-1.0).unwrap();
    let exact = ode.exact(x0().view(), 1.0);
    let ladder = |m: &dyn OdeStepper<ForcedLinear>, steps: &[usize]| {
        ode_ladder(m, &ode, x0().view(), 0.0, 1.0, steps, exact.view()).unwrap()
    };
    let cases: [(&dyn OdeStepper<ForcedLinear>, &[usize]); 5] = [
        (&Euler, &[16, 32, 64, 128, 256, 512, 1024]),
        (&Heun, &[16, 32, 64, 128, 256, 512]),
        (&Rk4, &[4, 8, 16, 32, 64, 128]),
        (&DormandPrince, &[8, 16, 32, 64]),
        (
            &BackwardEuler::default(),
            &[16, 32, 64, 128, 256, 512, 1024],
        ),
    ];
    for (m, steps) in cases {
        let l = ladder(m, steps);
        assert_order(m.name(), l.fit.order, m.order() as f64, 0.1);
        // The band of a clean power law is narrow.
        assert!(l.fit.high - l.fit.low < 0.2, "{}: {:?}", m.name(), l.fit);
    }
}

/// The same orders on the probability-flow ODE of the VP SDE with Gaussian data N(1, 0.1),
/// integrated backwards from t = 1 to 1e-3, whose flow map is exact:
/// `x_ε = α_ε μ + sd_ε/sd_1 (x_1 − α_1 μ)`, `sd_t = sqrt(α_t² s² + σ_t²)`.
#[test]
fn fixed_step_orders_on_the_vp_probability_flow() {
    let sde = VpSde::default();
    let data = GaussianMixture::gaussian(array![1.0], array![[0.1]]).unwrap();
    let pf = ProbabilityFlow::new(sde, MixtureMarginal::new(sde, data));
    let x1 = array![[-2.0], [-1.0], [0.0], [1.0], [2.0]];
    let eps = 1e-3;
    let sd = |t: f64| {
        let (a, s) = sde.marginal_mean_std(t).unwrap();
        (a * a * 0.1 + s * s).sqrt()
    };
    let (a1, _) = sde.marginal_mean_std(1.0).unwrap();
    let (ae, _) = sde.marginal_mean_std(eps).unwrap();
    let exact = x1.mapv(|x| ae + sd(eps) / sd(1.0) * (x - a1));
    let euler = ode_ladder(
        &Euler,
        &pf,
        x1.view(),
        1.0,
        eps,
        &[256, 512, 1024, 2048],
        exact.view(),
    )
    .unwrap();
    assert_order("Euler", euler.fit.order, 1.0, 0.1);
    let rk4 = ode_ladder(
        &Rk4,
        &pf,
        x1.view(),
        1.0,
        eps,
        &[32, 64, 128, 256],
        exact.view(),
    )
    .unwrap();
    assert_order("RK4", rk4.fit.order, 4.0, 0.15);
    // Dormand–Prince converges at least at order 5 here (≈ 6 over this ladder: the leading
    // error term is small on this linear, non-autonomous ODE).
    let dp = ode_ladder(
        &DormandPrince,
        &pf,
        x1.view(),
        1.0,
        eps,
        &[32, 64, 128, 256],
        exact.view(),
    )
    .unwrap();
    assert!(dp.fit.order > 4.8, "DP5 order {:?}", dp.fit);

    // The adaptive solver meets its tolerance on the same problem, going backwards in time.
    let sol = dormand_prince(
        &pf,
        x1.view(),
        1.0,
        eps,
        AdaptiveOptions {
            rtol: 1e-8,
            atol: 1e-8,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(*sol.times.last().unwrap(), eps);
    let err = max_error(sol.last().view(), exact.view()).unwrap();
    assert!(err < 1e-6, "adaptive error {err}");
}

/// Dormand–Prince with a PI controller: the global error follows the tolerance (it stays
/// below it on this smooth, contracting problem), NFE grows as the tolerance shrinks (about tol^(−1/5)),
/// and the NFE it reports is the number of right-hand-side calls it made.
#[test]
fn adaptive_error_follows_the_tolerance_and_nfe_is_honest() {
    let ode = Counted {
        inner: ForcedLinear::new(-1.0).unwrap(),
        calls: AtomicUsize::new(0),
    };
    let exact = ode.inner.exact(x0().view(), 5.0);
    let mut nfes = Vec::new();
    let mut tols = Vec::new();
    for tol in [1e-3, 1e-5, 1e-7, 1e-9] {
        ode.calls.store(0, Ordering::Relaxed);
        let opts = AdaptiveOptions {
            rtol: tol,
            atol: tol,
            ..Default::default()
        };
        let sol = dormand_prince(&ode, x0().view(), 0.0, 5.0, opts).unwrap();
        let err = max_error(sol.last().view(), exact.view()).unwrap();
        assert!(err < tol, "tol {tol}: error {err}");
        assert_eq!(sol.nfe, ode.calls.load(Ordering::Relaxed), "tol {tol}");
        // 1 evaluation at t0, 1 for the automatic first step, 6 per attempt (FSAL).
        assert_eq!(sol.nfe, 2 + 6 * (sol.accepted() + sol.rejected));
        assert_eq!(sol.times.len(), sol.accepted() + 1);
        assert!((sol.step_sizes.iter().sum::<f64>() - 5.0).abs() < 1e-12);
        nfes.push(sol.nfe as f64);
        tols.push(tol);
    }
    // NFE ∝ tol^(−1/5) for a fifth-order method: slope of log NFE on log tol ≈ −0.2.
    let fit = fit_order(&tols, &nfes).unwrap();
    assert!(
        (-0.3..=-0.12).contains(&fit.order),
        "NFE ~ tol^{:.3}",
        fit.order
    );

    // The fixed-step loop's NFE is also the number of calls (one chunk: 3 particles).
    ode.calls.store(0, Ordering::Relaxed);
    let grid = TimeGrid::uniform(0.0, 1.0, 10).unwrap();
    let sol = solve_ode(&Rk4, &ode, x0().view(), &grid, Record::Final).unwrap();
    assert_eq!(sol.nfe, 40);
    assert_eq!(ode.calls.load(Ordering::Relaxed), 40);
}

/// Seed 000 §2.1.1 / §2.4.1: on the PF-ODE of the VP SDE with the appendix's mixture score,
/// integrated from t = 1 down to 1e-3, the adaptive solver's steps shrink as t decreases:
/// most accepted steps lie in the last 30 % of the time range, where the mixture's modes
/// separate, and they are several times shorter there than for t > 0.5.
#[test]
fn adaptive_steps_crowd_at_small_t_on_the_mixture_pf_ode() {
    let sde = VpSde::default();
    let pf = ProbabilityFlow::new(
        sde,
        MixtureMarginal::new(sde, GaussianMixture::appendix_2d()),
    );
    let x1 = rng::normals(&mut rng::seeded(5), 200, 2);
    let sol = dormand_prince(
        &pf,
        x1.view(),
        1.0,
        1e-3,
        AdaptiveOptions {
            rtol: 1e-7,
            atol: 1e-7,
            ..Default::default()
        },
    )
    .unwrap();
    // Accepted steps (start time, |h|) with start in [lo, hi); times decrease.
    let steps_in = |lo: f64, hi: f64| -> Vec<f64> {
        sol.times
            .iter()
            .zip(&sol.step_sizes)
            .filter(|(t, _)| **t >= lo && **t < hi)
            .map(|(_, h)| *h)
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (small_t, large_t) = (steps_in(0.0, 0.3), steps_in(0.5, 1.01));
    assert!(
        small_t.len() * 2 > sol.accepted(),
        "{} of {} steps at t < 0.3",
        small_t.len(),
        sol.accepted()
    );
    assert!(
        mean(&small_t) < mean(&large_t) / 3.0,
        "mean step at t < 0.3: {}, at t > 0.5: {}",
        mean(&small_t),
        mean(&large_t)
    );
}

/// Seed 000 §2.4.1: at equal accuracy on the mixture PF-ODE, adaptive Dormand–Prince needs
/// far fewer evaluations than fixed-step RK4 once the accuracy is tight (rtol = 1e-7: less
/// than half; the notebook's table), because it spends its steps where the flow needs them.
#[test]
fn adaptive_beats_fixed_rk4_at_equal_accuracy_on_the_mixture_pf_ode() {
    let sde = VpSde::default();
    let pf = ProbabilityFlow::new(
        sde,
        MixtureMarginal::new(sde, GaussianMixture::appendix_2d()),
    );
    let x1 = rng::normals(&mut rng::seeded(5), 200, 2);
    let tight = |tol: f64| AdaptiveOptions {
        rtol: tol,
        atol: tol,
        ..Default::default()
    };
    let reference = dormand_prince(&pf, x1.view(), 1.0, 1e-3, tight(1e-11)).unwrap();
    let sol = dormand_prince(&pf, x1.view(), 1.0, 1e-3, tight(1e-7)).unwrap();
    let err = max_error(sol.last().view(), reference.last().view()).unwrap();
    let (_, rk4_err, rk4_nfe) = steps_for_accuracy(
        &Rk4,
        &pf,
        x1.view(),
        1.0,
        1e-3,
        reference.last().view(),
        err,
    )
    .unwrap();
    assert!(rk4_err <= err);
    assert!(
        2 * sol.nfe < rk4_nfe,
        "DP5 {} evaluations vs RK4 {rk4_nfe} at error {err:e}",
        sol.nfe
    );
}

/// Seed 000 §2.3.3: the stability functions of the code that runs are 1 + z (Euler),
/// the degree-4 Taylor polynomial of e^z (RK4) and 1/(1 − z) (backward Euler).
#[test]
fn amplification_factors_match_their_closed_forms() {
    let re = [-3.0, -2.0, -0.5, 0.3, 2.5];
    let im = [-2.0, 0.0, 1.5];
    let cabs = |a: f64, b: f64| a.hypot(b);
    // Powers of z = a + ib as (re, im).
    let mul = |(a, b): (f64, f64), (c, d): (f64, f64)| (a * c - b * d, a * d + b * c);
    let e = amplification(&Euler, &re, &im).unwrap();
    let r = amplification(&Rk4, &re, &im).unwrap();
    let b = amplification(&BackwardEuler::default(), &re, &im).unwrap();
    for (i, &y) in im.iter().enumerate() {
        for (j, &x) in re.iter().enumerate() {
            assert!((e[[i, j]] - cabs(1.0 + x, y)).abs() < 1e-12);
            let z = (x, y);
            let z2 = mul(z, z);
            let z3 = mul(z2, z);
            let z4 = mul(z3, z);
            let p = (
                1.0 + x + z2.0 / 2.0 + z3.0 / 6.0 + z4.0 / 24.0,
                y + z2.1 / 2.0 + z3.1 / 6.0 + z4.1 / 24.0,
            );
            assert!((r[[i, j]] - cabs(p.0, p.1)).abs() < 1e-12 * (1.0 + cabs(p.0, p.1)));
            let be = 1.0 / cabs(1.0 - x, y);
            assert!(
                (b[[i, j]] - be).abs() < 1e-7 * be,
                "BE at {z:?}: {} vs {be}",
                b[[i, j]]
            );
        }
    }
    // Real-axis stability limits: Euler −2, RK4 ≈ −2.785; backward Euler stable everywhere on the left.
    let edge = amplification(&Rk4, &[-2.78, -2.79], &[0.0]).unwrap();
    assert!(edge[[0, 0]] < 1.0 && edge[[0, 1]] > 1.0);
    let left = amplification(
        &BackwardEuler::default(),
        &[-1e3, -10.0, -0.01],
        &[0.0, 50.0],
    )
    .unwrap();
    assert!(left.iter().all(|v| *v < 1.0));
}

/// Erratum to seed 000 §2.1.1 ("RK4 … suitable for stiff ODEs"): on the stiff
/// Prothero–Robinson problem (λ = −1000), at h = 0.01 Euler and RK4 blow up (|R(−10)| = 9
/// and 291 per step) while backward Euler is accurate; below the explicit stability limits
/// (h = 5e-4) all three are fine.
#[test]
fn stiff_problem_explicit_methods_blow_up_where_backward_euler_does_not() {
    let ode = ProtheroRobinson::new(-1000.0).unwrap();
    let x0 = array![[1.0], [1.5]];
    let exact = ode.exact(x0.view(), 1.0);
    let err = |m: &dyn OdeStepper<ProtheroRobinson>, steps| {
        let sol = solve_ode(
            m,
            &ode,
            x0.view(),
            &TimeGrid::uniform(0.0, 1.0, steps).unwrap(),
            Record::Final,
        )
        .unwrap();
        max_error(sol.last().view(), exact.view()).unwrap()
    };
    assert!(err(&Euler, 100) > 1e80);
    let rk4 = err(&Rk4, 100);
    assert!(rk4 > 1e200 && rk4.is_finite(), "RK4 error {rk4}");
    let be = err(&BackwardEuler::default(), 100);
    // Backward Euler's error on the slow solution cos t: about h |x″| / |λ| ≈ 1e-5.
    assert!(be < 1e-4, "backward Euler error {be}");
    for m in [
        &Euler as &dyn OdeStepper<ProtheroRobinson>,
        &Rk4,
        &BackwardEuler::default(),
    ] {
        assert!(err(m, 2000) < 1e-3, "{}", m.name());
    }
    // Longer, and the explicit solution leaves the floating-point range: an error naming the step.
    let e = solve_ode(
        &Rk4,
        &ode,
        x0.view(),
        &TimeGrid::uniform(0.0, 10.0, 1000).unwrap(),
        Record::Final,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("RK4") && e.contains("step"), "{e}");
}

/// Seed 000 §2.3.2: Euler's error stays below `e0 e^{Lt} + M/L (e^{Lt} − 1)` with `L = |λ|`,
/// `M = h/2 max|x″|`, at every grid time — for a growing (λ = 1) and a decaying (λ = −1)
/// problem, with and without an initial error.
#[test]
fn euler_error_respects_the_propagation_bound() {
    for lambda in [1.0, -1.0] {
        let ode = ForcedLinear::new(lambda).unwrap();
        for e0 in [0.0, 0.01] {
            let x0 = array![[0.5]];
            let steps = 200;
            let t_end = 2.0;
            let h = t_end / steps as f64;
            let grid = TimeGrid::uniform(0.0, t_end, steps).unwrap();
            let sol = solve_ode(&Euler, &ode, (&x0 + e0).view(), &grid, Record::Every(1)).unwrap();
            let m = 0.5 * h * ode.second_derivative_bound(0.5, t_end);
            for (t, x) in sol.times.iter().zip(&sol.states) {
                let measured = (x[[0, 0]] - ode.exact(x0.view(), *t)[[0, 0]]).abs();
                let bound = propagation_bound(e0, ode.lipschitz(), m, *t).unwrap();
                assert!(
                    measured <= bound * (1.0 + 1e-12) + 1e-15,
                    "λ = {lambda}, e0 = {e0}, t = {t}: {measured} > {bound}"
                );
            }
        }
    }
}

/// Seed 000 §2.5.1: on the harmonic oscillator (ω = 2, hω = 0.1, 10 000 steps) Euler's energy
/// grows by exactly (1 + h²ω²) per step, while Störmer–Verlet's stays within
/// (hω)²/4 / (1 − (hω)²/4) of the start (it conserves p²/2 + ω²q²/2 (1 − h²ω²/4) exactly).
/// Verlet is second order on the trajectory.
#[test]
fn stormer_verlet_keeps_the_energy_euler_does_not() {
    let omega = 2.0;
    let flow = HamiltonianFlow(HarmonicOscillator::new(omega).unwrap());
    let x0 = array![[1.0, 0.0], [0.0, 1.0]];
    let h = 0.05;
    let steps = 10_000;
    let grid = TimeGrid::uniform(0.0, h * steps as f64, steps).unwrap();
    let e0 = flow.energy(x0.view()).unwrap();
    let euler = solve_ode(&Euler, &flow, x0.view(), &grid, Record::Final).unwrap();
    let growth = (1.0 + h * h * omega * omega).powi(steps as i32);
    let e_euler = flow.energy(euler.last().view()).unwrap();
    for i in 0..2 {
        assert!(((e_euler[i] / e0[i]) / growth - 1.0).abs() < 1e-9);
    }
    let verlet = solve_ode(&StormerVerlet, &flow, x0.view(), &grid, Record::Every(7)).unwrap();
    let hw2 = (h * omega).powi(2);
    let bound = hw2 / 4.0 / (1.0 - hw2 / 4.0);
    let mut worst: f64 = 0.0;
    for x in &verlet.states {
        let e = flow.energy(x.view()).unwrap();
        for i in 0..2 {
            worst = worst.max((e[i] / e0[i] - 1.0).abs());
        }
    }
    assert!(
        worst <= bound * (1.0 + 1e-9),
        "Verlet drift {worst} > {bound}"
    );
    // The bound is attained to within a factor 2 (it is not vacuous).
    assert!(worst > bound / 2.0, "{worst} vs {bound}");

    // Order 2 on the trajectory, against the exact flow.
    let t1 = 3.0;
    let exact = flow.0.solution(x0.view(), t1).unwrap();
    assert!((&exact
        - &array![
            [(6.0f64).cos(), -2.0 * (6.0f64).sin()],
            [(6.0f64).sin() / 2.0, (6.0f64).cos()]
        ])
        .iter()
        .all(|v| v.abs() < 1e-15));
    let l = ode_ladder(
        &StormerVerlet,
        &flow,
        x0.view(),
        0.0,
        t1,
        &[64, 128, 256, 512, 1024],
        exact.view(),
    )
    .unwrap();
    assert_order("Störmer–Verlet", l.fit.order, 2.0, 0.1);
}

/// `steps_for_accuracy` finds a step count that reaches the target (and one fewer halving
/// would not): RK4 on the smooth problem needs few steps for 1e-6.
#[test]
fn steps_for_accuracy_reaches_its_target() {
    let ode = ForcedLinear::new(-1.0).unwrap();
    let exact = ode.exact(x0().view(), 1.0);
    let (n, err, nfe) =
        steps_for_accuracy(&Rk4, &ode, x0().view(), 0.0, 1.0, exact.view(), 1e-6).unwrap();
    assert!(err <= 1e-6);
    assert_eq!(nfe, 4 * n);
    let coarser = solve_ode(
        &Rk4,
        &ode,
        x0().view(),
        &TimeGrid::uniform(0.0, 1.0, n - 1).unwrap(),
        Record::Final,
    )
    .unwrap();
    assert!(max_error(coarser.last().view(), exact.view()).unwrap() > 1e-6);
}

/// Bad input: clear errors naming the value; an adaptive solve over budget returns no
/// partial result.
#[test]
fn bad_input_is_an_error_naming_the_value() {
    let ode = ForcedLinear::new(-1.0).unwrap();
    let x = x0();
    let with = |f: fn(&mut AdaptiveOptions)| {
        let mut o = AdaptiveOptions::default();
        f(&mut o);
        dormand_prince(&ode, x.view(), 0.0, 1.0, o)
            .unwrap_err()
            .to_string()
    };
    assert!(with(|o| o.rtol = 0.0).contains("rtol"));
    assert!(with(|o| o.atol = -1e-6).contains("atol"));
    assert!(with(|o| o.atol = f64::NAN).contains("atol"));
    assert!(with(|o| o.h0 = Some(0.0)).contains("h0"));
    assert!(with(|o| o.h0 = Some(f64::INFINITY)).contains("h0"));
    assert!(with(|o| o.max_steps = 0).contains("max_steps"));
    let budget = with(|o| {
        o.rtol = 1e-12;
        o.atol = 1e-12;
        o.max_steps = 5;
    });
    assert!(
        budget.contains("max_steps = 5") && budget.contains("stopped at t"),
        "{budget}"
    );
    let opts = AdaptiveOptions::default();
    assert!(dormand_prince(&ode, x.view(), 1.0, 1.0, opts)
        .unwrap_err()
        .to_string()
        .contains("t1"));
    assert!(dormand_prince(&ode, x.view(), 0.0, f64::NAN, opts).is_err());
    assert!(dormand_prince(&ode, Array2::zeros((0, 1)).view(), 0.0, 1.0, opts).is_err());
    assert!(dormand_prince(&ode, array![[f64::NAN]].view(), 0.0, 1.0, opts).is_err());

    let grid = TimeGrid::uniform(0.0, 1.0, 4).unwrap();
    assert!(solve_ode(
        &Euler,
        &ode,
        Array2::zeros((3, 0)).view(),
        &grid,
        Record::Final
    )
    .is_err());
    assert!(solve_ode(
        &Euler,
        &ode,
        array![[f64::INFINITY]].view(),
        &grid,
        Record::Final
    )
    .is_err());
    assert!(solve_ode(&Euler, &ode, x.view(), &grid, Record::Every(0)).is_err());
    assert!(TimeGrid::uniform(0.0, 1.0, 0).is_err());

    let e = BackwardEuler::new(0.0, 10).unwrap_err().to_string();
    assert!(e.contains("tol"), "{e}");
    assert!(BackwardEuler::new(1e-10, 0)
        .unwrap_err()
        .to_string()
        .contains("max_iter"));
    // One Newton iteration cannot confirm convergence: an error, not a silent result.
    let e = solve_ode(
        &BackwardEuler::new(1e-10, 1).unwrap(),
        &ode,
        x.view(),
        &grid,
        Record::Final,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Newton") && e.contains("max_iter = 1"), "{e}");

    assert!(propagation_bound(0.0, 0.0, 1.0, 1.0)
        .unwrap_err()
        .to_string()
        .contains("lipschitz"));
    assert!(propagation_bound(-1.0, 1.0, 1.0, 1.0).is_err());
    assert!(fit_order(&[0.1, 0.05], &[1e-3, 0.0])
        .unwrap_err()
        .to_string()
        .contains("error"));
    assert!(fit_order(&[0.1], &[1e-3]).is_err());
    assert!(fit_order(&[0.1, -0.05], &[1e-3, 1e-4]).is_err());
    assert!(HarmonicOscillator::new(-1.0)
        .unwrap_err()
        .to_string()
        .contains("omega"));
    assert!(ForcedLinear::new(0.0).is_err());
    assert!(ProtheroRobinson::new(1.0)
        .unwrap_err()
        .to_string()
        .contains("lambda"));
    assert!(amplification(&Euler, &[], &[0.0]).is_err());
    assert!(steps_for_accuracy(&Euler, &ode, x.view(), 0.0, 1.0, x.view(), 0.0).is_err());
}
