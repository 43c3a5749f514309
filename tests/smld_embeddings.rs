//! Time embeddings as candle modules (seed 000 §3.6.2).

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap, SGD};
use diffusion_sde::smld::{LearnedEmbedding, RandomFourierEmbedding, SinusoidalEmbedding};

fn times(ts: &[f32]) -> Tensor {
    Tensor::from_vec(ts.to_vec(), (ts.len(), 1), &Device::Cpu).unwrap()
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2().unwrap()
}

/// `[sin(ω_k t), cos(ω_k t)]` with `ω_k = scale · P^{−k/half}`: the values, and each sin/cos pair
/// on the unit circle (every row has norm √(dim/2)).
#[test]
fn sinusoidal_embedding_has_the_transformer_frequencies() {
    let (dim, period, scale) = (8, 10_000.0, 1000.0);
    let emb = SinusoidalEmbedding::new(dim, period, scale, &Device::Cpu).unwrap();
    let ts = [0.0f32, 0.013, 0.5, 1.0];
    let out = rows(&emb.forward(&times(&ts)).unwrap());
    for (t, row) in ts.iter().zip(&out) {
        assert_eq!(row.len(), dim);
        for k in 0..dim / 2 {
            let w = scale * (-period.ln() * k as f64 / (dim / 2) as f64).exp();
            let arg = w * *t as f64;
            // f32 arithmetic on arguments up to 1000: |error| ≲ 1000 · 2⁻²⁴ ≈ 6e-5.
            assert!((row[k] as f64 - arg.sin()).abs() < 2e-4, "t = {t}, k = {k}");
            assert!(
                (row[k + dim / 2] as f64 - arg.cos()).abs() < 2e-4,
                "t = {t}, k = {k}"
            );
        }
        let norm2: f32 = row.iter().map(|v| v * v).sum();
        assert!((norm2 - (dim / 2) as f32).abs() < 1e-4);
    }
}

/// Random Fourier features approximate a Gaussian kernel in t (Rahimi & Recht):
/// `⟨φ(t), φ(t')⟩/(dim/2) = mean_k cos(2π w_k Δ) → exp(−2π² scale² Δ²)`, each term having
/// variance ≤ ½, so the mean over 2000 frequencies is within 5·√(1/(2·2000)) ≈ 0.08.
/// Same seed, same features.
#[test]
fn random_fourier_features_approximate_a_gaussian_kernel() {
    let (dim, scale) = (4000, 2.0);
    let emb = RandomFourierEmbedding::new(dim, scale, 7, &Device::Cpu).unwrap();
    let out = rows(&emb.forward(&times(&[0.3, 0.35, 0.45])).unwrap());
    for (j, delta) in [(1, 0.05f64), (2, 0.15)] {
        let dot: f32 = out[0].iter().zip(&out[j]).map(|(a, b)| a * b).sum();
        let k = dot as f64 / (dim / 2) as f64;
        let expected = (-2.0 * std::f64::consts::PI.powi(2) * scale * scale * delta * delta).exp();
        assert!(
            (k - expected).abs() < 5.0 / (2.0 * (dim / 2) as f64).sqrt(),
            "Δ = {delta}: {k} vs {expected}"
        );
    }
    let again = RandomFourierEmbedding::new(dim, scale, 7, &Device::Cpu).unwrap();
    assert_eq!(rows(&again.forward(&times(&[0.3])).unwrap())[0], out[0]);
    let other = RandomFourierEmbedding::new(dim, scale, 8, &Device::Cpu).unwrap();
    assert_ne!(rows(&other.forward(&times(&[0.3])).unwrap())[0], out[0]);
}

/// The learned embedding is its table at the levels, linear in between, and trainable: one SGD
/// step on a loss moves the output, and only the two neighbouring rows receive gradient.
#[test]
fn learned_embedding_interpolates_a_trainable_table() {
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
    let emb = LearnedEmbedding::new(vb, 5, 3).unwrap();
    let table = rows(emb.table());
    let out = rows(&emb.forward(&times(&[0.0, 0.25, 1.0, 0.375])).unwrap());
    assert_eq!(out[0], table[0]);
    assert_eq!(out[1], table[1]);
    assert_eq!(out[2], table[4]);
    for c in 0..3 {
        let mid = 0.5 * (table[1][c] + table[2][c]);
        assert!((out[3][c] - mid).abs() < 1e-6);
    }
    assert_eq!(vm.all_vars().len(), 1);
    let mut sgd = SGD::new(vm.all_vars(), 0.1).unwrap();
    let loss = emb.forward(&times(&[0.375])).unwrap().sum_all().unwrap();
    sgd.backward_step(&loss).unwrap();
    let after = rows(emb.table());
    // d loss / d row = (1 − λ) = ½ for rows 1 and 2, 0 elsewhere: each entry moves by −0.05.
    for (j, (a, b)) in after.iter().zip(&table).enumerate() {
        for c in 0..3 {
            let expected = if j == 1 || j == 2 { b[c] - 0.05 } else { b[c] };
            assert!((a[c] - expected).abs() < 1e-6, "row {j}, col {c}");
        }
    }
}

#[test]
fn bad_parameters_and_shapes_are_errors() {
    let cpu = Device::Cpu;
    let e = SinusoidalEmbedding::new(7, 1e4, 1.0, &cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dim") && e.contains('7'), "{e}");
    assert!(SinusoidalEmbedding::new(8, 0.5, 1.0, &cpu).is_err());
    assert!(RandomFourierEmbedding::new(8, -1.0, 0, &cpu)
        .unwrap_err()
        .to_string()
        .contains("-1"));
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &cpu);
    assert!(LearnedEmbedding::new(vb, 1, 4)
        .unwrap_err()
        .to_string()
        .contains("levels"));
    let emb = SinusoidalEmbedding::new(8, 1e4, 1.0, &cpu).unwrap();
    let flat = Tensor::zeros(5, DType::F32, &cpu).unwrap();
    assert!(emb
        .forward(&flat)
        .unwrap_err()
        .to_string()
        .contains("(n, 1)"));
}
