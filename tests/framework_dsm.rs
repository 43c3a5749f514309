//! Seed 001 §3.2.1's proposition (the minimiser of denoising score matching is the score of
//! p_t), checked on the appendix mixture whose ∇log p_t is known in closed form.

use candle_core::Device;
use diffusion_sde::framework::dsm::{
    dsm_loss, score_error, train_dsm, Batch, DsmConfig, Weighting,
};
use diffusion_sde::models::{LearnedScore, ScoreNet, ScoreNetConfig, TimeEmbedding};
use diffusion_sde::prelude::*;

fn small_net(seed: u64) -> ScoreNet {
    let config = ScoreNetConfig {
        embedding: TimeEmbedding::GaussianFourier {
            dim: 16,
            scale: 2.0,
        },
        hidden: vec![64, 64],
        ..ScoreNetConfig::appendix()
    };
    ScoreNet::new(config, &Device::Cpu, seed).unwrap()
}

fn mean_error(score: &dyn Score, truth: &MixtureMarginal<VpSde>) -> f64 {
    let times: Vec<f64> = (1..=10).map(|k| k as f64 / 10.0).collect();
    let e = score_error(
        score,
        truth,
        |t, n, s| Ok(truth.at(t)?.sample(n, s)),
        &times,
        2000,
        5,
    )
    .unwrap();
    e.iter().map(|(_, v)| v).sum::<f64>() / e.len() as f64
}

/// The true score has the smallest DSM loss: the loss of other scores exceeds it (same draws
/// of (t, ε) for all, so the comparison has no noise from the draws).
#[test]
fn the_true_score_minimises_the_dsm_loss() {
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let truth = MixtureMarginal::new(sde, data.clone());
    let x = data.sample(2000, 1);
    let shifted = MixtureMarginal::new(
        sde,
        GaussianMixture::isotropic(
            vec![1.0 / 3.0; 3],
            array![[1.2, 1.0], [-1.0, -1.0], [0.0, 2.0]],
            0.1,
        )
        .unwrap(),
    );
    let shrunk = ScoreFn(|x: ArrayView2<f64>, t: f64| Ok(truth.score(x, t)? * 0.9));
    for w in [Weighting::SigmaSquared, Weighting::Likelihood] {
        let best = dsm_loss(&truth, &sde, x.view(), w, 1e-3, 3, 7).unwrap();
        for other in [&shifted as &dyn Score, &shrunk] {
            let l = dsm_loss(other, &sde, x.view(), w, 1e-3, 3, 7).unwrap();
            assert!(l > best, "{w:?}: {l} ≤ {best}");
        }
    }
}

/// Training a small network (2 → 16 Fourier features, 2×64 SiLU, ε-prediction, σ² weighting)
/// for 600 full-batch Adam steps on 1000 points: its relative L2 error against the analytic
/// score, averaged over t = 0.1, 0.2, …, 1 (x ~ p_t, 2000 draws per t), is below 0.2 — from ≈ 1
/// untrained. (Measured: 0.10. Below t = 0.1 the score sharpens like 1/σ and this short run
/// is far less accurate; the notebook plots the whole curve.) Its DSM loss then exceeds the
/// true score's by less than a tenth of the untrained excess.
#[test]
fn trained_network_approximates_the_true_score() {
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let truth = MixtureMarginal::new(sde, data.clone());
    let x = data.sample(1000, 1);
    let net = small_net(0);
    let untrained = mean_error(&LearnedScore::new(&net, sde), &truth);
    let eval = data.sample(500, 9);
    let loss = |s: &dyn Score| {
        dsm_loss(s, &sde, eval.view(), Weighting::SigmaSquared, 1e-3, 2, 11).unwrap()
    };
    let (l_true, l_before) = (loss(&truth), loss(&LearnedScore::new(&net, sde)));
    let log = train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            lr: 3e-3,
            ..DsmConfig::new(600, 2)
        },
    )
    .unwrap();
    assert_eq!(log.losses.len(), 600);
    let learned = LearnedScore::new(&net, sde);
    let trained = mean_error(&learned, &truth);
    assert!(untrained > 0.9, "untrained error {untrained}");
    assert!(trained < 0.2, "trained error {trained}");
    let l_after = loss(&learned);
    assert!(
        l_after - l_true < 0.1 * (l_before - l_true),
        "{l_true} {l_before} {l_after}"
    );
    // The samplers run the network exactly as the closed-form score: from the prior (energy
    // distance ≈ 0.4 to the data) to within 0.05 of the data with this short-trained net
    // (measured 0.015–0.022; with the true score ≈ the floor 2E|X−X'|/n ≈ 0.002).
    use diffusion_sde::framework::samplers::{
        sample_from_prior, ExpPc, ReverseEulerMaruyama, Sampler,
    };
    use diffusion_sde::metrics::energy_distance;
    let fresh = data.sample(2000, 12);
    let prior = sde.prior_sample(2000, 2, &mut rng::seeded(15));
    let ed_prior = energy_distance(prior.view(), fresh.view()).unwrap();
    for s in [
        Box::new(ReverseEulerMaruyama::new(200)) as Box<dyn Sampler>,
        Box::new(ExpPc::new(15)),
    ] {
        let y = sample_from_prior(s.as_ref(), &sde, &learned, 2000, 2, 14).unwrap();
        let ed = energy_distance(y.last().view(), fresh.view()).unwrap();
        assert!(
            ed < 0.05 && ed_prior > 0.3,
            "{}: ED {ed} (prior {ed_prior})",
            s.name()
        );
    }
}

