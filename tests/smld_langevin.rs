//! Langevin dynamics (seed 000 §3.1.2) and annealed Langevin dynamics (NCSN, seed 001 §3.1.1).

use diffusion_sde::framework::VeSde;
use diffusion_sde::prelude::*;
use diffusion_sde::smld::{mode_weights, AnnealedLangevin, Langevin};
use rand::Rng as _;

/// Two far-apart modes with unequal weights: `0.8 N(−4, 0.5²) + 0.2 N(4, 0.5²)`.
fn unequal_modes() -> GaussianMixture {
    GaussianMixture::isotropic(vec![0.8, 0.2], array![[-4.0], [4.0]], 0.25).unwrap()
}

fn uniform_start(n: usize, seed: u64) -> Array2<f64> {
    let mut r = rng::seeded(seed);
    Array2::from_shape_simple_fn((n, 1), || r.random_range(-8.0..8.0))
}

/// The NCSN ladder used below: σ from 10 down to 0.1 in 10 geometric levels, 500 steps each,
/// ε/σ_min² = 0.05 (so ULA's own variance inflation ε/(2v) stays ≤ 2.5 %) and 25 relaxation
/// times `v = σ²` per level.
fn ncsn() -> (VeSde, AnnealedLangevin) {
    let ve = VeSde::new(0.1, 10.0).unwrap();
    (ve, AnnealedLangevin::new(ve, 10, 500, 5e-4).unwrap())
}

/// The seed's claim that Langevin "converges to the target" fails for separated modes: from a
/// uniform start each particle stays in the basin it starts in, so plain Langevin reports the
/// weights of the start (½, ½), not 0.8/0.2. Annealed Langevin crosses at large σ, where the modes
/// merge, and recovers the weights.
#[test]
fn annealed_langevin_recovers_mode_weights_that_plain_langevin_misses() {
    let data = unequal_modes();
    let (ve, annealed) = ncsn();
    let truth = MixtureMarginal::new(ve, data.clone());
    let n = 2000;
    let x0 = uniform_start(n, 1);
    let means = data.means().view();

    let plain = Langevin::new(0.01, 2000).unwrap();
    let w_plain = mode_weights(
        plain.sample(&truth, 0.0, x0.view(), 2).unwrap().view(),
        means,
    )
    .unwrap();
    let w_annealed =
        mode_weights(annealed.sample(&truth, x0.view(), 3).unwrap().view(), means).unwrap();

    // Binomial standard error of a weight estimated from n samples; 4 of them.
    let tol = 4.0 * (0.8 * 0.2 / n as f64).sqrt();
    assert!(
        (w_annealed[0] - 0.8).abs() < tol,
        "annealed: {w_annealed:?} (tolerance {tol})"
    );
    // Plain Langevin keeps the uniform start's split: the fraction of starts left of 0.
    let start_left = x0.iter().filter(|v| **v < 0.0).count() as f64 / n as f64;
    assert!(
        (w_plain[0] - start_left).abs() < tol,
        "plain: {w_plain:?} vs start {start_left}"
    );
    assert!((w_plain[0] - 0.8).abs() > 0.2, "plain: {w_plain:?}");
}

/// Unadjusted Langevin on `N(μ, s²)` is the AR(1) chain `x − μ ← (1 − ε/s²)(x − μ) + √(2ε) z`,
/// whose stationary variance is `s² / (1 − ε/(2s²))`, not `s²`: the "unadjusted" bias, O(ε).
#[test]
fn langevin_on_a_gaussian_has_the_ula_stationary_law() {
    let (mu, s2) = (1.5, 0.5);
    let target = GaussianMixture::gaussian(array![mu], array![[s2]]).unwrap();
    let truth = MixtureMarginal::new(VeSde::new(0.01, 1.0).unwrap(), target);
    let n = 20_000;
    for eps in [0.05, 0.4] {
        // 1000 steps: the start's offset decays like (1 − ε/s²)^1000 < 1e-40.
        let x = Langevin::new(eps, 1000)
            .unwrap()
            .sample(&truth, 0.0, Array2::zeros((n, 1)).view(), 9)
            .unwrap();
        let v = s2 / (1.0 - eps / (2.0 * s2));
        // Gaussian samples: SE of the variance v√(2/n), of the mean √(v/n); 5 of each.
        assert!(
            (x.var(0.0) - v).abs() < 5.0 * v * (2.0 / n as f64).sqrt(),
            "ε = {eps}: variance {} vs {v}",
            x.var(0.0)
        );
        assert!((x.mean().unwrap() - mu).abs() < 5.0 * (v / n as f64).sqrt());
    }
}

