//! The improved appendix recipe (issue 21; seed 000 A.9: "the score network's quality directly
//! decides sample quality"): v-prediction, sinusoidal time features, a moving average of the
//! weights and cosine learning-rate decay — and the two training options it added to
//! `framework::dsm` (`DsmConfig::ema`, `DsmConfig::lr_schedule`).

use diffusion_sde::appendix::{self, AppendixConfig, Experiment, Variant};
use diffusion_sde::framework::dsm::{train_dsm, DsmConfig, LrSchedule};
use diffusion_sde::framework::VpSde;
use diffusion_sde::models::{self, DenoisingNet, ScoreNet, ScoreNetConfig};

fn weights(net: &ScoreNet) -> Vec<Vec<f32>> {
    net.trainable_vars()
        .iter()
        .map(|v| v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

/// One step with `ema = Some(d)` leaves `d θ₀ + (1 − d) θ₁` in the network, `θ₁` being what
/// the same step leaves without the average.
#[test]
fn ema_of_one_step_mixes_the_start_and_the_step() {
    let cpu = models::device("cpu").unwrap();
    let data = diffusion_sde::data::GaussianMixture::appendix_2d().sample(64, 0);
    let sde = VpSde::default();
    let plain = ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 5).unwrap();
    let averaged = ScoreNet::new(ScoreNetConfig::appendix(), &cpu, 5).unwrap();
    let theta0 = weights(&plain);
    let config = DsmConfig::new(1, 7);
    train_dsm(&plain, &sde, data.view(), &config).unwrap();
    let d = 0.75;
    let with_ema = DsmConfig {
        ema: Some(d),
        ..config
    };
    train_dsm(&averaged, &sde, data.view(), &with_ema).unwrap();
    let (theta1, avg) = (weights(&plain), weights(&averaged));
    let mut moved = 0;
    for ((w0, w1), wa) in theta0.iter().zip(&theta1).zip(&avg) {
        for ((&a, &b), &m) in w0.iter().zip(w1).zip(wa) {
            let want = d as f32 * a + (1.0 - d as f32) * b;
            assert!((m - want).abs() <= 1e-6 * (1.0 + want.abs()), "{m} vs {want}");
            moved += usize::from(a != b);
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
    assert_eq!(cosine.0[..2], plain.0[..2], "steps 1 and 2 see the same weights");
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
    (energy("reverse"), energy("Euler"))
}

/// Issue 21's target at full size: the improved recipe's samples sit in the noise-floor band
/// (energy distance ≤ 0.0038 at 2000 samples, the mean over seeds 0, 1, 2) with the reverse
/// SDE and with the PF-ODE. Minutes in a debug build:
/// `cargo test --release --test appendix_improved -- --ignored`.
#[test]
#[ignore = "full size: 3 × 4000 training steps; run with --release -- --ignored"]
fn improved_recipe_reaches_the_noise_floor() {
    let (mut sde, mut ode) = (0.0, 0.0);
    for seed in 0..3 {
        let (s, o) = energies(Variant::Improved, &AppendixConfig::new(seed));
        println!("seed {seed}: reverse SDE {s:.4}, PF-ODE {o:.4}");
        sde += s / 3.0;
        ode += o / 3.0;
    }
    println!("mean: reverse SDE {sde:.4}, PF-ODE {ode:.4}");
    assert!(sde <= 0.0038 && ode <= 0.0038, "{sde} {ode}");
}