/// The appendix-sized network trained for the appendix's 2000 steps: error below 0.1 on the
/// same times. Slow in debug builds (≈ 1.5 min): `cargo test -- --ignored`.
#[test]
#[ignore]
fn appendix_network_learns_the_score_to_ten_percent() {
    let sde = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let truth = MixtureMarginal::new(sde, data.clone());
    let net = ScoreNet::new(ScoreNetConfig::appendix(), &Device::Cpu, 0).unwrap();
    train_dsm(
        &net,
        &sde,
        data.sample(1000, 1).view(),
        &DsmConfig::new(2000, 2),
    )
    .unwrap();
    let e = mean_error(&LearnedScore::new(&net, sde), &truth);
    assert!(e < 0.1, "{e}");
}

#[test]
fn training_is_seeded_and_minibatches_work() {
    let sde = VpSde::default();
    let x = GaussianMixture::appendix_2d().sample(300, 1);
    let run = |net_seed, seed, batch| {
        let net = small_net(net_seed);
        let log = train_dsm(
            &net,
            &sde,
            x.view(),
            &DsmConfig {
                batch,
                ..DsmConfig::new(30, seed)
            },
        )
        .unwrap();
        (log.losses, net.output(x.view(), 0.5).unwrap())
    };
    let a = run(0, 1, Batch::Full);
    assert_eq!(a, run(0, 1, Batch::Full));
    assert_ne!(a.0, run(0, 2, Batch::Full).0);
    assert_ne!(a.1, run(1, 1, Batch::Full).1);
    let (losses, _) = run(0, 1, Batch::Mini(64));
    assert_eq!(losses.len(), 30);
    assert!(losses.iter().all(|l| l.is_finite()));
}

#[test]
fn bad_input_is_a_clear_error() {
    let sde = VpSde::default();
    let net = small_net(0);
    let x = GaussianMixture::appendix_2d().sample(20, 1);
    let cfg = DsmConfig::new(5, 0);
    let e = train_dsm(&net, &sde, Array2::<f64>::zeros((20, 3)).view(), &cfg)
        .unwrap_err()
        .to_string();
    assert!(e.contains("d = 2") && e.contains("d = 3"), "{e}");
    let e = train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            t_eps: 0.0,
            ..cfg.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("t_eps"), "{e}");
    let e = train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            t_eps: 1.0,
            ..cfg.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("T = 1"), "{e}");
    let e = train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            batch: Batch::Mini(21),
            ..cfg.clone()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("21") && e.contains("20"), "{e}");
    assert!(train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            batch: Batch::Mini(0),
            ..cfg.clone()
        }
    )
    .is_err());
    assert!(train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            lr: 0.0,
            ..cfg.clone()
        }
    )
    .is_err());
    assert!(train_dsm(
        &net,
        &sde,
        x.view(),
        &DsmConfig {
            steps: 0,
            ..cfg.clone()
        }
    )
    .is_err());
    // Data that overflow f32 make the loss infinite: the run stops and names the step.
    let huge = &x * 1e30;
    let e = train_dsm(&net, &sde, huge.view(), &cfg)
        .unwrap_err()
        .to_string();
    assert!(e.contains("step 1 of 5"), "{e}");
}
