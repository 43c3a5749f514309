//! The rivals of chapter 4c as models: the flow's likelihood is the change of variables, the
//! VAE's figures are bounds, the GAN stops on divergence, and bad settings are errors naming
//! the value (seed 000 §4.5).

use candle_core::Device;
use diffusion_sde::data::GaussianMixture;
use diffusion_sde::rivals::compare::Dataset;
use diffusion_sde::rivals::flow::{train_flow, FlowConfig, RealNvp};
use diffusion_sde::rivals::gan::{train_gan, Gan, GanConfig};
use diffusion_sde::rivals::vae::{train_vae, Vae, VaeConfig};
use diffusion_sde::rivals::TrainConfig;
use ndarray::{array, Array2};

fn message<T>(r: diffusion_sde::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

/// A trained flow's `log p(x)` is `log N(f(x); 0, I) + log |det ∂f/∂x|` with the Jacobian's
/// determinant taken numerically (central differences of the forward map, not the layers'
/// triangular formula), its density integrates to 1 over the plane, and the inverse undoes it.
#[test]
fn flow_likelihood_is_the_change_of_variables() {
    let data = Dataset::Ring.mixture().sample(1000, 1);
    let flow = RealNvp::new(FlowConfig::small_2d(), &Device::Cpu, 2).unwrap();
    let log = train_flow(&flow, data.view(), &TrainConfig::new(300, 3)).unwrap();
    assert!(log.losses[log.losses.len() - 1] < log.losses[0] - 0.5, "training lowers the NLL");

    let x = array![[0.3, -0.2], [1.9, 0.1], [-1.4, 1.5], [0.0, 2.0]];
    let (z, log_det) = flow.forward(x.view()).unwrap();
    // Central differences: truncation ~h² f''' (the map is steep, |J| ≈ 30, near the ring's tight
    // modes), f32 rounding ~1e-7·|z|/h; h = 2e-3 keeps both near 1e-4 against the 2e-3 tolerance.
    let h = 2e-3;
    for i in 0..x.nrows() {
        let mut jac = [[0.0; 2]; 2];
        for j in 0..2 {
            let mut plus = x.row(i).to_owned().insert_axis(ndarray::Axis(0));
            let mut minus = plus.clone();
            plus[[0, j]] += h;
            minus[[0, j]] -= h;
            let (zp, _) = flow.forward(plus.view()).unwrap();
            let (zm, _) = flow.forward(minus.view()).unwrap();
            for k in 0..2 {
                jac[k][j] = (zp[[0, k]] - zm[[0, k]]) / (2.0 * h);
            }
        }
        let det = jac[0][0] * jac[1][1] - jac[0][1] * jac[1][0];
        assert!((det.abs().ln() - log_det[i]).abs() < 2e-3, "row {i}: ln|det J| numerically {} vs {}", det.abs().ln(), log_det[i]);
        let want = -0.5 * (z[[i, 0]].powi(2) + z[[i, 1]].powi(2)) - (2.0 * std::f64::consts::PI).ln() + det.abs().ln();
        let got = flow.log_density(x.slice(ndarray::s![i..i + 1, ..])).unwrap()[0];
        assert!((got - want).abs() < 2e-3, "row {i}: log p {got} vs change of variables {want}");
    }

    // ∫ p = 1: midpoint rule on [−4, 4]² with spacing 0.04 (the flow's mass outside is tiny).
    let m = 200;
    let step = 8.0 / m as f64;
    let grid = Array2::from_shape_fn((m * m, 2), |(r, c)| {
        let k = if c == 0 { r / m } else { r % m };
        -4.0 + step * (k as f64 + 0.5)
    });
    let mass: f64 = flow.log_density(grid.view()).unwrap().mapv(f64::exp).sum() * step * step;
    assert!((mass - 1.0).abs() < 0.02, "∫ p = {mass}");

    let back = flow.inverse(z.view()).unwrap();
    let err = (&back - &x).iter().fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(err < 1e-4, "inverse(forward(x)) off by {err}");
}

/// The VAE's ELBO and IWAE are lower bounds: IWAE with one sample is the ELBO, more samples
/// raise it on average, and both stay below the true mixture's log-likelihood (Gibbs: no model
/// beats the truth on average); reconstructions are closer than the data's spread.
#[test]
fn vae_bounds_are_ordered_and_below_the_truth() {
    let mixture = GaussianMixture::appendix_2d();
    let data = mixture.sample(1000, 1);
    let vae = Vae::new(VaeConfig::small_2d(), &Device::Cpu, 2).unwrap();
    let log = train_vae(&vae, data.view(), &TrainConfig::new(800, 3)).unwrap();
    assert!(log.losses.iter().all(|l| l.is_finite()));
    let x = mixture.sample(300, 9);
    let (elbo1, iwae1) = vae.log_likelihood_bounds(x.view(), 1, 5).unwrap();
    let gap = (&elbo1 - &iwae1).iter().fold(0.0f64, |a, b| a.max(b.abs()));
    assert!(gap < 1e-9, "K = 1: IWAE = ELBO, off by {gap}");
    let (elbo, iwae) = vae.log_likelihood_bounds(x.view(), 64, 5).unwrap();
    let truth = mixture.log_density(x.view()).unwrap().mean().unwrap();
    let (e, w) = (elbo.mean().unwrap(), iwae.mean().unwrap());
    assert!(w > e + 0.01, "IWAE_64 {w} should exceed the ELBO {e}");
    // Held-out mean: sd of log p over 300 points ≈ 0.05; 0.1 is two of them, on the safe side.
    assert!(w < truth + 0.1, "IWAE {w} above the true mean log p {truth}");
    let rec = vae.reconstruct(x.view()).unwrap();
    let rmse = ((&rec - &x).mapv(|v| v * v).sum() / x.nrows() as f64).sqrt();
    assert!(rmse < 0.8, "reconstruction RMSE {rmse} (data spread ≈ 1.4)");
    let same = vae.sample(100, 4).unwrap();
    assert_eq!(same, vae.sample(100, 4).unwrap(), "same seed, same samples");
}

#[test]
fn gan_training_stops_on_divergence_naming_the_step() {
    let data = GaussianMixture::appendix_2d().sample(256, 1);
    let gan = Gan::new(GanConfig::small_2d(), &Device::Cpu, 0).unwrap();
    let config = TrainConfig { lr: 1e6, ..TrainConfig::new(50, 1) };
    let msg = message(train_gan(&gan, data.view(), &config));
    assert!(msg.contains("diverged at step") && msg.contains("lr = 1000000"), "{msg}");
    let data_nan = array![[0.0, f64::NAN]];
    assert!(message(train_gan(&gan, data_nan.view(), &TrainConfig::new(5, 1))).contains("non-finite"));
}

#[test]
fn gan_training_is_seeded() {
    let data = GaussianMixture::appendix_2d().sample(300, 1);
    let run = || {
        let gan = Gan::new(GanConfig::small_2d(), &Device::Cpu, 4).unwrap();
        let log = train_gan(&gan, data.view(), &TrainConfig::new(30, 2)).unwrap();
        (log.discriminator, gan.sample(50, 3).unwrap())
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert!(a.0.iter().all(|l| l.is_finite() && *l > 0.0));
}

#[test]
fn bad_hyper_parameters_are_errors_naming_the_value() {
    let cpu = Device::Cpu;
    let data = GaussianMixture::appendix_2d().sample(64, 1);
    let flat = FlowConfig { dim: 1, ..FlowConfig::small_2d() };
    assert!(message(RealNvp::new(flat, &cpu, 0)).contains("`dim` = 1"));
    let none = FlowConfig { layers: 0, ..FlowConfig::small_2d() };
    assert!(message(RealNvp::new(none, &cpu, 0)).contains("`layers` = 0"));
    let narrow = GanConfig { hidden: vec![64, 0], ..GanConfig::small_2d() };
    assert!(message(Gan::new(narrow, &cpu, 0)).contains("`hidden` = [64, 0]"));
    let vae = VaeConfig { latent: 0, ..VaeConfig::small_2d() };
    assert!(message(Vae::new(vae, &cpu, 0)).contains("latent"));
    let gan = Gan::new(GanConfig::small_2d(), &cpu, 0).unwrap();
    for lr in [0.0, -1e-3, f64::NAN] {
        let m = message(train_gan(&gan, data.view(), &TrainConfig { lr, ..TrainConfig::new(5, 0) }));
        assert!(m.contains("`lr`"), "{m}");
    }
    let zero_batch = TrainConfig { batch: 0, ..TrainConfig::new(5, 0) };
    let flow = RealNvp::new(FlowConfig::small_2d(), &cpu, 0).unwrap();
    assert!(message(train_flow(&flow, data.view(), &zero_batch)).contains("`batch` = 0"));
    let wide = array![[0.0, 1.0, 2.0]];
    assert!(message(train_flow(&flow, wide.view(), &TrainConfig::new(5, 0))).contains("dimension 3"));
}
