//! The k-diffusion family against the real package: `tests/reference/k_diffusion.json` was
//! written by `tests/reference/make_reference.py` from the published `k-diffusion` (its
//! `sampling.py`, float64 torch) with the exact denoiser of the appendix mixture on the
//! crate's VE SDE (σ_min = 0.01, σ_max = 10). Deterministic samplers (η = 0 for the
//! stochastic ones) must give k-diffusion's trajectories to 1e-10; the stochastic ones
//! (η = 1, different noise streams) its moments within the noise floor. `dpm_fast` and
//! `dpm_adaptive` (its `DPMSolver` class) also give its NFE, and `dpm_adaptive` its accepted
//! steps and rejections.

use std::sync::Arc;

use diffusion_sde::framework::samplers::*;
use diffusion_sde::framework::{MixtureMarginal, VeSde};
use diffusion_sde::prelude::*;
use ndarray::Array2;
use serde_json::Value;

#[path = "reference/fixtures.rs"]
mod fixtures;
use fixtures::{assert_moments, floats, largest_difference, matrix};

fn fixture() -> Value {
    fixtures::fixture("k_diffusion.json")
}

fn setting(fx: &Value) -> (VeSde, MixtureMarginal<VeSde>) {
    let ve = &fx["ve"];
    let sde = VeSde::new(
        ve["sigma_min"].as_f64().unwrap(),
        ve["sigma_max"].as_f64().unwrap(),
    )
    .unwrap();
    (sde, MixtureMarginal::new(sde, GaussianMixture::appendix_2d()))
}

fn on_sigmas(name: &str, eta: f64, sigmas: Vec<f64>) -> KDiffusion {
    let steps = sigmas.len() - 1;
    KDiffusion::by_name(name, steps)
        .unwrap()
        .eta(eta)
        .schedule(Schedule::new(steps).spacing(Spacing::Sigmas(Arc::new(sigmas))))
}

#[test]
fn karras_and_exponential_schedules_match_k_diffusion() {
    let fx = fixture();
    let (sde, _) = setting(&fx);
    let eps = fx["ve"]["t_end"].as_f64().unwrap();
    for case in fx["schedules"].as_array().unwrap() {
        let n = case["n"].as_u64().unwrap() as usize;
        let spacing = match case["kind"].as_str().unwrap() {
            "karras" => Spacing::Karras {
                rho: case["rho"].as_f64().unwrap(),
            },
            _ => Spacing::LogSnr,
        };
        let ours = Schedule::new(n)
            .spacing(spacing)
            .to(eps)
            .to_zero()
            .sigmas(&sde)
            .unwrap();
        let theirs = floats(&case["sigmas"]);
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() <= 1e-12 * b.max(1e-300), "{case}: {a} vs {b}");
        }
    }
}

#[test]
fn deterministic_samplers_follow_k_diffusion_to_1e_10() {
    let fx = fixture();
    let (sde, score) = setting(&fx);
    let x_init = matrix(&fx["x_init"]);
    let cases = fx["deterministic"].as_array().unwrap();
    assert!(cases.len() >= 36);
    for case in cases {
        let name = case["sampler"].as_str().unwrap();
        let sampler = on_sigmas(name, case["eta"].as_f64().unwrap(), floats(&case["sigmas"]));
        let run = sampler
            .sample(&sde, &score, x_init.view(), 0, Record::Every(1))
            .unwrap();
        let theirs = case["trajectory"].as_array().unwrap();
        assert_eq!(run.states.len(), theirs.len(), "{name}");
        let mut worst = 0.0_f64;
        for (ours, theirs) in run.states.iter().zip(theirs) {
            let diff = (ours - &matrix(theirs)).mapv(f64::abs);
            worst = worst.max(diff.fold(0.0, |m: f64, &v| m.max(v)));
        }
        assert!(
            worst <= 1e-10,
            "{} on {} steps: largest difference {worst:e}",
            sampler.name(),
            case["n"]
        );
    }
}

