//! The discrete SMLD chain, its continuous limit the VE SDE, the reverse VE SDE and its PF-ODE
//! (seed 000 §3.2–§3.5, seed 001 §3.1.1), and errata (a)–(c) of seed 000 §三.

use diffusion_sde::framework::VeSde;
use diffusion_sde::prelude::*;
use diffusion_sde::smld::{conditional_mean, probability_flow, ScaledScore, SmldChain};

fn ve() -> VeSde {
    VeSde::new(0.01, 10.0).unwrap()
}

/// Data `N(m, s²)` in 1-D: every sampler below is then a linear recursion with exact moments.
const M: f64 = 1.0;
const S2: f64 = 0.25;

fn gaussian_data() -> GaussianMixture {
    GaussianMixture::gaussian(array![M], array![[S2]]).unwrap()
}

/// Exact mean offset and variance of `x − m` after the reverse chain with the score scaled by
/// `c`, started from the exact `p_1 = N(m, s² + v_N)`: each level maps
/// `x − m ↦ (1 − c β_i/u_i)(x − m) + √β_i z`, `u_i = s² + v_i`.
fn reverse_chain_variance(chain: &SmldChain, c: f64) -> f64 {
    let v = chain.variances().unwrap();
    let n = chain.levels;
    let mut var = S2 + v[n];
    for i in (1..=n).rev() {
        let beta = v[i] - v[i - 1];
        let a = 1.0 - c * beta / (S2 + v[i]);
        var = a * a * var + beta;
    }
    var
}

fn moments(x: &Array2<f64>) -> (f64, f64) {
    (x.mean().unwrap(), x.var(0.0))
}

