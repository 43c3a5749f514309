//! Seed 000 §4.7 against exact answers: the conditional score samples the class's law;
//! imputation is biased against the exact conditional law while the conditional score is not;
//! a time-independent energy gradient samples the wrong law while the noised tilt is exact.

use diffusion_sde::data::GaussianMixture;
use diffusion_sde::framework::samplers::{sample_from_prior, ReverseEulerMaruyama, DEFAULT_EPS};
use diffusion_sde::framework::{MixtureMarginal, VpSde};
use diffusion_sde::metrics::{energy_distance, noise_floor};
use diffusion_sde::rivals::extensions::{
    class_conditional, conditional, coupled_pair, impute, tilt, unobserved, EnergyGuided,
};
use ndarray::array;

/// Bayes: `∇log p_t(x) + ∇log p_t(c | x)` (the posterior's gradient by central differences) is
/// the class-conditional score of the component, and sampling with it reaches the class's law.
#[test]
fn conditional_score_is_bayes_and_samples_the_class() {
    let vp = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let t = 0.3;
    let joint = MixtureMarginal::new(vp, data.clone());
    let p_t = joint.at(t).unwrap();
    let x = array![[0.2, 0.7], [1.0, -0.5], [-0.8, 1.1]];
    for class in 0..3 {
        let exact = class_conditional(vp, &data, class).unwrap();
        let want = diffusion_sde::sde_basics::Score::score(&exact, x.view(), t).unwrap();
        let s = p_t.score(x.view()).unwrap();
        let h = 1e-5;
        for i in 0..x.nrows() {
            for j in 0..2 {
                let (mut a, mut b) = (x.clone(), x.clone());
                a[[i, j]] += h;
                b[[i, j]] -= h;
                let grad = (p_t.log_posterior(a.view()).unwrap()[[i, class]]
                    - p_t.log_posterior(b.view()).unwrap()[[i, class]])
                    / (2.0 * h);
                let bayes = s[[i, j]] + grad;
                assert!((bayes - want[[i, j]]).abs() < 1e-6, "class {class}, row {i}: {bayes} vs {}", want[[i, j]]);
            }
        }
    }
    let class = 2;
    let n = 1000;
    let exact = class_conditional(vp, &data, class).unwrap();
    let x = sample_from_prior(&ReverseEulerMaruyama::new(500), &vp, &exact, n, 2, 3).unwrap();
    let comp = data.component(class).unwrap();
    let ed = energy_distance(x.last().view(), comp.sample(n, 4).view()).unwrap();
    let floor = noise_floor(&comp, n, 10, 5).unwrap();
    assert!(ed < 3.0 * floor.energy_band().1, "class {class}: ED {ed} vs floor {:?}", floor.energy_band());
}

/// The closed-form conditional of a mixture matches rejection from the joint: points whose
/// `x₂` lies in a thin slab around `a`.
#[test]
fn conditional_law_matches_slab_rejection() {
    let pair = coupled_pair();
    let a = 0.25;
    let cond = conditional(&pair, &[1], &[a]).unwrap();
    let joint = pair.sample(1_000_000, 1);
    let slab: Vec<f64> = joint.rows().into_iter().filter(|r| (r[1] - a).abs() < 0.02).map(|r| r[0]).collect();
    let n = slab.len() as f64;
    let mean: f64 = slab.iter().sum::<f64>() / n;
    let want = cond.mean()[0];
    let sd = cond.covariance()[[0, 0]].sqrt();
    assert!(n > 1000.0);
    // five standard errors of a mean (the symmetric slab's width adds a bias of order 0.02², below 0.01)
    assert!((mean - want).abs() < 5.0 * sd / n.sqrt() + 0.01, "slab mean {mean} vs {want}");
    assert!(conditional(&pair, &[2], &[0.0]).is_err());
    assert!(conditional(&pair, &[0, 1], &[0.0, 0.0]).is_err());
}