#[test]
fn stochastic_samplers_match_k_diffusion_moments_within_the_noise_floor() {
    let fx = fixture();
    let (sde, score) = setting(&fx);
    for (k, case) in fx["stochastic"].as_array().unwrap().iter().enumerate() {
        let name = case["sampler"].as_str().unwrap();
        let sigmas = floats(&case["sigmas"]);
        let count = case["count"].as_u64().unwrap() as usize;
        let x = diffusion_sde::rng::normals(&mut diffusion_sde::rng::seeded(50 + k as u64), count, 2)
            * sigmas[0];
        let sampler = on_sigmas(name, case["eta"].as_f64().unwrap(), sigmas);
        let out = sampler
            .sample(&sde, &score, x.view(), 7 + k as u64, Record::Final)
            .unwrap();
        assert_moments(name, out.last(), case);
    }
}

#[test]
fn dpm_fast_follows_k_diffusion_to_1e_10_with_its_nfe() {
    let fx = fixture();
    let (sde, score) = setting(&fx);
    let x_init = matrix(&fx["x_init"]);
    let cases = fx["dpm_fast"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let nfe = case["nfe"].as_u64().unwrap() as usize;
        let sampler = DpmFast {
            t_end: fx["ve"]["t_end"].as_f64().unwrap(),
            ..DpmFast::new(nfe)
        };
        let run = sampler
            .sample(&sde, &score, x_init.view(), 0, Record::Every(1))
            .unwrap();
        let theirs = case["trajectory"].as_array().unwrap();
        assert_eq!(run.states.len(), theirs.len(), "{}", sampler.name());
        for (k, (ours, theirs)) in run.states.iter().zip(theirs).enumerate() {
            let worst = largest_difference(ours, &matrix(theirs));
            assert!(worst <= 1e-10, "{}, state {k}: largest difference {worst:e}", sampler.name());
        }
        assert_eq!(run.nfe as u64, case["calls"].as_u64().unwrap(), "{}", sampler.name());
    }
}

