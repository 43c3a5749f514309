//! score_sde's composable predictor–corrector sampler and its `discretize()`, checked against
//! the closed forms score_sde's `sde_lib.py`/`sampling.py` imply (score_sde is not on PyPI):
//! SMLD's and DDPM's chains, every predictor × corrector reaching a Gaussian data law with its
//! exact score, and the noise-free last step.

use diffusion_sde::framework::samplers::*;
use diffusion_sde::framework::{MixtureMarginal, SubVpSde, VeSde};
use diffusion_sde::prelude::*;
use diffusion_sde::sde_basics::Diffusion;
use ndarray::{array, Array2, Axis};

#[test]
fn ve_discretize_is_smld_chain_on_score_sde_grid() {
    // score_sde: discrete_sigmas = exp(linspace(log σ_min, log σ_max, N)),
    // G_i = √(σ_i² − σ_{i−1}²), f = 0, at t_i = i/(N − 1).
    let (smin, smax, n) = (0.01_f64, 50.0_f64, 10usize);
    let ve = VeSde::new(smin, smax).unwrap();
    let sigma = |i: usize| (smin.ln() + i as f64 / (n - 1) as f64 * (smax.ln() - smin.ln())).exp();
    let x = array![[0.3, -1.2], [2.0, 0.5]];
    for i in 1..n {
        let t = i as f64 / (n - 1) as f64;
        let (f, g) = ve.discretize(x.view(), t, 1.0 / (n - 1) as f64).unwrap();
        let expected = (sigma(i).powi(2) - sigma(i - 1).powi(2)).sqrt();
        assert!((g - expected).abs() <= 1e-12 * expected, "i = {i}: {g} vs {expected}");
        assert!(f.iter().all(|&v| v == 0.0));
    }
}

#[test]
fn vp_discretize_is_ddpm_chain_and_subvp_is_euler() {
    let vp = VpSde::default();
    let x = array![[0.3, -1.2], [2.0, 0.5]];
    for &(t, dt) in &[(0.5, 1e-3), (0.9, 1e-2), (0.2, 1e-4)] {
        let (f, g) = vp.discretize(x.view(), t, dt).unwrap();
        let beta = g * g;
        // DDPM: √(1 − β) x − x, with 1 − β = exp(−∫ β) over the step ≈ 1 − β(t) dt (score_sde).
        let exact = 1.0 - (-(vp.integrated_beta(t) - vp.integrated_beta(t - dt))).exp();
        assert!((beta - exact).abs() <= 1e-12);
        assert!((beta / (vp.beta(t) * dt) - 1.0).abs() < 20.0 * dt, "β = {beta} at dt = {dt}");
        let want = &x * ((1.0 - beta).sqrt() - 1.0);
        assert!((&f - &want).iter().all(|v| v.abs() < 1e-15));
    }
    let sub = SubVpSde::default();
    let (t, dt) = (0.4, 1e-3);
    let (f, g) = sub.discretize(x.view(), t, dt).unwrap();
    let Diffusion::Scalar(g_t) = sub.diffusion(x.view(), t).unwrap() else {
        panic!("sub-VP has a scalar diffusion")
    };
    assert_eq!(g, g_t * dt.sqrt());
    assert_eq!(f, sub.drift(x.view(), t).unwrap() * dt);
}

fn moments(y: &Array2<f64>) -> (Vec<f64>, Vec<f64>) {
    let mean = y.mean_axis(Axis(0)).unwrap();
    let var = y.var_axis(Axis(0), 1.0);
    (mean.to_vec(), var.to_vec())
}

/// Every predictor × corrector (score_sde's settings: `αᵢ`, noise-free last step) samples a
/// Gaussian data law `N((1, −1), 0.25 I)` with its exact score, on the VP and the VE SDE.
#[test]
fn every_predictor_and_corrector_reaches_the_data_law() {
    let data = GaussianMixture::isotropic(vec![1.0], array![[1.0, -1.0]], 0.25).unwrap();
    let vp = VpSde::default();
    let ve = VeSde::new(0.01, 10.0).unwrap();
    let predictors = [Predictor::EulerMaruyama, Predictor::ReverseDiffusion, Predictor::Ancestral, Predictor::None];
    let correctors = [Corrector::Langevin, Corrector::AnnealedLangevin, Corrector::None];
    for (sde, label) in [(&vp as &dyn ForwardSde, "VP"), (&ve as &dyn ForwardSde, "VE")] {
        let score = MixtureMarginal::new(sde, data.clone());
        for p in predictors {
            for c in correctors {
                if p == Predictor::None && c == Corrector::None {
                    continue;
                }
                // Corrector-only sampling needs more Langevin steps per level, and the annealed
                // step `2 (r σ)²` a larger `r` to mix within them.
                let mut pc = PredictorCorrector::score_sde(p, c, 200);
                if p == Predictor::None {
                    pc.corrector_steps = 4;
                    if c == Corrector::AnnealedLangevin {
                        pc.snr = 0.5;
                    }
                }
                let out = sample_from_prior(&pc, sde, &score, 4000, 2, 11).unwrap();
                let (mean, var) = moments(out.states.last().unwrap());
                let ok = (mean[0] - 1.0).abs() < 0.06
                    && (mean[1] + 1.0).abs() < 0.06
                    && var.iter().all(|v| (v / 0.25 - 1.0).abs() < 0.12);
                assert!(ok, "{label} {}: mean {mean:?}, var {var:?}", pc.name());
            }
        }
    }
}

#[test]
fn noise_free_last_step_returns_the_mean() {
    let data = GaussianMixture::appendix_2d();
    let vp = VpSde::default();
    let score = MixtureMarginal::new(vp, data);
    let x = array![[0.3, -1.2], [2.0, 0.5]];
    for p in [Predictor::EulerMaruyama, Predictor::ReverseDiffusion, Predictor::Ancestral] {
        let mut pc = PredictorCorrector::score_sde(p, Corrector::None, 1);
        let run = |pc: &PredictorCorrector, seed| {
            pc.sample(&vp, &score, x.view(), seed, Record::Final).unwrap().states.pop().unwrap()
        };
        assert_eq!(run(&pc, 1), run(&pc, 2), "{p:?}: the last step adds no noise");
        pc.noise_free_last = false;
        assert_ne!(run(&pc, 1), run(&pc, 2), "{p:?}: with noise it does");
    }
}

#[test]
fn bad_input_names_the_value() {
    let vp = VpSde::default();
    let score = MixtureMarginal::new(vp, GaussianMixture::appendix_2d());
    let x = Array2::zeros((2, 2));
    let none = PredictorCorrector::score_sde(Predictor::None, Corrector::None, 5);
    let err = none.sample(&vp, &score, x.view(), 0, Record::Final).unwrap_err().to_string();
    assert!(err.contains("None, None"), "{err}");
    let snr = PredictorCorrector { snr: -0.5, ..PredictorCorrector::new(5) };
    let err = snr.sample(&vp, &score, x.view(), 0, Record::Final).unwrap_err().to_string();
    assert!(err.contains("-0.5"), "{err}");
}
