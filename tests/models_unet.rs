//! The class-conditional U-Net on the 8×8 digits (seed 002 §5.1, §6): shapes, the skip
//! connections, training through the one DSM loop, classifier-free guidance, input checks,
//! and the shipped checkpoint's samples.

use candle_core::{DType, Device, Tensor};
use diffusion_sde::data::digits::{self, nearest_mean, Digits};
use diffusion_sde::framework::dsm::{dsm_loss, train_dsm_conditional, Batch, DsmConfig, Weighting};
use diffusion_sde::framework::guidance::{sample_classes, ClassifierFree};
use diffusion_sde::framework::samplers::DpmSolverPP2M;
use diffusion_sde::framework::ScheduledVpSde;
use diffusion_sde::models::{DenoisingNet, LearnedScore, UNet, UNetConfig};
use diffusion_sde::prelude::*;

fn net(seed: u64) -> UNet {
    UNet::new(UNetConfig::digits(), &Device::Cpu, seed).unwrap()
}

/// Labels of a mixed batch: `None` is the null label `∅`.
const LABELS: &[Option<usize>] = &[Some(0), Some(3), Some(9), None, Some(2)];

fn data() -> Digits {
    digits::load_default().unwrap()
}

#[test]
fn the_shipped_digits_load_with_their_labels_and_range() {
    let d = data();
    assert_eq!(d.len(), 1797);
    assert_eq!(d.images.ncols(), 64);
    assert!(d.images.iter().all(|v| (-1.0..=1.0).contains(v)));
    // Every class is there, 174 to 183 images each (the UCI test set's counts).
    for c in 0..10 {
        let n = d.of_class(c).unwrap().nrows();
        assert!((174..=183).contains(&n), "class {c}: {n}");
    }
    // The training-free classifier of the sample test: nearest class mean on the real
    // digits is right far above chance (≈ 90 %).
    let hits = nearest_mean(&d.class_means().unwrap(), d.images.view())
        .unwrap()
        .iter()
        .zip(&d.labels)
        .filter(|(a, b)| a == b)
        .count();
    assert!(hits as f64 > 0.85 * d.len() as f64, "{hits}/{}", d.len());
}

#[test]
fn shapes_of_flattened_and_image_batches() {
    let u = net(0);
    let x = rng::normals(&mut rng::seeded(1), 5, 64);
    let out = u.output_per_row(x.view(), 0.5, LABELS).unwrap();
    assert_eq!(out.dim(), (5, 64));
    assert!(out.iter().all(|v| v.is_finite()));
    let imgs = Tensor::zeros((2, 1, 8, 8), DType::F32, &Device::Cpu).unwrap();
    let t = Tensor::full(0.3f32, (2, 1), &Device::Cpu).unwrap();
    assert_eq!(
        u.forward_images(&imgs, &t, None).unwrap().dims(),
        &[2, 1, 8, 8]
    );
    // Unconditional (null label) output through the crate's Score interface.
    let s = LearnedScore::new(&u, ScheduledVpSde::cosine());
    assert_eq!(s.score(x.view(), 0.5).unwrap().dim(), (5, 64));
    // Same seed, same network; another seed, another one.
    assert_eq!(out, net(0).output_per_row(x.view(), 0.5, LABELS).unwrap());
    assert_ne!(out, net(1).output_per_row(x.view(), 0.5, LABELS).unwrap());
}