/// Same attempts, same accepted steps (their σ̃ to 1e-9 relative, their states to 1e-10),
/// same rejections and NFE as k-diffusion's `sample_dpm_adaptive`, for both orders, default
/// and tight tolerances and a PID controller. (The step sizes come from the error estimate, a
/// difference of two nearly equal states: rounding in the last digit of the states moves them
/// by about 1e-12 relative, hence 1e-9 and not 1e-15.)
#[test]
fn dpm_adaptive_takes_k_diffusion_s_steps() {
    let fx = fixture();
    let (sde, score) = setting(&fx);
    let x_init = matrix(&fx["x_init"]);
    let cases = fx["dpm_adaptive"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let set = &case["settings"];
        let get = |key: &str, default: f64| set.get(key).map_or(default, |v| v.as_f64().unwrap());
        let d = DpmAdaptive::default();
        let sampler = DpmAdaptive {
            order: set["order"].as_u64().unwrap() as usize,
            rtol: get("rtol", d.rtol),
            atol: get("atol", d.atol),
            h_init: get("h_init", d.h_init),
            pcoeff: get("pcoeff", d.pcoeff),
            icoeff: get("icoeff", d.icoeff),
            dcoeff: get("dcoeff", d.dcoeff),
            accept_safety: get("accept_safety", d.accept_safety),
            t_end: fx["ve"]["t_end"].as_f64().unwrap(),
            ..d
        };
        let run = sampler
            .sample(&sde, &score, x_init.view(), 0, Record::Every(1))
            .unwrap();
        let accepted: Vec<&Value> = case["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["accepted"].as_bool().unwrap())
            .collect();
        let info = &case["info"];
        let label = format!("{} {set}", sampler.name());
        assert_eq!(run.states.len(), accepted.len() + 1, "{label}: accepted steps");
        assert_eq!(run.nfe as u64, info["nfe"].as_u64().unwrap(), "{label}");
        assert_eq!(run.nfe as u64, case["calls"].as_u64().unwrap(), "{label}");
        let rejected = run.nfe / sampler.order - accepted.len();
        assert_eq!(rejected as u64, info["n_reject"].as_u64().unwrap(), "{label}");
        assert!(rejected > 0 || label.contains("rtol 0.05"), "{label}: no rejection exercised");
        for (k, theirs) in accepted.iter().enumerate() {
            let (a, s) = sde.marginal_mean_std(run.times[k + 1]).unwrap();
            let sigma = theirs["sigma"].as_f64().unwrap();
            assert!(((s / a) - sigma).abs() <= 1e-9 * sigma, "{label}, step {k}: σ̃ {} vs {sigma}", s / a);
            let worst = largest_difference(&run.states[k + 1], &matrix(&theirs["x"]));
            assert!(worst <= 1e-10, "{label}, step {k}: largest difference {worst:e}");
        }
        let worst = largest_difference(run.last(), &matrix(&case["final"]));
        assert!(worst <= 1e-10, "{label}: final, largest difference {worst:e}");
    }
}

/// `η = 1`: k-diffusion's ancestral variants of dpm_fast and dpm_adaptive, moments of 4000 draws.
#[test]
fn stochastic_dpm_fast_and_adaptive_match_k_diffusion_moments() {
    let fx = fixture();
    let (sde, score) = setting(&fx);
    let t_end = fx["ve"]["t_end"].as_f64().unwrap();
    let s_hi = {
        let (a, s) = sde.marginal_mean_std(1.0).unwrap();
        s / a
    };
    for (k, case) in fx["dpm_stochastic"].as_array().unwrap().iter().enumerate() {
        let name = case["sampler"].as_str().unwrap();
        let eta = case["eta"].as_f64().unwrap();
        let count = case["count"].as_u64().unwrap() as usize;
        let x = diffusion_sde::rng::normals(&mut diffusion_sde::rng::seeded(80 + k as u64), count, 2) * s_hi;
        let sampler: Box<dyn Sampler> = match name {
            "dpm_fast" => Box::new(DpmFast { t_end, ..DpmFast::new(10).eta(eta) }),
            _ => Box::new(DpmAdaptive { t_end, eta, ..DpmAdaptive::default() }),
        };
        let out = sampler.sample(&sde, &score, x.view(), 90 + k as u64, Record::Final).unwrap();
        assert_moments(name, out.last(), case);
    }
}

#[test]
fn bad_input_names_the_value() {
    let fx = fixture();
    let (sde, score) = setting(&fx);
    let x = Array2::zeros((2, 2));
    let err = |s: &KDiffusion| {
        s.sample(&sde, &score, x.view(), 0, Record::Final)
            .unwrap_err()
            .to_string()
    };
    assert!(KDiffusion::by_name("dpmpp_4m", 5).unwrap_err().to_string().contains("dpmpp_4m"));
    assert!(Spacing::by_name("cosine").unwrap_err().to_string().contains("cosine"));
    assert!(err(&KDiffusion::by_name("euler_ancestral", 5).unwrap().eta(1.5)).contains("1.5"));
    let rho = KDiffusion::by_name("euler", 5)
        .unwrap()
        .schedule(Schedule::new(5).spacing(Spacing::Karras { rho: -2.0 }));
    assert!(err(&rho).contains("-2"));
    let lms = KDiffusion::new(KMethod::Lms { order: 6 }, 4);
    assert!(err(&lms).contains('6'));
    let up = on_sigmas("euler", 0.0, vec![5.0, 6.0, 0.0]);
    assert!(err(&up).contains("6"));
    let negative = on_sigmas("euler", 0.0, vec![5.0, 1.0, -0.5]);
    assert!(err(&negative).contains("-0.5"));
    // k-diffusion's DPMSolver pair: the budget, the order, η, the tolerances, a run too long.
    let run = |s: &dyn Sampler| s.sample(&sde, &score, x.view(), 0, Record::Final).unwrap_err().to_string();
    assert!(KDiffusion::by_name("dpm_fast", 5).unwrap_err().to_string().contains("DpmFast"));
    assert!(run(&DpmFast::new(0)).contains("nfe"));
    assert!(run(&DpmFast::new(6).eta(-0.5)).contains("-0.5"));
    assert!(run(&DpmAdaptive::new(4, 0.05, 0.01)).contains('4'));
    assert!(run(&DpmAdaptive::new(3, -0.05, 0.01)).contains("-0.05"));
    let stuck = DpmAdaptive {
        max_attempts: 3,
        ..DpmAdaptive::default()
    };
    assert!(run(&stuck).contains("max_attempts"));
}