/// Steps beyond the stability limit ε < 2s² are errors naming the step, both when the chain
/// overflows and when it only grows geometrically (still finite); stable runs are not flagged,
/// including ones started far out or at a single point.
#[test]
fn divergent_step_sizes_are_reported_not_returned() {
    let target = GaussianMixture::gaussian(array![0.0], array![[1.0]]).unwrap();
    let truth = MixtureMarginal::new(VeSde::new(0.01, 1.0).unwrap(), target);
    let x0 = Array2::from_elem((100, 1), 1.0);
    // |1 − ε| = 1.5: ~1.5^150 ≈ 1e26 of growth over the second half, still finite.
    let e = Langevin::new(2.5, 300)
        .unwrap()
        .sample(&truth, 0.0, x0.view(), 1)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`step` = 2.5") && e.contains("diverged") && e.contains("grew"),
        "{e}"
    );
    // |1 − ε| = 4: overflows after ~512 steps.
    let e = Langevin::new(5.0, 2000)
        .unwrap()
        .sample(&truth, 0.0, x0.view(), 1)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`step` = 5") && e.contains("finite range"),
        "{e}"
    );
    // Stable: just below the limit, from far out, and from a point.
    for (eps, start) in [(1.9, 1.0), (0.1, 1e4), (1e-4, 0.0)] {
        let x0 = Array2::from_elem((100, 1), start);
        assert!(
            Langevin::new(eps, 500)
                .unwrap()
                .sample(&truth, 0.0, x0.view(), 2)
                .is_ok(),
            "ε = {eps} from {start} was flagged"
        );
    }
    // Annealed: the last level's step ε = 1 is too large for the data's s² = 0.25.
    let data = unequal_modes();
    let ve = VeSde::new(0.1, 10.0).unwrap();
    let e = AnnealedLangevin::new(ve, 5, 200, 1.0)
        .unwrap()
        .sample(
            MixtureMarginal::new(ve, data),
            uniform_start(50, 3).view(),
            4,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("level") && e.contains("diverged"), "{e}");
}

#[test]
fn annealing_ladder_is_geometric_with_steps_proportional_to_sigma_squared() {
    let (_, annealed) = ncsn();
    let sigmas = annealed.sigmas().unwrap();
    let steps = annealed.steps().unwrap();
    assert!((sigmas[0] - 10.0).abs() < 1e-12 && (sigmas[9] - 0.1).abs() < 1e-12);
    let ratio = sigmas[1] / sigmas[0];
    for (k, w) in sigmas.windows(2).enumerate() {
        assert!((w[1] / w[0] - ratio).abs() < 1e-12, "level {k}");
    }
    for (s, e) in sigmas.iter().zip(&steps) {
        assert!((e / (s * s) - 5e-4 / 0.01).abs() < 1e-12, "ε/σ² at σ = {s}");
    }
}

#[test]
fn same_seed_same_samples_and_bad_parameters_are_errors() {
    let (ve, annealed) = ncsn();
    let truth = MixtureMarginal::new(ve, unequal_modes());
    let x0 = uniform_start(10, 5);
    let a = annealed.sample(&truth, x0.view(), 6).unwrap();
    let b = annealed.sample(&truth, x0.view(), 6).unwrap();
    assert_eq!(a, b);
    for (step, steps, named) in [
        (0.0, 10, "step"),
        (-1.0, 10, "-1"),
        (f64::NAN, 10, "NaN"),
        (0.1, 0, "steps"),
    ] {
        let e = Langevin::new(step, steps).unwrap_err().to_string();
        assert!(e.contains(named), "{e}");
    }
    let e = AnnealedLangevin::new(ve, 1, 10, 0.1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("levels"), "{e}");
    assert!(mode_weights(x0.view(), array![[0.0, 1.0]].view()).is_err());
}