/// The full-resolution skip (the first block's features concatenated into the last
/// up-block) carries signal: cutting it — zeroing the weights that read it — changes the output.
#[test]
fn the_full_resolution_skip_connection_matters() {
    let u = net(2);
    let x = data().images.slice(s![..8, ..]).to_owned();
    let before = u.output_labelled(x.view(), 0.2, None).unwrap();
    let c = u.config().channels;
    {
        let vars = u.varmap().data().lock().unwrap();
        for name in ["up.0.conv1.weight", "up.0.skip.weight"] {
            let w = vars[name].as_tensor().clone();
            // Input channels: [upsampled 2c | skip c].
            let kept = w.narrow(1, 0, 2 * c).unwrap();
            let cut = w.narrow(1, 2 * c, c).unwrap().zeros_like().unwrap();
            vars[name]
                .set(&Tensor::cat(&[&kept, &cut], 1).unwrap())
                .unwrap();
        }
    }
    let after = u.output_labelled(x.view(), 0.2, None).unwrap();
    let change = (&after - &before).mapv(|v| v * v).sum().sqrt();
    let size = before.mapv(|v| v * v).sum().sqrt();
    assert!(
        change > 0.05 * size,
        "cutting the skip changed ‖o‖ = {size} by {change}"
    );
}

/// A few steps of the one DSM loop lower the ε-MSE on a small batch, measured with the same
/// `(t, ε)` draws before and after (so the comparison has no draw noise).
#[test]
fn a_few_training_steps_reduce_the_loss() {
    let d = data();
    let x = d.images.slice(s![..32, ..]).to_owned();
    let labels = &d.labels[..32];
    let u = net(3);
    let sde = ScheduledVpSde::cosine();
    let loss = |u: &UNet| {
        dsm_loss(
            &LearnedScore::new(u, sde),
            &sde,
            x.view(),
            Weighting::SigmaSquared,
            1e-3,
            4,
            9,
        )
        .unwrap()
    };
    let before = loss(&u);
    let config = DsmConfig {
        lr: 3e-3,
        batch: Batch::Full,
        ..DsmConfig::new(60, 4)
    };
    let log = train_dsm_conditional(&u, &sde, x.view(), labels, 0.5, &config).unwrap();
    assert_eq!(log.losses.len(), 60);
    let after = loss(&u);
    // Untrained, the ε-MSE is ≈ E‖ε‖² = 64 or more; 60 full-batch steps remove well over a
    // third of it.
    assert!(before > 50.0, "before {before}");
    println!("loss before {before}, after {after}");
    assert!(after < 0.65 * before, "before {before}, after {after}");
}

#[test]
fn guidance_weight_zero_is_the_conditional_model_and_the_seed_scale_is_one_plus_w() {
    let u = net(5);
    let sde = ScheduledVpSde::cosine();
    let x = rng::normals(&mut rng::seeded(6), 6, 64);
    let t = 0.4;
    let (_, sigma) = sde.marginal_mean_std(t).unwrap();
    let eps = |y: Option<usize>| u.output_labelled(x.view(), t, y).unwrap();
    let (cond, uncond) = (eps(Some(7)), eps(None));
    let close = |a: &Array2<f64>, b: &Array2<f64>| {
        let e = (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            e < 1e-4 * b.iter().fold(1.0f64, |m, v| m.max(v.abs())),
            "{e}"
        );
    };
    let g0 = ClassifierFree::new(LearnedScore::new(&u, sde), 7, 0.0).unwrap();
    close(&g0.score(x.view(), t).unwrap(), &(&cond / -sigma));
    // Seed 002 §6: ε_∅ + s (ε_y − ε_∅) with s = 1 + w.
    let w = 2.5;
    let seed_line = &uncond + &((&cond - &uncond) * (1.0 + w));
    let g = ClassifierFree::new(LearnedScore::new(&u, sde), 7, w).unwrap();
    close(&g.score(x.view(), t).unwrap(), &(&seed_line / -sigma));
    // And guidance changes the score (the conditional and null outputs differ).
    assert!((&cond - &uncond).iter().any(|v| v.abs() > 1e-3));
}

fn err<T>(r: Result<T>) -> String {
    r.map(|_| ()).unwrap_err().to_string()
}

