//! The improved appendix recipe (issue 21; seed 000 A.9: "the score network's quality directly
//! decides sample quality"): v-prediction, sinusoidal time features, a moving average of the
//! weights and cosine learning-rate decay — and the two training options it added to
//! `framework::dsm` (`DsmConfig::ema`, `DsmConfig::lr_schedule`).

use diffusion_sde::appendix::{self, AppendixConfig, Experiment, Variant};
use diffusion_sde::framework::dsm::{train_dsm, DsmConfig, LrSchedule};
use diffusion_sde::framework::samplers::{ReverseEulerMaruyama, Sampler};
use diffusion_sde::framework::VpSde;
use diffusion_sde::metrics::quality;
use diffusion_sde::models::{self, LearnedScore, ScoreNet, ScoreNetConfig};
use diffusion_sde::solvers::Record;

fn weights(net: &ScoreNet) -> Vec<Vec<f32>> {
    net.trainable_vars()
        .iter()
        .map(|v| {
            v.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        })
        .collect()
}

/// Two steps with `ema = Some(d)` leave the bias-corrected average `(d θ₁ + θ₂) / (1 + d)` in
/// the network — the initial weights `θ₀` not at all — where `θ₁`, `θ₂` are what one and two
/// steps leave without the average (the same seed draws the same batches).
#[test]
fn ema_is_the_bias_corrected_average_of_the_iterates() {
    let cpu = models::device("cpu").unwrap();
    let data = diffusion_sde::data::GaussianMixture::appendix_2d().sample(64, 0);
    let sde = VpSde::default();
    let trained = |steps: usize, ema: Option<f64>| {
        let net = ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 5).unwrap();
        let config = DsmConfig {
            ema,
            ..DsmConfig::new(steps, 7)
        };
        train_dsm(&net, &sde, data.view(), &config).unwrap();
        weights(&net)
    };
    let d = 0.75;
    let (theta1, theta2, avg) = (trained(1, None), trained(2, None), trained(2, Some(d)));
    let theta0 = weights(&ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 5).unwrap());
    let mut moved = 0;
    for (((w1, w2), wa), w0) in theta1.iter().zip(&theta2).zip(&avg).zip(&theta0) {
        for (((&a, &b), &m), &z) in w1.iter().zip(w2).zip(wa).zip(w0) {
            let want = (d as f32 * a + b) / (1.0 + d as f32);
            assert!(
                (m - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{m} vs {want}"
            );
            moved += usize::from(a != z);
        }
    }
    assert!(moved > 1000, "the step moved only {moved} weights");
}

/// The defaults (`ema: None`, `LrSchedule::Constant`) are the plain loop, bit for bit, and a
/// cosine schedule changes the run from its second step on.
#[test]
fn defaults_are_the_plain_loop_and_cosine_changes_the_run() {
    let cpu = models::device("cpu").unwrap();
    let data = diffusion_sde::data::GaussianMixture::appendix_2d().sample(64, 0);
    let sde = VpSde::default();
    let train = |config: &DsmConfig| {
        let net = ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 5).unwrap();
        let log = train_dsm(&net, &sde, data.view(), config).unwrap();
        (log.losses, weights(&net))
    };
    let base = DsmConfig::new(3, 7);
    let explicit = DsmConfig {
        ema: None,
        lr_schedule: LrSchedule::Constant,
        ..base.clone()
    };
    assert_eq!(train(&base), train(&explicit));
    let cosine = train(&DsmConfig {
        lr_schedule: LrSchedule::Cosine,
        ..base.clone()
    });
    let plain = train(&base);
    assert_eq!(
        cosine.0[..2],
        plain.0[..2],
        "steps 1 and 2 see the same weights"
    );
    assert_ne!(cosine.1, plain.1);
    assert_eq!(LrSchedule::Cosine.rate(1e-3, 0, 4000), 1e-3);
    assert!((LrSchedule::Cosine.rate(1e-3, 2000, 4000) - 5e-4).abs() < 1e-15);
    assert!(LrSchedule::Cosine.rate(1e-3, 3999, 4000) < 1e-9);
}

