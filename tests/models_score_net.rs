//! The candle score network: parameterisations, seeded initialisation, the network as a
//! `Score`, and checkpoints (save/load, shape checks that leave the model unchanged).

use candle_core::Device;
use diffusion_sde::framework::ForwardSde;
use diffusion_sde::models::{
    LearnedScore, Parameterisation, ScoreNet, ScoreNetConfig, TimeEmbedding,
};
use diffusion_sde::prelude::*;

const ALL: [Parameterisation; 4] = [
    Parameterisation::Epsilon,
    Parameterisation::Score,
    Parameterisation::X0,
    Parameterisation::V,
];

/// Each parameterisation's exact target converts back to the conditional score −ε/σ, and a
/// deviation δ of the output moves the score by exactly score_factor·|δ|.
#[test]
fn parameterisations_convert_exactly() {
    let mut rng = rng::seeded(1);
    let x0 = rng::normals(&mut rng, 6, 2);
    let eps = rng::normals(&mut rng, 6, 2);
    for (alpha, sigma) in [(0.9, 0.3), (0.2, 0.98), (1.0, 5.0)] {
        let x_t = &x0 * alpha + &eps * sigma;
        for p in ALL {
            let target = p.target(x0.view(), eps.view(), &[alpha; 6], &[sigma; 6]);
            let s = p.to_score(&target, x_t.view(), alpha, sigma);
            assert!(
                (&s + &(&eps / sigma)).iter().all(|v| v.abs() < 1e-10),
                "{p:?}"
            );
            let delta = rng::normals(&mut rng, 6, 2);
            let moved = p.to_score(&(&target + &delta), x_t.view(), alpha, sigma);
            let c = p.score_factor(alpha, sigma);
            for i in 0..6 {
                let ds = &moved.row(i) - &s.row(i);
                let dd = delta.row(i);
                assert!(
                    (ds.dot(&ds).sqrt() - c * dd.dot(&dd).sqrt()).abs() < 1e-10,
                    "{p:?}"
                );
            }
        }
    }
}

/// Seed 000 A.4's network has the PyTorch model's parameter count (appendix_torch.py: 46 146).
#[test]
fn appendix_network_has_the_reference_size_and_is_seeded() {
    let net = ScoreNet::new(ScoreNetConfig::appendix(), &Device::Cpu, 3).unwrap();
    assert_eq!(net.num_parameters(), 46_146);
    let x = GaussianMixture::appendix_2d().sample(7, 1);
    let out = net.output(x.view(), 0.3).unwrap();
    assert_eq!(out.dim(), (7, 2));
    let same = ScoreNet::new(ScoreNetConfig::appendix(), &Device::Cpu, 3).unwrap();
    assert_eq!(out, same.output(x.view(), 0.3).unwrap());
    let other = ScoreNet::new(ScoreNetConfig::appendix(), &Device::Cpu, 4).unwrap();
    assert_ne!(out, other.output(x.view(), 0.3).unwrap());
    // The output depends on t through every embedding.
    for embedding in [
        TimeEmbedding::Mlp { dim: 8 },
        TimeEmbedding::GaussianFourier { dim: 8, scale: 1.0 },
        TimeEmbedding::Sinusoidal { dim: 8 },
    ] {
        let net = ScoreNet::new(
            ScoreNetConfig {
                embedding,
                ..ScoreNetConfig::appendix()
            },
            &Device::Cpu,
            0,
        )
        .unwrap();
        assert_ne!(
            net.output(x.view(), 0.2).unwrap(),
            net.output(x.view(), 0.8).unwrap(),
            "{embedding:?}"
        );
    }
}

