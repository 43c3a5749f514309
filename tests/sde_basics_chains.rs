//! Discrete DDPM / NCSN chains and their SDE limits (seed 003 §1, seed 001 §3.1.1): the
//! chains' exact marginal variances approach the VP / VE closed forms like 1/N (fitted slope),
//! the NCSN chain as written has no error at all, and simulated chains follow the variance
//! recursion.

use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::chains::{
    loglog_slope, variance_errors, DdpmChain, LinearChain, NcsnChain, Update,
};
use diffusion_sde::sde_basics::VeSde;

const STEPS: [usize; 6] = [50, 100, 200, 400, 800, 1600];

fn steps_f64() -> Vec<f64> {
    STEPS.iter().map(|&n| n as f64).collect()
}

fn ve() -> VeSde {
    VeSde::new(0.01, 10.0).unwrap()
}

/// Fitted order of the variance error, for a point start (v0 = 0, the kernel variance) and
/// for a spread start (v0 = 0.5).
fn assert_first_order<C: LinearChain>(
    what: &str,
    chain: impl Fn(usize) -> diffusion_sde::Result<C> + Copy,
) {
    for v0 in [0.0, 0.5] {
        let errors = variance_errors(&STEPS, v0, chain).unwrap();
        let slope = loglog_slope(&steps_f64(), &errors).unwrap();
        assert!(
            (slope + 1.0).abs() < 0.05,
            "{what}, v0 = {v0}: slope {slope}, errors {errors:?}"
        );
        // Not only on average: every doubling of N halves the error (an O(1) floor or a
        // wrong coefficient shows up at the finest grids first).
        for (w, n) in errors.windows(2).zip(STEPS) {
            let ratio = w[0] / w[1];
            assert!(
                (ratio - 2.0).abs() < 0.15,
                "{what}, v0 = {v0}: error({n}) / error({}) = {ratio}",
                2 * n
            );
        }
    }
}

#[test]
fn ddpm_chain_converges_to_the_vp_sde_at_rate_one_over_n() {
    let vp = VpSde::default();
    assert_first_order("DDPM", |n| DdpmChain::new(vp, n, Update::Discrete));
    assert_first_order("DDPM linearised", |n| {
        DdpmChain::new(vp, n, Update::Linearised)
    });
}

#[test]
fn ncsn_chain_is_exact_and_its_linearisation_converges_at_rate_one_over_n() {
    // Σ (σ_i² − σ_{i−1}²) telescopes: the discrete chain has the VE variance at every t_i.
    for &n in &STEPS {
        let err = NcsnChain::new(ve(), n, Update::Discrete)
            .unwrap()
            .variance_error(0.5)
            .unwrap();
        assert!(err < 1e-12 * ve().sigma_max.powi(2), "N = {n}: {err}");
    }
    assert_first_order("NCSN linearised", |n| {
        NcsnChain::new(ve(), n, Update::Linearised)
    });
}

/// Simulates `chain` from N(0, v0) particles and compares the sample variance at every 20th
/// step with the exact recursion. n Gaussian particles: the sample variance has standard
/// error √(2/n) v; allow 5 of them.
fn assert_simulation_follows_recursion(name: &str, chain: &impl LinearChain) {
    let n = 20_000;
    let v0 = 0.5_f64;
    let x0 = rng::normals(&mut rng::seeded(1), n, 1) * v0.sqrt();
    let v = chain.marginal_variance(v0).unwrap();
    let sol = chain.sample(x0.view(), 2, Record::Every(20)).unwrap();
    assert_eq!(sol.times.len(), chain.steps() / 20 + 1);
    for (k, x) in sol.states.iter().enumerate() {
        let target = v[20 * k];
        let got = x.var(0.0);
        assert!(
            (got - target).abs() < 5.0 * target * (2.0 / n as f64).sqrt(),
            "{name} at t = {}: {got} vs {target}",
            sol.times[k]
        );
    }
    // Same seed, same chain.
    let a = chain.sample(x0.view(), 7, Record::Final).unwrap();
    let b = chain.sample(x0.view(), 7, Record::Final).unwrap();
    assert_eq!(a.last(), b.last());
}

#[test]
fn simulated_chains_follow_the_variance_recursion() {
    let ddpm = DdpmChain::new(VpSde::default(), 100, Update::Discrete).unwrap();
    assert_simulation_follows_recursion("DDPM", &ddpm);
    let ncsn = NcsnChain::new(ve(), 100, Update::Discrete).unwrap();
    assert_simulation_follows_recursion("NCSN", &ncsn);
}

#[test]
fn loglog_slope_recovers_a_power_law() {
    let x = [1.0, 2.0, 4.0, 8.0];
    let y: Vec<f64> = x.iter().map(|v: &f64| 3.0 * v.powf(-1.5)).collect();
    assert!((loglog_slope(&x, &y).unwrap() + 1.5).abs() < 1e-12);
}

#[test]
fn bad_input_is_a_clear_error() {
    let vp = VpSde::default();
    let e = DdpmChain::new(vp, 10, Update::Discrete)
        .unwrap_err()
        .to_string();
    assert!(e.contains("steps") && e.contains("β_"), "{e}");
    assert!(DdpmChain::new(vp, 0, Update::Linearised).is_err());
    assert!(NcsnChain::new(ve(), 0, Update::Discrete).is_err());
    let e = VeSde::new(1.0, 0.5).unwrap_err().to_string();
    assert!(e.contains("sigma_max"), "{e}");
    let bad = VeSde {
        sigma_min: -1.0,
        sigma_max: 1.0,
    };
    assert!(NcsnChain::new(bad, 10, Update::Discrete).is_err());
    let chain = DdpmChain::new(vp, 100, Update::Discrete).unwrap();
    assert!(chain.marginal_variance(-1.0).is_err());
    let e = chain.coefficients(0).unwrap_err().to_string();
    assert!(e.contains("`i`") && e.contains("1..=100"), "{e}");
    assert!(chain.coefficients(101).is_err());
    assert!(chain
        .sample(Array2::zeros((0, 1)).view(), 0, Record::Final)
        .is_err());
    assert!(chain
        .sample(array![[f64::NAN]].view(), 0, Record::Final)
        .is_err());
    assert!(loglog_slope(&[1.0, 2.0], &[1.0]).is_err());
    assert!(loglog_slope(&[1.0, 2.0], &[1.0, 0.0]).is_err());
    assert!(loglog_slope(&[2.0, 2.0], &[1.0, 3.0]).is_err());
}