#[test]
fn bad_ema_decay_is_an_error_naming_it() {
    let cpu = models::device("cpu").unwrap();
    let data = diffusion_sde::data::GaussianMixture::appendix_2d().sample(16, 0);
    let net = ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 5).unwrap();
    for d in [1.0, -0.1, f64::NAN] {
        let e = train_dsm(
            &net,
            &VpSde::default(),
            data.view(),
            &DsmConfig {
                ema: Some(d),
                ..DsmConfig::new(2, 1)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("ema"), "{e}");
    }
}

/// Energy distances of the reverse SDE and the PF-ODE (Euler) samples of `variant`.
fn energies(variant: Variant, config: &AppendixConfig) -> (f64, f64) {
    let cpu = models::device("cpu").unwrap();
    let ex = Experiment::new(config).unwrap();
    let r = appendix::run(variant, config, &ex, &cpu, None, &mut |_| {}).unwrap();
    let energy = |name: &str| {
        r.methods
            .iter()
            .find(|m| m.name.contains(name))
            .unwrap_or_else(|| panic!("no {name} run"))
            .quality
            .energy
    };
    (energy("reverse-SDE"), energy("PF-ODE Euler"))
}

/// Issue 21's target at full size, at 2000 samples: the samples' energy distance to fresh
/// data in the noise-floor band (≤ 0.0038, the upper end of two true draws' 0.0016
/// [0.0008, 0.0038]). One seed's value is itself that noisy — the same recipe scatters from
/// 0.0008 to 0.0055 over seeds — so the claim is the mean over seeds 0–9: reverse SDE 0.0029
/// (in the band), PF-ODE (Euler, 1000 steps) 0.0038 (at its upper end, pinned here at
/// ≤ 0.0040; the corrected recipe's PF-ODE is at 0.035). Seeds 0–2 alone give 0.0020 and 0.0041,
/// seeds 3–5 0.0019 and 0.0024: three seeds cannot tell the edge. Minutes in a debug build:
/// `cargo test --release --test appendix_improved -- --ignored`.
#[test]
#[ignore = "full size: 10 × 4000 training steps; run with --release -- --ignored"]
fn improved_recipe_reaches_the_noise_floor() {
    let seeds = 10;
    let (mut sde, mut ode) = (0.0, 0.0);
    for seed in 0..seeds {
        let (s, o) = energies(Variant::Improved, &AppendixConfig::new(seed));
        println!("seed {seed}: reverse SDE {s:.4}, PF-ODE {o:.4}");
        sde += s / seeds as f64;
        ode += o / seeds as f64;
    }
    println!("mean: reverse SDE {sde:.4}, PF-ODE {ode:.4}");
    assert!(sde <= 0.0038, "reverse SDE {sde}");
    assert!(ode <= 0.0040, "PF-ODE {ode}");
}

/// The CI-sized pin of the same claim: one seed (0), the full 4000 training steps, 2000 samples
/// by the reverse SDE alone — its energy distance to fresh data lies in the noise-floor band
/// (≤ 0.0038, the band's upper end at 2000 points), where the corrected recipe at the same
/// 4000 steps stays above it (0.0093 mean over seeds 0–2, `examples/appendix_ablation.rs`).
#[test]
fn improved_recipe_reaches_the_noise_floor_with_one_seed() {
    let cpu = models::device("cpu").unwrap();
    let config = AppendixConfig::new(0);
    let ex = Experiment::new(&config).unwrap();
    let trained =
        appendix::train(Variant::Improved, &config, &ex, &cpu, None, &mut |_| {}).unwrap();
    let sde = VpSde::default();
    let score = LearnedScore::new(&trained.net, sde);
    let samples = ReverseEulerMaruyama::new(config.sampler_steps)
        .sample(&sde, &score, ex.prior.view(), 11, Record::Final)
        .unwrap();
    let q = quality(samples.last().view(), ex.reference.view()).unwrap();
    assert!(
        q.energy <= 0.0038,
        "energy {} above the noise-floor band",
        q.energy
    );
}