#[test]
fn learned_score_is_the_converted_output() {
    let sde = VpSde::default();
    let x = GaussianMixture::appendix_2d().sample(5, 2);
    for p in ALL {
        let net = ScoreNet::new(
            ScoreNetConfig {
                parameterisation: p,
                ..ScoreNetConfig::appendix()
            },
            &Device::Cpu,
            1,
        )
        .unwrap();
        let (a, s) = sde.marginal_mean_std(0.4).unwrap();
        let expected = p.to_score(&net.output(x.view(), 0.4).unwrap(), x.view(), a, s);
        assert_eq!(
            LearnedScore::new(&net, sde).score(x.view(), 0.4).unwrap(),
            expected
        );
    }
    let net = ScoreNet::new(ScoreNetConfig::appendix(), &Device::Cpu, 1).unwrap();
    let e = LearnedScore::new(&net, sde)
        .score(Array2::<f64>::zeros((4, 3)).view(), 0.4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("d = 2") && e.contains("d = 3"), "{e}");
    assert!(LearnedScore::new(&net, sde).score(x.view(), 1.5).is_err());
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("diffusion_sde_ckpt_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn checkpoints_round_trip_and_bad_ones_leave_the_model_unchanged() {
    let x = GaussianMixture::appendix_2d().sample(6, 1);
    let fourier = ScoreNetConfig {
        embedding: TimeEmbedding::GaussianFourier {
            dim: 16,
            scale: 3.0,
        },
        ..ScoreNetConfig::appendix()
    };
    let a = ScoreNet::new(fourier.clone(), &Device::Cpu, 1).unwrap();
    let path = temp("a.safetensors");
    a.save(&path).unwrap();
    // Another initialisation becomes `a` after loading (the fixed Fourier frequencies too).
    let b = ScoreNet::new(fourier, &Device::Cpu, 2).unwrap();
    assert_ne!(
        a.output(x.view(), 0.5).unwrap(),
        b.output(x.view(), 0.5).unwrap()
    );
    b.load(&path).unwrap();
    assert_eq!(
        a.output(x.view(), 0.5).unwrap(),
        b.output(x.view(), 0.5).unwrap()
    );

    // A checkpoint of another architecture: an error naming the layer, the model unchanged.
    let wide = ScoreNet::new(
        ScoreNetConfig {
            hidden: vec![64, 64, 64],
            ..ScoreNetConfig::appendix()
        },
        &Device::Cpu,
        3,
    )
    .unwrap();
    let other = temp("other.safetensors");
    wide.save(&other).unwrap();
    let c = ScoreNet::new(ScoreNetConfig::appendix(), &Device::Cpu, 4).unwrap();
    let before = c.output(x.view(), 0.5).unwrap();
    let e = c.load(&other).unwrap_err().to_string();
    assert!(
        e.contains("net.layer0.weight") && e.contains("[64, 66]") && e.contains("[128, 66]"),
        "{e}"
    );
    assert!(e.contains("unchanged"), "{e}");
    assert_eq!(c.output(x.view(), 0.5).unwrap(), before);
    // A checkpoint with a missing layer (two hidden layers instead of three).
    let shallow = ScoreNet::new(
        ScoreNetConfig {
            hidden: vec![128, 128],
            ..ScoreNetConfig::appendix()
        },
        &Device::Cpu,
        3,
    )
    .unwrap();
    shallow.save(&other).unwrap();
    let e = c.load(&other).unwrap_err().to_string();
    assert!(e.contains("missing"), "{e}");
    assert_eq!(c.output(x.view(), 0.5).unwrap(), before);

    // A truncated file: an error naming the file, the model unchanged.
    let full = std::fs::read(&path).unwrap();
    let cut = temp("cut.safetensors");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let e = c.load(&cut).unwrap_err().to_string();
    assert!(
        e.contains("cut.safetensors") && e.contains("truncated"),
        "{e}"
    );
    assert_eq!(c.output(x.view(), 0.5).unwrap(), before);
    // No file at all.
    assert!(c.load(temp("absent.safetensors")).is_err());
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[test]
fn bad_architectures_are_errors() {
    let bad = |config: ScoreNetConfig| {
        ScoreNet::new(config, &Device::Cpu, 0)
            .err()
            .map(|e| e.to_string())
    };
    let e = bad(ScoreNetConfig {
        embedding: TimeEmbedding::GaussianFourier { dim: 7, scale: 1.0 },
        ..ScoreNetConfig::appendix()
    })
    .unwrap();
    assert!(e.contains('7') && e.contains("even"), "{e}");
    assert!(bad(ScoreNetConfig {
        embedding: TimeEmbedding::GaussianFourier { dim: 8, scale: 0.0 },
        ..ScoreNetConfig::appendix()
    })
    .is_some());
    assert!(bad(ScoreNetConfig {
        hidden: vec![0],
        ..ScoreNetConfig::appendix()
    })
    .is_some());
    assert!(bad(ScoreNetConfig {
        dim: 0,
        ..ScoreNetConfig::appendix()
    })
    .is_some());
}

/// The training step's gradient by hand (`ScoreNet::regression_loss` on the CPU) is candle's
/// autograd through the same forward pass, bit for bit, for every time embedding, at a batch
/// that `gemm` splits over threads and one it does not; the loss is candle's too.
#[test]
fn hand_written_gradient_is_candles_autograd_bit_for_bit() {
    use diffusion_sde::models::{weighted_mse, DenoisingNet};
    let dev = Device::Cpu;
    let embeddings = [
        TimeEmbedding::Mlp { dim: 64 },
        TimeEmbedding::Sinusoidal { dim: 32 },
        TimeEmbedding::GaussianFourier {
            dim: 16,
            scale: 4.0,
        },
    ];
    for (k, embedding) in embeddings.into_iter().enumerate() {
        let config = ScoreNetConfig {
            embedding,
            hidden: vec![128, 96, 128],
            ..ScoreNetConfig::appendix()
        };
        let net = ScoreNet::new(config, &dev, 3 + k as u64).unwrap();
        for n in [37, 1000] {
            let mut rng = rng::seeded(n as u64);
            let tensor =
                |a: ndarray::Array2<f64>| diffusion_sde::models::to_tensor(a.view(), &dev).unwrap();
            let x = tensor(rng::normals(&mut rng, n, 2) * 2.0);
            let t = tensor(rng::normals(&mut rng, n, 1).mapv(|z| 0.5 + 0.45 * z.tanh()));
            let target = tensor(rng::normals(&mut rng, n, 2));
            let w = tensor(rng::normals(&mut rng, n, 1).mapv(|z| z * z));

            let (loss, grads) = net.regression_loss(&x, &t, None, &target, &w).unwrap();
            let out = net.forward_labelled(&x, &t, None).unwrap();
            let reference_loss = weighted_mse(&out, &target, &w).unwrap();
            let reference = reference_loss.backward().unwrap();

            let bits = |v: &candle_core::Tensor| {
                v.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|f| f.to_bits())
                    .collect::<Vec<_>>()
            };
            let same = |a: Vec<u32>, b: Vec<u32>, what: String| {
                assert_eq!(a.len(), b.len(), "{what}");
                if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
                    panic!(
                        "{what}: element {i} is {} by hand, {} by autograd",
                        f32::from_bits(a[i]),
                        f32::from_bits(b[i])
                    );
                }
            };
            same(
                bits(&loss),
                bits(&reference_loss),
                format!("loss, {embedding:?}, n = {n}"),
            );
            let vars = net.trainable_vars();
            assert!(vars.len() >= 8, "{} variables", vars.len());
            for var in vars {
                let mine = grads
                    .get(var.as_tensor())
                    .expect("every variable has a gradient");
                let theirs = reference.get(var.as_tensor()).unwrap();
                assert_eq!(mine.dims(), theirs.dims());
                same(
                    bits(mine),
                    bits(theirs),
                    format!("{embedding:?}, n = {n}, the {:?} variable", var.dims()),
                );
            }
        }
    }
}