/// The forward chain's levels are the VE SDE's marginals exactly, whatever N: with N = 3 the
/// particles at t_i have the mean and variance of `p_{t_i}`.
#[test]
fn forward_chain_hits_the_sde_marginals_at_every_level() {
    let data = GaussianMixture::two_modes_1d();
    let chain = SmldChain::new(ve(), 3).unwrap();
    let n = 20_000;
    let sol = chain
        .forward(data.sample(n, 1).view(), 2, Record::Every(1))
        .unwrap();
    let truth = MixtureMarginal::new(ve(), data.clone());
    assert_eq!(sol.times.len(), 4);
    for (t, x) in sol.times.iter().zip(&sol.states) {
        let p = truth.at(*t).unwrap();
        let (m, v) = (p.mean()[0], p.covariance()[[0, 0]]);
        let (em, ev) = moments(x);
        // 5 standard errors (kurtosis ≤ 3 for these mixtures: Var(s²) ≤ 2v²/n).
        assert!(
            (em - m).abs() < 5.0 * (v / n as f64).sqrt(),
            "t = {t}: mean {em} vs {m}"
        );
        assert!(
            (ev - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(),
            "t = {t}: var {ev} vs {v}"
        );
        assert!(
            p.ks_distance(x.view()).unwrap() < 1.95 / (n as f64).sqrt(),
            "t = {t}: KS"
        );
    }
}

/// Seed 000 §3.3.3: `β(t) = lim β_i/Δt`; for the NCSN ladder `N β_i → dσ²/dt = g(t)²`, the VE
/// SDE's diffusion, with relative error O(1/N): exactly `1 − (1 − e^{−x})/x`, `x = κ/N`,
/// `κ = 2 ln(σ_max/σ_min)`, whose fitted order between N and 2N is 1 − x/(6 ln 2) + O(x²), within
/// 0.02 of 1 from N = 200 on.
#[test]
fn chain_increments_converge_to_the_ve_diffusion() {
    let errors: Vec<f64> = [200, 400, 800, 1600]
        .iter()
        .map(|&n| {
            let chain = SmldChain::new(ve(), n).unwrap();
            let betas = chain.betas().unwrap();
            chain.times()[1..]
                .iter()
                .zip(&betas)
                .map(|(t, b)| (b * n as f64 / ve().g(*t).unwrap().powi(2) - 1.0).abs())
                .fold(0.0, f64::max)
        })
        .collect();
    for w in errors.windows(2) {
        let order = (w[0] / w[1]).log2();
        assert!((order - 1.0).abs() < 0.02, "order {order} from {errors:?}");
    }
}

/// The reverse chain `x_{i−1} = x_i + β_i s + √β_i η` run by the crate has the exact moments of
/// the linear recursion, and so does the seed's `x_i − β_i s + √β_i η` (erratum (a)), whose
/// variance explodes instead of returning to s².
#[test]
fn reverse_chain_matches_its_exact_recursion_and_the_seeds_sign_explodes() {
    let data = gaussian_data();
    let truth = MixtureMarginal::new(ve(), data.clone());
    let chain = SmldChain::new(ve(), 20).unwrap();
    let n = 20_000;
    let start = truth.at(1.0).unwrap().sample(n, 3);
    for (c, what) in [(1.0, "correct"), (-1.0, "seed 000 §3.2.2")] {
        let score = ScaledScore {
            score: &truth,
            factor: c,
        };
        let x = chain
            .reverse(score, start.view(), 4, Record::Final)
            .unwrap();
        let (em, ev) = moments(x.last());
        let v = reverse_chain_variance(&chain, c);
        assert!(
            (ev - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(),
            "{what}: var {ev} vs {v}"
        );
        assert!(
            (em - M).abs() < 5.0 * (v / n as f64).sqrt(),
            "{what}: mean {em}"
        );
    }
    assert!(reverse_chain_variance(&chain, -1.0) > 1e6 * S2);
}

/// As the number of levels grows the reverse chain's output law converges to the data:
/// the exact output variance's error decays like 1/N (fitted order 1 ± 0.1).
#[test]
fn reverse_chain_converges_to_the_data_as_levels_grow() {
    let errors: Vec<f64> = [100, 200, 400, 800]
        .iter()
        .map(|&n| reverse_chain_variance(&SmldChain::new(ve(), n).unwrap(), 1.0) / S2 - 1.0)
        .collect();
    for w in errors.windows(2) {
        let order = (w[0] / w[1]).log2();
        assert!((order - 1.0).abs() < 0.1, "order {order} from {errors:?}");
    }
    // On mixture data the same shows in the KS distance: far off with 2 levels, within
    // sampling error plus the O(1/N) bias (≈ 0.5 % of the spread at N = 1000, by the Gaussian
    // recursion above: allow 0.01) with 1000.
    let data = GaussianMixture::two_modes_1d();
    let truth = MixtureMarginal::new(ve(), data.clone());
    let n = 10_000;
    let start = truth.at(1.0).unwrap().sample(n, 5);
    let ks = |levels| {
        let x = SmldChain::new(ve(), levels)
            .unwrap()
            .reverse(&truth, start.view(), 6, Record::Final)
            .unwrap();
        data.ks_distance(x.last().view()).unwrap()
    };
    let (coarse, fine) = (ks(2), ks(1000));
    assert!(
        fine < 1.95 / (n as f64).sqrt() + 0.01,
        "N = 1000: KS {fine}"
    );
    assert!(coarse > 0.1, "N = 2: KS {coarse}");
}

/// The reverse VE SDE (Euler–Maruyama) and its PF-ODE (Euler) both carry `p_1` back to the data.
/// Tolerance: the 0.1 % KS critical value 1.95/√n plus 0.01 for the O(Δt) bias at 1000 steps.
#[test]
fn reverse_ve_sde_and_pf_ode_recover_the_data() {
    let data = GaussianMixture::two_modes_1d();
    let truth = MixtureMarginal::new(ve(), data.clone());
    let n = 10_000;
    let start = truth.at(1.0).unwrap().sample(n, 7);
    let grid = TimeGrid::uniform(1.0, 0.0, 1000).unwrap();
    let sde = EulerMaruyama
        .solve(
            &ReverseSde::new(ve(), &truth),
            start.view(),
            &grid,
            Noise::Seed(8),
            Record::Final,
        )
        .unwrap();
    let ode = probability_flow(ve(), &truth, start.view(), &grid, Record::Final).unwrap();
    let tol = 1.95 / (n as f64).sqrt() + 0.01;
    for (what, x) in [("reverse SDE", sde.last()), ("PF-ODE", ode.last())] {
        let ks = data.ks_distance(x.view()).unwrap();
        assert!(ks < tol, "{what}: KS {ks} (tolerance {tol})");
    }
}

/// Erratum (b): the mean of many reverse-SDE paths from one start `x_1` is `E[x_t | x_1]`
/// (Tweedie), which ends between the modes; the PF-ODE path from the same start ends in a mode.
#[test]
fn the_pf_ode_is_not_the_mean_of_the_sde_paths() {
    let data = GaussianMixture::two_modes_1d();
    let truth = MixtureMarginal::new(ve(), data.clone());
    let n = 4000;
    let start = Array2::from_elem((n, 1), 3.0);
    let grid = TimeGrid::uniform(1.0, 0.0, 1000).unwrap();
    let sde = EulerMaruyama
        .solve(
            &ReverseSde::new(ve(), &truth),
            start.view(),
            &grid,
            Noise::Seed(9),
            Record::Every(250),
        )
        .unwrap();
    let ode =
        probability_flow(ve(), &truth, start.slice(s![..1, ..]), &grid, Record::Final).unwrap();
    for (t, x) in sde.times.iter().zip(&sde.states) {
        let expected =
            conditional_mean(&ve(), &truth, start.slice(s![..1, ..]), 1.0, *t).unwrap()[[0, 0]];
        let (m, v) = moments(x);
        // 5 standard errors of the mean of n paths, plus 0.02 for Euler–Maruyama's O(Δt) bias
        // (≈ 0.5 % of the spread of 2 at 1000 steps, as for the chain above).
        let tol = 5.0 * (v / n as f64).sqrt() + 0.02;
        assert!(
            (m - expected).abs() < tol,
            "t = {t}: mean {m} vs E[x_t|x_1] = {expected}"
        );
    }
    let mean_end = sde.last().mean().unwrap();
    let ode_end = ode.last()[[0, 0]];
    assert!(
        (ode_end.abs() - 2.0).abs() < 0.5,
        "PF-ODE ends at {ode_end}, not in a mode"
    );
    assert!(
        (ode_end - mean_end).abs() > 1.0,
        "PF-ODE end {ode_end} vs SDE mean {mean_end}"
    );
}

/// Erratum (c): seed 000 §3.6.1's update `x_{i−1} = x_i + ½ β s Δt + √(β Δt) η` (the PF-ODE's ½
/// with the SDE's noise) is the reverse SDE with the score halved. For data `N(m, s²)` on the VE
/// SDE its variance ratio `r = Var/u`, `u = s² + v(t)`, obeys `dr/dτ = g²/u` backwards in time,
/// so it ends at `s² (1 + ln(u_1/s²))` instead of `s²`. Euler–Maruyama's exact linear recursion
/// approaches that limit as Δt → 0, and the simulated particles follow the recursion.
#[test]
fn half_score_with_full_noise_has_the_wrong_marginal() {
    let ve = ve();
    let truth = MixtureMarginal::new(ve, gaussian_data());
    let u1 = S2 + ve.variance(1.0).unwrap();
    let limit = S2 * (1.0 + (u1 / S2).ln());
    let em_variance = |steps: usize| {
        let grid = TimeGrid::uniform(1.0, 0.0, steps).unwrap();
        let mut var = u1;
        for k in 0..steps {
            let (t, dt) = grid.step(k);
            let g2 = ve.g(t).unwrap().powi(2);
            let a = 1.0 - 0.5 * g2 * dt.abs() / (S2 + ve.variance(t).unwrap());
            var = a * a * var + g2 * dt.abs();
        }
        var
    };
    let (coarse, fine) = (em_variance(2000), em_variance(16_000));
    assert!(
        (fine / limit - 1.0).abs() < 0.5 * (coarse / limit - 1.0).abs() + 1e-3,
        "{coarse} {fine} → {limit}"
    );
    assert!((fine / limit - 1.0).abs() < 0.01, "{fine} vs {limit}");
    assert!(limit > 5.0 * S2);

    let n = 10_000;
    let grid = TimeGrid::uniform(1.0, 0.0, 2000).unwrap();
    let half = ReverseSde::new(
        ve,
        ScaledScore {
            score: &truth,
            factor: 0.5,
        },
    );
    let x = EulerMaruyama
        .solve(
            &half,
            truth.at(1.0).unwrap().sample(n, 10).view(),
            &grid,
            Noise::Seed(11),
            Record::Final,
        )
        .unwrap();
    let v = coarse;
    assert!(
        (x.last().var(0.0) - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(),
        "variance {} vs {v}",
        x.last().var(0.0)
    );
}

#[test]
fn bad_inputs_are_errors() {
    assert!(SmldChain::new(ve(), 0)
        .unwrap_err()
        .to_string()
        .contains("levels"));
    let truth = MixtureMarginal::new(ve(), gaussian_data());
    let x = array![[0.0]];
    let e = conditional_mean(&ve(), &truth, x.view(), 0.5, 0.8)
        .unwrap_err()
        .to_string();
    assert!(e.contains("0.8"), "{e}");
}