/// Imputation with the exact joint score lands far from `p(x₁ | x₂ = a)` (energy distance
/// many times the noise floor), while the reverse SDE with the exact conditional score reaches
/// the floor.
#[test]
fn imputation_is_biased_and_the_conditional_score_is_not() {
    let vp = VpSde::default();
    let pair = coupled_pair();
    let a = 0.25;
    let cond = conditional(&pair, &[1], &[a]).unwrap();
    let n = 1500;
    let truth = cond.sample(n, 11);
    let floor = noise_floor(&cond, n, 10, 12).unwrap();
    let joint = MixtureMarginal::new(vp, pair.clone());
    let imputed = impute(&vp, &joint, &[1], &[a], n, 500, DEFAULT_EPS, 13).unwrap();
    assert!(imputed.column(1).iter().all(|&v| v == a), "the observed column ends at a");
    let ed_imputed = energy_distance(unobserved(imputed.view(), &[1]).view(), truth.view()).unwrap();
    let exact = MixtureMarginal::new(vp, cond.clone());
    let fixed = sample_from_prior(&ReverseEulerMaruyama::new(500), &vp, &exact, n, 1, 14).unwrap();
    let ed_fixed = energy_distance(fixed.last().view(), truth.view()).unwrap();
    let (_, hi) = floor.energy_band();
    assert!(ed_imputed > 10.0 * hi, "imputation {ed_imputed} vs floor {hi}");
    assert!(ed_fixed < 3.0 * hi, "conditional score {ed_fixed} vs floor {hi}");
}

/// The tilted mixture is `p e^{−λE}` (log-density differences against the closed form), the
/// reverse SDE with its noised score samples it, and the naive `s_t − λ∇E` at every `t` does not.
#[test]
fn energy_guidance_needs_the_noised_tilt() {
    let vp = VpSde::default();
    let data = GaussianMixture::appendix_2d();
    let (lambda, centre) = (2.0, [1.0, 0.0]);
    let tilted = tilt(&data, lambda, &centre).unwrap();
    let x = array![[0.1, 0.2], [1.0, 1.0], [-1.0, -0.6], [0.5, 2.1]];
    let lt = tilted.log_density(x.view()).unwrap();
    let lp = data.log_density(x.view()).unwrap();
    let energy = x.rows().into_iter().map(|r| 0.5 * ((r[0] - centre[0]).powi(2) + (r[1] - centre[1]).powi(2)));
    let diffs: Vec<f64> = lt.iter().zip(lp.iter()).zip(energy).map(|((a, b), e)| a - b + lambda * e).collect();
    for d in &diffs {
        assert!((d - diffs[0]).abs() < 1e-9, "log p̃ − log p + λE not constant: {diffs:?}");
    }
    let n = 1500;
    let truth = tilted.sample(n, 21);
    let floor = noise_floor(&tilted, n, 10, 22).unwrap();
    let (_, hi) = floor.energy_band();
    let sampler = ReverseEulerMaruyama::new(500);
    let exact = MixtureMarginal::new(vp, tilted.clone());
    let good = sample_from_prior(&sampler, &vp, &exact, n, 2, 23).unwrap();
    let naive = EnergyGuided::new(MixtureMarginal::new(vp, data.clone()), lambda, &centre).unwrap();
    let bad = sample_from_prior(&sampler, &vp, &naive, n, 2, 23).unwrap();
    let ed_good = energy_distance(good.last().view(), truth.view()).unwrap();
    let ed_bad = energy_distance(bad.last().view(), truth.view()).unwrap();
    assert!(ed_good < 3.0 * hi, "noised tilt {ed_good} vs floor {hi}");
    // Five times the floor's upper edge (itself ≈ 2× its mean): P ≤ P(χ²₁ ≥ 10) ≈ 0.16 % under the null.
    assert!(ed_bad > 5.0 * hi, "naive guidance {ed_bad} vs floor {hi}");
    let msg = EnergyGuided::new(MixtureMarginal::new(vp, data.clone()), -1.0, &centre).err().unwrap().to_string();
    assert!(msg.contains("`lambda (λ)` = -1"), "{msg}");
    assert!(tilt(&data, -0.5, &centre).is_err());
    assert_eq!(tilt(&data, 0.0, &centre).unwrap().weights(), data.weights());
}