/// The `f32` sampling pass (`output_f32`: the time embedding computed once and folded into the
/// first layer's bias, on a scratch tape) is the network's candle forward pass up to `f32`
/// rounding, for every time embedding, on a strided batch too, at batch sizes that shrink and
/// grow (the scratch buffers are reused).
#[test]
fn folded_sampling_pass_is_the_forward_pass() {
    use diffusion_sde::models::DenoisingNet;
    let dev = Device::Cpu;
    for (k, embedding) in [
        TimeEmbedding::Mlp { dim: 64 },
        TimeEmbedding::Sinusoidal { dim: 32 },
        TimeEmbedding::GaussianFourier {
            dim: 16,
            scale: 4.0,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let config = ScoreNetConfig {
            embedding,
            ..ScoreNetConfig::appendix()
        };
        let net = ScoreNet::new(config, &dev, 11 + k as u64).unwrap();
        let mut rng = rng::seeded(k as u64);
        for (n, t) in [(1024, 0.9), (976, 0.05), (1024, 0.5), (7, 1e-3)] {
            let x = (rng::normals(&mut rng, n, 2) * 1.5).mapv(|v| v as f32);
            let reference = net
                .output(x.mapv(f64::from).view(), t)
                .unwrap()
                .mapv(|v| v as f32);
            let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
            for folded in [net.output_f32(x.view(), t).unwrap(), {
                let wide = ndarray::concatenate![ndarray::Axis(1), x, x];
                net.output_f32(wide.slice(ndarray::s![.., ..2]), t).unwrap()
            }] {
                let worst = (&folded - &reference)
                    .iter()
                    .fold(0f32, |m, v| m.max(v.abs()));
                assert!(
                    worst <= 2e-5 * scale,
                    "{embedding:?}, n = {n}, t = {t}: |Δ| {worst:e} against outputs up to {scale}"
                );
            }
        }
    }
}
