//! The discrete-time samplers against diffusers: `tests/reference/diffusers.json` was written by
//! `tests/reference/make_reference.py` from the published `diffusers` on the crate's VP SDE
//! (diffusers' timestep k is t = (k + 1)/1000; its final step onto ᾱ = 1 is the step to t = 0)
//! with the exact noise prediction of the appendix mixture.
//!
//! - `DDIMScheduler`, η = 0: the crate's [`Ddim`] trajectories to 1e-10;
//! - `DDPMScheduler`: [`Ddim`] with η = 1 has its posterior mean and std at each step to 1e-10,
//!   and whole chains its moments within the noise floor (the noise streams differ);
//! - `UniPCMultistepScheduler` (bh2, order 2): [`ExpPc::unipc`] its trajectories to 1e-10; the
//!   crate's exact-weight [`ExpPc`] differs from it (where: the doc of `exp_pc.rs`).

use std::sync::Arc;

use diffusion_sde::framework::samplers::*;
use diffusion_sde::framework::MixtureMarginal;
use diffusion_sde::prelude::*;
use diffusion_sde::solvers::Solution;
use serde_json::Value;

#[path = "reference/fixtures.rs"]
mod fixtures;
use fixtures::{assert_moments, floats, largest_difference, matrix};

fn setting() -> (Value, VpSde, MixtureMarginal<VpSde>) {
    let fx = fixtures::fixture("diffusers.json");
    let vp = &fx["vp"];
    let sde = VpSde::new(
        vp["beta_min"].as_f64().unwrap(),
        vp["beta_max"].as_f64().unwrap(),
    )
    .unwrap();
    let score = MixtureMarginal::new(sde, GaussianMixture::appendix_2d());
    (fx, sde, score)
}

/// diffusers' timesteps as a schedule: the given times `t_0 > … > t_{N−1}`, then onto `t = 0`.
fn schedule(case: &Value) -> Schedule {
    let times = floats(&case["times"]);
    let n = times.len() - 1;
    assert_eq!(times[n], 0.0);
    let placed = times[..n].to_vec();
    Schedule::new(n)
        .from(placed[0])
        .to(placed[n - 1])
        .spacing(Spacing::Times(Arc::new(placed)))
        .to_zero()
}

/// Runs `sampler` from the fixture's start and asserts every recorded state within 1e-10 of
/// diffusers' trajectory in `case`, and one score evaluation per step; returns the run.
fn assert_follows_diffusers(sampler: &dyn Sampler, steps: usize, case: &Value) -> Solution {
    let (fx, sde, score) = setting();
    let x = matrix(&fx["x_init"]);
    let run = sampler
        .sample(&sde, &score, x.view(), 0, Record::Every(1))
        .unwrap();
    let worst = trajectory_difference(&run, case);
    assert!(
        worst <= 1e-10,
        "{}: largest difference {worst:e}",
        sampler.name()
    );
    assert_eq!(run.nfe, steps);
    run
}

/// The worst difference between a run's recorded states and diffusers' trajectory.
fn trajectory_difference(run: &Solution, case: &Value) -> f64 {
    let theirs = case["trajectory"].as_array().unwrap();
    assert_eq!(run.states.len(), theirs.len());
    run.states
        .iter()
        .zip(theirs)
        .map(|(ours, theirs)| largest_difference(ours, &matrix(theirs)))
        .fold(0.0, f64::max)
}

#[test]
fn ddim_eta_0_follows_diffusers_to_1e_10() {
    let (fx, _, _) = setting();
    let cases = fx["ddim"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let ddim = Ddim {
            schedule: schedule(case),
            eta: 0.0,
        };
        assert_follows_diffusers(&ddim, ddim.schedule.steps, case);
    }
}

#[test]
fn ddpm_step_has_diffusers_posterior_mean_and_std() {
    let (fx, sde, score) = setting();
    let model = Model {
        sde: &sde,
        score: &score,
    };
    for case in fx["ddpm_steps"].as_array().unwrap() {
        let times = floats(&case["times"]);
        let ddpm = Ddim::ddpm_ancestral(times.len() - 1);
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let x = matrix(&step["x"]);
            let (mean, std) = ddpm
                .mean_std(model, x.view(), times[i], times[i + 1])
                .unwrap();
            let worst = largest_difference(&mean, &matrix(&step["mean"]));
            assert!(
                worst <= 1e-10,
                "step {i} of {}: mean differs by {worst:e}",
                times.len() - 1
            );
            let theirs = step["std"].as_f64().unwrap();
            assert!(
                (std - theirs).abs() <= 1e-12 * theirs.max(1e-3),
                "step {i}: std {std} vs {theirs}"
            );
        }
    }
}

#[test]
fn ddpm_chains_match_diffusers_moments() {
    let (fx, sde, score) = setting();
    for (k, case) in fx["ddpm_chains"].as_array().unwrap().iter().enumerate() {
        let count = case["count"].as_u64().unwrap() as usize;
        let x = rng::normals(&mut rng::seeded(60 + k as u64), count, 2);
        let ddpm = Ddim {
            schedule: schedule(case),
            eta: 1.0,
        };
        let out = ddpm
            .sample(&sde, &score, x.view(), 70 + k as u64, Record::Final)
            .unwrap();
        assert_moments(&ddpm.name(), out.last(), case);
    }
}

/// UniPC's rule reproduces diffusers (orders 2 and 3) to 1e-10; the exact weights move the
/// samples by more than 1e-6 (the option is not a no-op).
#[test]
fn unipc_rule_follows_diffusers_to_1e_10_and_exact_weights_differ() {
    let (fx, sde, score) = setting();
    let x = matrix(&fx["x_init"]);
    let cases = fx["unipc"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let order = case["order"].as_u64().unwrap() as usize;
        let unipc = ExpPc::unipc(0).order(order).schedule(schedule(case));
        let run = assert_follows_diffusers(&unipc, unipc.schedule.steps, case);
        let exact = ExpPc {
            weights: Weights::Exact,
            ..unipc.clone()
        };
        let other = exact
            .sample(&sde, &score, x.view(), 0, Record::Final)
            .unwrap();
        let apart = largest_difference(other.last(), run.last());
        assert!(
            apart > 1e-6,
            "{}: exact weights {apart:e} from UniPC's",
            unipc.name()
        );
    }
}

#[test]
fn bad_input_names_the_value() {
    let (_, sde, score) = setting();
    let x = ndarray::Array2::zeros((2, 2));
    let err = |s: &dyn Sampler| {
        s.sample(&sde, &score, x.view(), 0, Record::Final)
            .unwrap_err()
            .to_string()
    };
    for order in [0, 4] {
        let e = err(&ExpPc::unipc(10).order(order));
        assert!(e.contains("order") && e.contains(&order.to_string()), "{e}");
    }
    let e = err(&Ddim::new(-0.1, 10));
    assert!(e.contains("-0.1"), "{e}");
    let rising = Schedule::new(3)
        .from(0.9)
        .to(0.1)
        .spacing(Spacing::Times(Arc::new(vec![0.9, 0.95, 0.5, 0.1])));
    let e = err(&Ddim {
        schedule: rising,
        eta: 0.0,
    });
    assert!(e.contains("0.95"), "{e}");
    let e = err(&ExpPc::new(5).schedule(Schedule::new(5).spacing(Spacing::Karras { rho: 0.0 })));
    assert!(e.contains("rho") && e.contains('0'), "{e}");
}