#[test]
fn bad_inputs_are_errors_naming_the_value() {
    let u = net(0);
    let sde = ScheduledVpSde::cosine();
    // Images of the wrong size.
    let e = err(u.output_labelled(Array2::zeros((2, 63)).view(), 0.5, None));
    assert!(e.contains("8×8") && e.contains("63"), "{e}");
    let e = err(UNet::new(
        UNetConfig {
            side: 6,
            ..UNetConfig::digits()
        },
        &Device::Cpu,
        0,
    ));
    assert!(e.contains("side") && e.contains('6'), "{e}");
    // Labels ≥ 10 (the null label is `None`, index 10 inside the network).
    let e = err(u.output_labelled(Array2::zeros((1, 64)).view(), 0.5, Some(11)));
    assert!(e.contains("11"), "{e}");
    let e = err(ClassifierFree::new(LearnedScore::new(&u, sde), 10, 1.0));
    assert!(e.contains("label") && e.contains("10"), "{e}");
    // Non-finite guidance weight.
    let e = err(ClassifierFree::new(LearnedScore::new(&u, sde), 3, f64::NAN));
    assert!(e.contains("guidance") && e.contains("NaN"), "{e}");
    let e = err(ClassifierFree::new(
        LearnedScore::new(&u, sde),
        3,
        f64::INFINITY,
    ));
    assert!(e.contains("inf"), "{e}");
    // Training data outside [−1, 1] (e.g. the raw 0..16 counts) and labels out of range.
    let raw = Array2::from_elem((4, 64), 16.0);
    let cfg = DsmConfig::new(1, 0);
    let e = err(train_dsm_conditional(
        &u,
        &sde,
        raw.view(),
        &[0; 4],
        0.1,
        &cfg,
    ));
    assert!(e.contains("[−1, 1]") && e.contains("16"), "{e}");
    let ok = Array2::zeros((4, 64));
    let e = err(train_dsm_conditional(
        &u,
        &sde,
        ok.view(),
        &[0, 1, 12, 3],
        0.1,
        &cfg,
    ));
    assert!(e.contains("12"), "{e}");
    let e = err(train_dsm_conditional(
        &u,
        &sde,
        ok.view(),
        &[0, 1],
        0.1,
        &cfg,
    ));
    assert!(e.contains("2 labels"), "{e}");
    let e = err(Digits::of_class(&data(), 10));
    assert!(e.contains("10"), "{e}");
}

/// The shipped checkpoint (`data/digits_unet.safetensors`, see data/README.md) loads and its
/// few-step guided samples look like their class to a classifier that was never trained:
/// nearest class mean of the real digits. Chance is 10 %; with 50 samples a 50 % hit rate
/// is 9 standard deviations above it.
#[test]
fn the_shipped_checkpoint_samples_recognisable_digits() {
    let u = net(0);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits_unet.safetensors");
    u.load(&path).unwrap();
    let sde = ScheduledVpSde::cosine();
    let classes: Vec<usize> = (0..10).collect();
    let s = sample_classes(&u, sde, &DpmSolverPP2M::new(10), &classes, 5, 1.0, 11).unwrap();
    assert_eq!(s.images.dim(), (50, 64));
    assert_eq!(s.nfe, 10);
    // In range: the data lie in [−1, 1]; a few-step sampler overshoots a little at the
    // saturated pixels, a broken network or sampler by tens (the untrained network's samples
    // reach ±45). Mean overshoot per pixel `E max(|x| − 1, 0)` (0.015 for the shipped
    // checkpoint) and the largest pixel (1.77):
    let overshoot = s.images.mapv(|v| (v.abs() - 1.0).max(0.0)).mean().unwrap();
    let largest = s.images.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        overshoot < 0.05 && largest < 2.5,
        "overshoot {overshoot}, largest |x| {largest}"
    );
    let means = data().class_means().unwrap();
    let hits = nearest_mean(&means, s.images.view())
        .unwrap()
        .iter()
        .zip(&s.labels)
        .filter(|(a, b)| a == b)
        .count();
    assert!(hits >= 25, "nearest-class-mean agrees on {hits}/50");
}
